"""The SQLite job store: atomic claims under concurrency, restart recovery, per-user isolation."""

from __future__ import annotations

import threading

from hmllm.serve.store import JobStore, Upload


def _store(tmp_path, **kw) -> JobStore:
    s = JobStore(tmp_path / "jobs.sqlite3", **kw)
    s.add_upload(Upload("a" * 64, 10, "mp4", "h264", 1.0, "uploads/aa/" + "a" * 64))
    return s


def test_wal_mode(tmp_path):
    import sqlite3

    _store(tmp_path)
    mode = sqlite3.connect(tmp_path / "jobs.sqlite3").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_concurrent_claims_never_share_a_job(tmp_path):
    store = _store(tmp_path)
    ids = {store.create_job("u", ["a" * 64], f"{i}.mp4", ["g"]).id for i in range(40)}
    claimed: list[str] = []
    lock = threading.Lock()

    def grab():
        while (job := store.claim()) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=grab) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)  # each job exactly once
    assert store.counts() == {"queued": 0, "running": 40, "done": 0, "failed": 0}


def test_claim_is_fifo(tmp_path):
    store = _store(tmp_path)
    first = store.create_job("u", ["a" * 64], "1.mp4", ["g"])
    store.create_job("u", ["a" * 64], "2.mp4", ["g"])
    assert store.claim().id == first.id


def test_restart_requeues_running_jobs(tmp_path):
    store = _store(tmp_path)
    a = store.create_job("u", ["a" * 64], "a.mp4", ["g"])
    b = store.create_job("u", ["a" * 64], "b.mp4", ["g"])
    store.claim()
    store.claim()
    store.finish(b.id, result_path="index.html")
    reopened = JobStore(tmp_path / "jobs.sqlite3")
    assert reopened.requeued == 1
    job = reopened.get_job(a.id)
    assert job.status == "queued" and job.attempts == 1
    assert reopened.get_job(b.id).status == "done"


def test_crash_looping_job_fails_after_max_attempts(tmp_path):
    store = _store(tmp_path, max_attempts=2)
    job = store.create_job("u", ["a" * 64], "a.mp4", ["g"])
    for _ in range(2):  # the server dies twice while scoring this job
        assert store.claim().id == job.id
        store = JobStore(tmp_path / "jobs.sqlite3", max_attempts=2)
    failed = store.get_job(job.id)
    assert failed.status == "failed" and "too many times" in failed.error


def test_jobs_are_per_user(tmp_path):
    store = _store(tmp_path)
    job = store.create_job("alice", ["a" * 64], "a.mp4", ["g"])
    assert store.get_job(job.id, user="bob") is None
    assert store.get_job(job.id, user="alice").id == job.id
    assert store.list_jobs("bob") == []
