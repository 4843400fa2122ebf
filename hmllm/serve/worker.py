"""Background scoring: a fixed number of threads claim queued jobs from the store and run the scorer.

Threads (not processes) because the scorer spends its time in PyTorch/FFmpeg code that releases the
GIL, and the job state lives in SQLite, not in memory: if the server stops, ``JobStore`` requeues
whatever was ``running`` when it opens again, so no job is lost.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hmllm.serve.settings import ServeSettings
from hmllm.serve.store import Job, JobStore

log = logging.getLogger("hmllm.serve")

#: ``scorer(videos, audiences, *, checkpoint, out_dir, cfg) -> list[Path]`` (as ``hmllm.score.score_ads``)
Scorer = Callable[..., list[Path]]


def find_report(out_dir: Path) -> Path | None:
    """The report HTML of a finished job: the shallowest ``index.html`` (else any ``.html``)."""
    for pattern in ("index.html", "*.html"):
        found = sorted(out_dir.rglob(pattern), key=lambda p: (len(p.parts), str(p)))
        if found:
            return found[0]
    return None


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        return
    try:
        os.link(src, dst)  # same file system: no copy of a large video
    except OSError:
        shutil.copyfile(src, dst)


class Worker:
    """Run up to ``settings.workers`` jobs at a time until :meth:`stop`.

    Parameters
    ----------
    store : JobStore
        Where jobs are claimed and finished.
    scorer : callable
        The scoring function (see :data:`Scorer`).
    settings : ServeSettings
        Folders, checkpoint, concurrency and poll period.
    """

    def __init__(self, store: JobStore, scorer: Scorer, settings: ServeSettings) -> None:
        self.store, self.scorer, self.settings = store, scorer, settings
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the worker threads (idempotent)."""
        if self._threads:
            return
        self._stop.clear()
        for i in range(self.settings.workers):
            t = threading.Thread(target=self._loop, name=f"hmllm-serve-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def notify(self) -> None:
        """Wake idle workers now (a job was queued)."""
        self._wake.set()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask the threads to stop after their current job and wait up to ``timeout_s`` seconds."""
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout_s)
        self._threads = []

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.store.claim()
                if job is not None:
                    self.run_job(job)
                    continue
            except Exception:  # noqa: BLE001 - e.g. a locked/full disk: log, back off, keep serving
                log.exception("worker error; retrying in %.1f s", self.settings.poll_interval_s)
            self._wake.wait(self.settings.poll_interval_s)
            self._wake.clear()

    def run_job(self, job: Job) -> None:
        """Score one claimed job and record its outcome (never raises)."""
        out_dir = self.settings.results_dir / job.id
        try:
            videos = []
            for sha in job.upload_ids:
                up = self.store.get_upload(sha)
                if up is None:
                    raise FileNotFoundError(f"upload {sha} is missing from the store")
                # The scorer sees the sanitised original name (reports show it), never a user path.
                video = out_dir / "input" / job.filename
                _link_or_copy(self.settings.data_dir / up.path, video)
                videos.append(video)
            kwargs: dict[str, Any] = {"checkpoint": self.settings.checkpoint, "out_dir": out_dir}
            kwargs["cfg"] = self.settings.score_cfg
            self.scorer(videos, list(job.audiences), **kwargs)
            report = find_report(out_dir)
            if report is None:
                raise FileNotFoundError(f"the scorer wrote no HTML report under {out_dir}")
            self.store.finish(job.id, result_path=report.relative_to(out_dir).as_posix())
            log.info("job %s done", job.id)
        except Exception as exc:  # noqa: BLE001 - any scorer failure becomes the job's error
            log.warning("job %s failed: %s", job.id, exc)
            self.store.finish(job.id, error=f"{type(exc).__name__}: {exc}")
