"""Settings of the upload service, built from the Hydra config (``cfg.serve``) and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hmllm.errors import ConfigError

_SCORERS = ("score", "dryrun")


@dataclass(frozen=True)
class ServeSettings:
    """Everything the app, the store and the worker need; no request can change any of it.

    Attributes
    ----------
    data_dir : Path
        Holds ``jobs.sqlite3``, ``uploads/`` (content-addressed by sha256), ``results/<job>/``.
    max_upload_bytes : int
        Largest accepted request body, bytes (refused with 413 while streaming).
    max_duration_s : float
        Longest accepted ad, s.
    workers : int
        Scoring jobs run concurrently.
    poll_interval_s : float
        Idle worker wake-up period, s.
    max_attempts : int
        Times a job may be started; a job found ``running`` after this many crashes fails.
    checkpoint : Path
        Model checkpoint handed to the scorer.
    audiences : tuple of str or None
        Allowed audience ids; ``None`` reads them from the checkpoint's groups.
    scorer : str
        ``"score"`` (real model) or ``"dryrun"`` (probe-only report, for tests and the bench).
    dryrun_seconds_per_video : float
        Simulated model time per video of the dry-run scorer, s (lets the bench have jobs in flight).
    tokens_file : Path or None
        JSON ``{token-or-"sha256:<hex>": user}``; env ``HMLLM_TOKENS`` adds ``token:user,...``.
    """

    data_dir: Path
    max_upload_bytes: int = 200 * 2**20
    max_duration_s: float = 600.0
    workers: int = 2
    poll_interval_s: float = 1.0
    max_attempts: int = 3
    checkpoint: Path | None = None
    audiences: tuple[str, ...] | None = None
    scorer: str = "score"
    dryrun_seconds_per_video: float = 0.0
    tokens_file: Path | None = None
    cookie_secure: bool = False
    allowed_containers: tuple[str, ...] = ("mov", "mp4", "matroska", "webm", "avi")
    allowed_codecs: tuple[str, ...] = ("h264", "hevc", "vp8", "vp9", "av1", "mpeg4")
    host: str = "127.0.0.1"
    port: int = 8765
    score_cfg: dict | None = field(
        default=None, compare=False
    )  # scorer settings (None: its defaults)

    def __post_init__(self) -> None:
        checks = [
            ("max_upload_mb", self.max_upload_bytes > 0, self.max_upload_bytes, "a positive size"),
            ("workers", self.workers >= 1, self.workers, "an integer >= 1"),
            ("poll_interval_s", self.poll_interval_s > 0, self.poll_interval_s, "> 0"),
            ("max_attempts", self.max_attempts >= 1, self.max_attempts, "an integer >= 1"),
            ("max_duration_s", self.max_duration_s > 0, self.max_duration_s, "> 0"),
            ("scorer", self.scorer in _SCORERS, self.scorer, f"one of {_SCORERS}"),
            (
                "dryrun_seconds_per_video",
                self.dryrun_seconds_per_video >= 0,
                self.dryrun_seconds_per_video,
                ">= 0",
            ),
            ("port", 0 <= self.port < 65536, self.port, "0..65535"),
        ]
        for name, ok, value, allowed in checks:
            if not ok:
                raise ConfigError(f"serve.{name}={value!r} is invalid; use {allowed}.")
        if self.audiences is not None and not self.audiences:
            raise ConfigError("serve.audiences is an empty list; give audience ids or null.")

    @property
    def db_path(self) -> Path:
        """The SQLite job store."""
        return self.data_dir / "jobs.sqlite3"

    @property
    def uploads_dir(self) -> Path:
        """Content-addressed upload blobs (``<sha[:2]>/<sha>``)."""
        return self.data_dir / "uploads"

    @property
    def results_dir(self) -> Path:
        """One folder per job with the scorer's outputs."""
        return self.data_dir / "results"

    @classmethod
    def from_cfg(cls, cfg: Any) -> ServeSettings:
        """Build settings from a composed ``configs/serve.yaml`` (``cfg.serve``) and env overrides.

        Environment: ``HMLLM_SERVE_DATA_DIR``, ``HMLLM_SERVE_WORKERS``, ``HMLLM_SERVE_MAX_UPLOAD_MB``
        override the matching keys (for containers where editing YAML is awkward).
        """
        from hmllm.paths import resolve_path

        s = cfg.serve
        data_dir = os.environ.get("HMLLM_SERVE_DATA_DIR", s.data_dir)
        workers = os.environ.get("HMLLM_SERVE_WORKERS", s.workers)
        max_mb = os.environ.get("HMLLM_SERVE_MAX_UPLOAD_MB", s.max_upload_mb)
        try:
            workers, max_mb = int(workers), float(max_mb)
        except ValueError as exc:
            raise ConfigError(
                f"serve.workers / serve.max_upload_mb must be numbers ({exc})."
            ) from None
        return cls(
            data_dir=resolve_path(data_dir),
            max_upload_bytes=int(max_mb * 2**20),
            max_duration_s=float(s.max_duration_s),
            workers=workers,
            poll_interval_s=float(s.poll_interval_s),
            max_attempts=int(s.max_attempts),
            checkpoint=resolve_path(s.checkpoint) if s.checkpoint else None,
            audiences=tuple(str(a) for a in s.audiences) if s.audiences is not None else None,
            scorer=str(s.scorer),
            dryrun_seconds_per_video=float(s.dryrun_seconds_per_video),
            tokens_file=resolve_path(s.tokens_file) if s.tokens_file else None,
            cookie_secure=bool(s.cookie_secure),
            allowed_containers=tuple(str(c) for c in s.allowed_containers),
            allowed_codecs=tuple(str(c) for c in s.allowed_codecs),
            host=str(s.host),
            port=int(s.port),
            score_cfg=score_config(cfg) if str(s.scorer) == "score" else None,
        )


def score_config(cfg: Any) -> dict:
    """The scorer's settings: ``configs/score.yaml``'s ``score_cfg`` for this data root, resolved.

    Composed from the ``score`` command's own config (not copied here) so the two never drift;
    ``serve.score_overrides`` (server-side Hydra overrides) adjust it, progress bars are off.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from hmllm.paths import config_dir

    overrides = [
        f"paths.data_root={cfg.paths.data_root}",
        "score_cfg.progress=false",
        *[str(o) for o in cfg.serve.get("score_overrides", [])],
    ]
    try:
        if GlobalHydra.instance().is_initialized():  # inside `hmllm serve`: Hydra knows configs/
            composed = compose(config_name="score", overrides=overrides)
        else:
            with initialize_config_dir(version_base="1.3", config_dir=str(config_dir())):
                composed = compose(config_name="score", overrides=overrides)
        return OmegaConf.to_container(composed.score_cfg, resolve=True)
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(
            f"serve.score_overrides={overrides[2:]} do not compose with configs/score.yaml: {exc}"
        ) from None
