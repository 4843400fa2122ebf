"""Tiny test videos encoded with PyAV: solid-colour shots with known cut frames, a fade, audio."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

FPS = 25
W, H = 96, 64
# distinct hues; each shot gets a moving bar so frames within a shot are not identical
COLOURS = [(220, 40, 40), (40, 200, 60), (40, 60, 220), (230, 210, 40), (200, 40, 200)]


def shot_frames(colour, n: int, w: int = W, h: int = H, seed: int = 0) -> list[np.ndarray]:
    """``n`` frames of a solid colour with a small moving grey bar (motion) and mild noise."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        f = np.empty((h, w, 3), np.uint8)
        f[:] = colour
        x = (i * 2) % max(1, w - 8)
        f[h // 3 : h // 3 + 6, x : x + 8] = 128
        noise = rng.integers(-4, 5, f.shape)
        out.append(np.clip(f.astype(int) + noise, 0, 255).astype(np.uint8))
    return out


def write_video(path: Path, frames: list[np.ndarray], *, fps: int = FPS, audio: bool = True,
                rotation: int | None = None, times_s: list[float] | None = None) -> Path:  # fmt: skip
    """Encode RGB ``frames`` as H.264 mp4 (+ a 1 kHz AAC tone modulated at 4 Hz if ``audio``).

    ``times_s`` gives explicit presentation times (variable frame rate); ``rotation`` sets the
    display-matrix rotation in degrees.
    """
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"preset": "ultrafast", "bf": "0"}
        if times_s is not None:  # millisecond time base so frames can sit at arbitrary times
            vs.codec_context.time_base = vs.time_base = Fraction(1, 1000)
        if rotation is not None:
            vs.set_display_rotation(rotation)
        if audio:
            aus = c.add_stream("aac", rate=16000)
            aus.layout = "mono"
        for i, arr in enumerate(frames):
            fr = av.VideoFrame.from_ndarray(arr, format="rgb24")
            if times_s is not None:
                fr.pts, fr.time_base = int(round(times_s[i] * 1000)), Fraction(1, 1000)
            for p in vs.encode(fr):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        if audio:
            n = int(len(frames) / fps * 16000)
            t = np.arange(n) / 16000
            x = 0.3 * np.sin(2 * np.pi * 1000 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))
            x = x.astype(np.float32)[None, :]
            step = 1024
            for k in range(0, n, step):
                af = av.AudioFrame.from_ndarray(x[:, k : k + step], format="flt", layout="mono")
                af.sample_rate, af.pts = 16000, k
                for p in aus.encode(af):
                    c.mux(p)
            for p in aus.encode():
                c.mux(p)
    return path


def cut_video(
    path: Path, lengths=(30, 25, 35, 20), *, fade_at: int | None = None, **kw
) -> tuple[Path, list[int]]:
    """Shots of ``lengths`` frames with hard cuts; returns the path and true cut frames.

    ``fade_at``: index of the boundary that instead fades through black (6 frames out, 6 in).
    """
    frames, cuts = [], []
    for k, n in enumerate(lengths):
        fr = shot_frames(COLOURS[k % len(COLOURS)], n, seed=k)
        if fade_at is not None and k == fade_at - 1:  # fade out the end of this shot
            for j in range(6):
                fr[n - 6 + j] = (fr[n - 6 + j] * (1 - (j + 1) / 6)).astype(np.uint8)
        if fade_at is not None and k == fade_at:  # fade in
            for j in range(6):
                fr[j] = (fr[j] * (j / 6)).astype(np.uint8)
        if k:
            cuts.append(len(frames))
        frames += fr
    return write_video(path, frames, **kw), cuts


@pytest.fixture(scope="session")
def cuts_mp4(tmp_path_factory) -> tuple[Path, list[int]]:
    """4 shots, hard cuts at known frames, with audio."""
    return cut_video(tmp_path_factory.mktemp("vid") / "cuts.mp4")


def textured_frames(colour, n: int, w: int = 160, h: int = 90, seed: int = 0) -> list[np.ndarray]:
    """``n`` frames of a colour with a diagonal gradient, noise and a bar drifting right (motion)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.asarray(colour, np.float32) * (0.6 + 0.4 * (xx + yy) / (w + h))[..., None]
    out = []
    for i in range(n):
        f = base + rng.normal(0, 12, base.shape)
        f[h // 3 : h // 3 + 10, (3 * i) % (w - 12) : (3 * i) % (w - 12) + 12] = 200
        out.append(np.clip(f, 0, 255).astype(np.uint8))
    return out


def dissolve_video(
    path: Path, lengths=(40, 40), *, blend: int = 16, **kw
) -> tuple[Path, list[int]]:
    """Textured shots joined by linear cross-fades of ``blend`` frames centred on each boundary.

    Like the synthetic ads: before the boundary the new shot is frozen at its first frame, after
    it the old one at its last. Returns the path and the true boundaries (first frame weighted
    ≥ 0.5 towards the new shot).
    """
    pure = [f.astype(np.float32) for k, n in enumerate(lengths)
            for f in textured_frames(COLOURS[k % len(COLOURS)], n, seed=k)]  # fmt: skip
    out = list(pure)
    bounds = list(np.cumsum(lengths)[:-1])
    for b in bounds:
        for f in range(b - blend // 2, b + blend // 2):
            w = (f - (b - blend // 2) + 0.5) / blend
            out[f] = (1 - w) * pure[min(f, b - 1)] + w * pure[max(f, b)]
    return write_video(path, [f.astype(np.uint8) for f in out], **kw), [int(b) for b in bounds]
