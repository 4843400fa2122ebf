"""Fixtures for the upload service: a tiny real H.264 mp4, a fast scorer, an app with two users."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

TOKENS = {"alice": "alice-token-0123456789", "bob": "bob-token-0123456789ab"}


def write_mp4(
    path: Path,
    *,
    seconds: float = 3.0,
    fps: int = 10,
    size: int = 64,
    seed: int = 0,
    fmt: str = "mp4",
    encoder: str = "libx264",
) -> Path:
    """Encode a small video with PyAV (H.264 mp4 by default): flat colours changing every second."""
    if "vpx" in encoder and "decord" in __import__("sys").modules:
        # decord bundles its own FFmpeg libraries; once it is loaded in this process libvpx can no
        # longer be opened, so encode in a fresh interpreter
        import subprocess
        import sys

        code = (f"from tests.serve.conftest import write_mp4; from pathlib import Path; "
                f"write_mp4(Path({str(path)!r}), seconds={seconds}, fps={fps}, size={size}, seed={seed}, "
                f"fmt={fmt!r}, encoder={encoder!r})")  # fmt: skip
        subprocess.run(
            [sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2]
        )
        return path
    import av

    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 255, size=(int(np.ceil(seconds)), 3), dtype=np.uint8)
    with av.open(str(path), mode="w", format=fmt) as c:
        # libvpx refuses to open under some thread settings other tests leave behind: pin them
        opts = {"threads": "1", "deadline": "realtime", "cpu-used": "8"} if "vpx" in encoder else {}
        s = c.add_stream(encoder, rate=fps, options=opts)
        s.width = s.height = size
        s.pix_fmt = "yuv420p"
        for i in range(int(seconds * fps)):
            img = np.empty((size, size, 3), np.uint8)
            img[:] = colours[i // fps]
            for packet in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


def fast_scorer(videos, audiences, *, checkpoint, out_dir, cfg=None):
    """A quick stand-in for hmllm.score.score_ads writing a real result.json + index.html."""
    from hmllm.serve.dryrun import dryrun_score

    names = [v.name for v in videos]
    if any("crash" in n for n in names):
        raise RuntimeError("scorer exploded on purpose")
    return dryrun_score(videos, audiences, checkpoint=checkpoint, out_dir=out_dir, segment_s=1.0)


@pytest.fixture(scope="session")
def mp4(tmp_path_factory) -> Path:
    return write_mp4(tmp_path_factory.mktemp("video") / "ad.mp4")


@pytest.fixture()
def settings(tmp_path):
    from hmllm.serve.settings import ServeSettings

    tokens = tmp_path / "tokens.json"
    # alice's token stored hashed at rest, bob's plain: both forms must work
    from hmllm.serve.auth import hash_token

    tokens.write_text(json.dumps({hash_token(TOKENS["alice"]): "alice", TOKENS["bob"]: "bob"}))
    return ServeSettings(
        data_dir=tmp_path / "serve",
        max_upload_bytes=512 * 1024,
        workers=2,
        poll_interval_s=0.05,
        audiences=("female_26-30", "male_18-25"),
        tokens_file=tokens,
    )


@pytest.fixture()
def client(settings, monkeypatch):
    from fastapi.testclient import TestClient

    from hmllm.serve.app import create_app

    monkeypatch.delenv("HMLLM_TOKENS", raising=False)
    app = create_app(settings, scorer=fast_scorer)
    with TestClient(app) as c:
        yield c


def auth(user: str) -> dict:
    return {"Authorization": f"Bearer {TOKENS[user]}"}


def wait_done(client, job_id: str, user: str = "alice", timeout_s: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}", headers=auth(user)).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} not finished after {timeout_s} s: {job}")


CHROMIUM = (
    os.environ.get("HMLLM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture()
def browser():
    """A headless Chromium (Playwright); fails on CI when missing, skips with the reason elsewhere."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright, missing = None, "playwright is not installed (pip install -e .[dev])"
    else:
        missing = "Chromium not found (apt-get install -y chromium, or set HMLLM_CHROMIUM)"
    if CHROMIUM is None or sync_playwright is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser test cannot run on CI: {missing}")
        pytest.skip(missing)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()
