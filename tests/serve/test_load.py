"""Bounded load on loopback with a server crash (SIGKILL) and restart midway: no job may be lost."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # ~20 s: two `hmllm serve` start-ups and real uploads


def _bench():
    path = Path(__file__).resolve().parents[2] / "bench" / "serve_load.py"
    spec = importlib.util.spec_from_file_location("serve_load", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_load_with_restart_loses_no_job(tmp_path, monkeypatch):
    monkeypatch.delenv("HMLLM_DATA_ROOT", raising=False)
    figures = _bench().main(
        ["--uploads", "16", "--clients", "4", "--workers", "2", "--score-s", "0.3",
         "--data-root", str(tmp_path), "--timeout-s", "120"]
    )  # fmt: skip
    assert figures["accepted"] == 16
    assert figures["done"] == 16 and figures["lost"] == 0 and figures["failed"] == 0
    assert figures["restart"]["in_flight_at_kill"] >= 1  # the crash really hit queued/running work
    assert 0 <= figures["restart"]["requeued"] <= 2  # at most one running job per worker
