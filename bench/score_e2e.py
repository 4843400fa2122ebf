"""End-to-end scoring time of a 30 s 720p ad, as a multiple of decoding it once with decord.

Encodes a 30 s 1280x720 25 fps test ad (PyAV, H.264, 8 shots of moving gradients), trains a tiny
checkpoint on a fake prepared set with the handcrafted feature columns (the score pipeline is what
is timed, not training), then times ``hmllm.score.score_ads`` (probe, PySceneDetect, keyframes,
handcrafted features, prediction with Monte-Carlo intervals, heatmaps, HTML + PNG + PDF) against
decord decoding every frame once. Target: ratio <= 3 on 2 cores.

    python bench/score_e2e.py                        # default config
    python bench/score_e2e.py score_cfg.mc_samples=8 # any score override
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SECONDS, FPS, W, H, N_SHOTS = 30, 25, 1280, 720, 8


def write_ad(path: Path) -> Path:
    import av

    rng = np.random.default_rng(0)
    base = rng.integers(30, 225, size=(N_SHOTS, 3))
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    with av.open(str(path), mode="w", format="mp4") as c:
        s = c.add_stream("libx264", rate=FPS)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        n = SECONDS * FPS
        for i in range(n):
            shot = i * N_SHOTS // n
            grad = ((xx + 8 * i) % W) / W  # a gradient sliding right: motion within the shot
            img = (base[shot][None, None, :] * (0.5 + 0.5 * grad[..., None])).astype(np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def decode_once(path: Path) -> float:
    import decord

    t = time.perf_counter()
    vr = decord.VideoReader(str(path), ctx=decord.cpu(0))
    for i in range(0, len(vr), 64):
        vr.get_batch(list(range(i, min(i + 64, len(vr)))))
    return time.perf_counter() - t


def main(overrides: list[str]) -> None:
    logging.basicConfig(level=logging.WARNING, format="  %(message)s")
    logging.getLogger("hmllm.score").setLevel(logging.INFO)  # per-stage times of score_ads
    from hmllm.config import compose_config
    from hmllm.score import score_ads
    from hmllm.train import train
    from tests.model.conftest import train_overrides
    from tests.score.conftest import _fake_prepared

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ad = write_ad(tmp / "bench_ad.mp4")
        prepared = _fake_prepared(tmp / "prepared")
        train(compose_config("train", train_overrides(prepared, tmp / "runs", "trainer.epochs=1")))
        ckpt = next((tmp / "runs").rglob("best.pt"))
        cfg = compose_config(
            "score", ["score_cfg.cache=null", "score_cfg.progress=false", *overrides]
        )
        decode_s = decode_once(ad)
        t = time.perf_counter()
        score_ads([ad], ["female"], checkpoint=ckpt, out_dir=tmp / "reports", cfg=cfg.score_cfg)
        score_s = time.perf_counter() - t
    print(f"ad: {SECONDS} s {W}x{H} @ {FPS} fps, {N_SHOTS} shots")
    print(f"decord decode once: {decode_s:.2f} s")
    print(f"score_ads end to end: {score_s:.2f} s")
    print(f"ratio score / decode: {score_s / decode_s:.2f} (target <= 3)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ helpers for the fake data
    main(sys.argv[1:])
