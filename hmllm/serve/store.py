"""The job store: SQLite in WAL mode, safe for the web threads and the worker threads at once.

Each call opens its own short-lived connection (SQLite connections must not cross threads, and WAL
lets readers run while one writer commits). A job is claimed by one ``UPDATE ... RETURNING`` inside
``BEGIN IMMEDIATE``, so two workers never take the same job. Jobs found ``running`` when the store
opens belong to a server that stopped mid-job: they are put back in the queue.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STATUSES = ("queued", "running", "done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    container TEXT NOT NULL,
    codec TEXT NOT NULL,
    duration_s REAL NOT NULL,
    path TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    upload_ids TEXT NOT NULL,        -- JSON list of uploads.sha256
    filename TEXT NOT NULL,          -- sanitised original name, display only
    audiences TEXT NOT NULL,         -- JSON list of audience ids
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    error TEXT,
    result_path TEXT,                -- report HTML, relative to the job's result folder
    attempts INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    started REAL,
    finished REAL
);
CREATE INDEX IF NOT EXISTS jobs_user ON jobs(user, created);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, created);
"""


@dataclass(frozen=True)
class Upload:
    """One stored video blob (content-addressed)."""

    sha256: str
    size: int
    container: str
    codec: str
    duration_s: float
    path: str


@dataclass(frozen=True)
class Job:
    """One scoring job as stored (times are Unix seconds)."""

    id: str
    user: str
    upload_ids: list[str]
    filename: str
    audiences: list[str]
    status: str
    error: str | None
    result_path: str | None
    attempts: int
    created: float
    started: float | None
    finished: float | None

    def public(self) -> dict:
        """The JSON the API returns (no server paths)."""
        return {
            "id": self.id,
            "filename": self.filename,
            "uploads": self.upload_ids,
            "audiences": self.audiences,
            "status": self.status,
            "error": self.error,
            "report_url": f"/jobs/{self.id}/files/{self.result_path}" if self.result_path else None,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
        }


def _job(row: sqlite3.Row) -> Job:
    d = dict(row)
    d["upload_ids"] = json.loads(d["upload_ids"])
    d["audiences"] = json.loads(d["audiences"])
    return Job(**d)


class JobStore:
    """SQLite-backed users, uploads and jobs.

    Parameters
    ----------
    path : Path
        Database file (created with its folder).
    max_attempts : int
        A ``running`` job found at start-up is requeued unless it was already started this many
        times (then it fails: a video that crashes the scorer must not crash-loop the server).
    """

    def __init__(self, path: Path, *, max_attempts: int = 3) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_attempts = max_attempts
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        self.requeued = self.recover()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # isolation_level=None: we issue BEGIN ourselves where atomicity matters.
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
        try:
            yield db
        finally:
            db.close()

    def recover(self) -> int:
        """Requeue jobs left ``running`` by a stopped server; return how many were requeued."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "UPDATE jobs SET status='failed', finished=?, error=? "
                "WHERE status='running' AND attempts>=?",
                (
                    time.time(),
                    "the scorer stopped while running this job too many times",
                    self.max_attempts,
                ),
            )
            n = db.execute(
                "UPDATE jobs SET status='queued', started=NULL WHERE status='running'"
            ).rowcount
            db.execute("COMMIT")
        return n

    def ensure_user(self, name: str) -> None:
        """Create the user row if missing."""
        with self._connect() as db:
            db.execute(
                "INSERT OR IGNORE INTO users(name, created) VALUES (?, ?)", (name, time.time())
            )

    def add_upload(self, up: Upload) -> None:
        """Record an upload blob (idempotent: same bytes, same row)."""
        with self._connect() as db:
            db.execute(
                "INSERT OR IGNORE INTO uploads(sha256, size, container, codec, duration_s, path, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (up.sha256, up.size, up.container, up.codec, up.duration_s, up.path, time.time()),
            )

    def get_upload(self, sha256: str) -> Upload | None:
        """Return the upload row or ``None``."""
        with self._connect() as db:
            row = db.execute(
                "SELECT sha256, size, container, codec, duration_s, path FROM uploads WHERE sha256=?",
                (sha256,),
            ).fetchone()
        return Upload(**dict(row)) if row else None

    def create_job(
        self, user: str, upload_ids: list[str], filename: str, audiences: list[str]
    ) -> Job:
        """Queue a new job and return it."""
        self.ensure_user(user)
        job_id = uuid.uuid4().hex
        with self._connect() as db:
            db.execute(
                "INSERT INTO jobs(id, user, upload_ids, filename, audiences, status, created)"
                " VALUES (?, ?, ?, ?, ?, 'queued', ?)",
                (
                    job_id,
                    user,
                    json.dumps(upload_ids),
                    filename,
                    json.dumps(audiences),
                    time.time(),
                ),
            )
        job = self.get_job(job_id)
        if job is None:  # pragma: no cover - the insert above committed
            raise RuntimeError(f"job {job_id} vanished right after insert")
        return job

    def get_job(self, job_id: str, *, user: str | None = None) -> Job | None:
        """Return a job; with ``user``, only if that user owns it (else ``None``)."""
        sql, args = "SELECT * FROM jobs WHERE id=?", [job_id]
        if user is not None:
            sql, args = sql + " AND user=?", [job_id, user]
        with self._connect() as db:
            row = db.execute(sql, args).fetchone()
        return _job(row) if row else None

    def list_jobs(self, user: str | None = None, *, limit: int = 200) -> list[Job]:
        """Newest jobs first; only ``user``'s when given."""
        with self._connect() as db:
            if user is None:
                rows = db.execute("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,))
            else:
                rows = db.execute(
                    "SELECT * FROM jobs WHERE user=? ORDER BY created DESC LIMIT ?", (user, limit)
                )
            return [_job(r) for r in rows.fetchall()]

    def counts(self) -> dict[str, int]:
        """Number of jobs per status."""
        with self._connect() as db:
            rows = db.execute("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status").fetchall()
        out = dict.fromkeys(STATUSES, 0)
        out.update({r["status"]: r["n"] for r in rows})
        return out

    def claim(self) -> Job | None:
        """Atomically move the oldest queued job to ``running`` and return it (``None`` if none)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "UPDATE jobs SET status='running', started=?, attempts=attempts+1 "
                "WHERE id=(SELECT id FROM jobs WHERE status='queued' ORDER BY created LIMIT 1) "
                "RETURNING *",
                (time.time(),),
            ).fetchone()
            db.execute("COMMIT")
        return _job(row) if row else None

    def finish(
        self, job_id: str, *, result_path: str | None = None, error: str | None = None
    ) -> None:
        """Mark a running job ``done`` (with its report path) or ``failed`` (with an error)."""
        status = "failed" if error is not None else "done"
        with self._connect() as db:
            db.execute(
                "UPDATE jobs SET status=?, result_path=?, error=?, finished=? WHERE id=?",
                (status, result_path, error, time.time(), job_id),
            )
