"""Render a synthetic ad: frames drawn with OpenCV, audio synthesised, muxed to H.264/AAC by PyAV.

Shots differ in what a model can see and hear: background colour/brightness and scene layout, a
moving object whose speed follows ``motion``, a drawn face (shaded oval, dark eyes and brows, nose,
mouth, hair — the structure OpenCV's frontal-face Haar cascade responds to), a text banner, a product
(bottle) close-up, and music-like chords, speech-like syllable bursts or silence.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from hmllm.synth.world import Ad, rng_for

SLOGANS = ("NEW TASTE", "SAVE 30%", "TRY IT NOW", "LIMITED", "DOWNLOAD", "FEEL FRESH", "BOOK TODAY")


def _bgr(hue: float, sat: float, val: float) -> tuple[int, int, int]:
    hsv = np.uint8([[[int(hue * 179), int(sat * 255), int(val * 255)]]])
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def draw_face(img: np.ndarray, cx: int, cy: int, h: int) -> None:
    """Draw a frontal face of height ``h`` px centred at (cx, cy), in place."""
    w = int(h * 0.78)
    cv2.ellipse(img, (cx, cy), (w // 2, h // 2), 0, 0, 360, (150, 180, 220), -1)
    ey, ex = cy - h // 8, w // 5
    for sx in (-1, 1):
        cv2.ellipse(img, (cx + sx * ex, ey), (w // 9, h // 18), 0, 0, 360, (40, 40, 50), -1)
        brow_y = ey - h // 9
        cv2.line(img, (cx + sx * ex - w // 8, brow_y), (cx + sx * ex + w // 8, brow_y),
                 (30, 30, 40), max(2, h // 30))  # fmt: skip
    cv2.line(img, (cx, ey + h // 20), (cx, cy + h // 10), (110, 140, 180), max(2, h // 25))
    cv2.ellipse(img, (cx, cy + h // 4), (w // 5, h // 16), 0, 0, 360, (60, 60, 140), -1)
    cv2.ellipse(img, (cx, cy - h // 2 + h // 12), (w // 2, h // 6), 0, 180, 360, (30, 30, 40), -1)


def draw_product(img: np.ndarray, cx: int, cy: int, h: int, colour) -> None:
    """Draw a bottle close-up (body, neck, cap, label) of height ``h`` px, in place."""
    bw, nw = int(h * 0.36), int(h * 0.14)
    top = cy - h // 2
    cv2.rectangle(img, (cx - nw // 2, top), (cx + nw // 2, top + h // 4), colour, -1)
    cv2.rectangle(img, (cx - nw // 2 - 2, top - h // 12), (cx + nw // 2 + 2, top), (20, 20, 20), -1)
    cv2.rectangle(img, (cx - bw // 2, top + h // 4), (cx + bw // 2, cy + h // 2), colour, -1)
    cv2.rectangle(img, (cx - bw // 2, cy), (cx + bw // 2, cy + h // 5), (245, 245, 245), -1)


def background(shot, w: int, h: int) -> np.ndarray:
    """A shot's static background (twice the width, so panning can slide over it)."""
    base = _bgr(shot["hue"], 0.55, shot["brightness"])
    img = np.empty((h, 2 * w, 3), np.uint8)
    img[:] = base
    rng = rng_for(int(shot["hue"] * 1e6), int(shot["shot"]))
    if shot["scene"] == "outdoor":
        img[: h // 2] = _bgr(0.58, 0.4, min(1.0, shot["brightness"] + 0.15))
        img[h // 2 :] = _bgr(0.3, 0.6, shot["brightness"] * 0.7)
    elif shot["scene"] == "city":
        for x in range(0, 2 * w, max(8, w // 10)):
            bh = int(rng.uniform(0.3, 0.8) * h)
            shade = _bgr(shot["hue"], 0.2, shot["brightness"] * rng.uniform(0.4, 0.9))
            cv2.rectangle(img, (x, h - bh), (x + w // 12, h), shade, -1)
    elif shot["scene"] == "indoor":
        img[int(h * 0.65) :] = _bgr((shot["hue"] + 0.1) % 1, 0.5, shot["brightness"] * 0.6)
        for x in range(0, 2 * w, w // 4):
            cv2.rectangle(img, (x + 5, h // 6), (x + w // 8, h // 2), _bgr(0.12, 0.3, 0.9), -1)
    else:  # studio: a soft vertical gradient
        ramp = np.linspace(0.75, 1.15, h)[:, None, None]
        img[:] = np.clip(img.astype(float) * ramp, 0, 255).astype(np.uint8)
    return img


def render_shot_frame(shot, bg: np.ndarray, k: int, w: int, h: int, fps: float) -> np.ndarray:
    """Frame ``k`` (0-based) of a shot, at ``fps`` frames per second.

    ``motion`` sets on-screen speed per second, whatever the shot's length (a viewer sees speed,
    not distance per shot): the camera pans at ``0.6 * motion`` frame widths per second, back
    and forth over the twice-as-wide background, and the ball moves faster with it.
    """
    t = k / fps
    x = 0.6 * shot["motion"] * t
    pan = int(round(w * (1.0 - abs(x % 2.0 - 1.0))))  # triangle wave: 0 → w → 0 ...
    frame = np.ascontiguousarray(bg[:, pan : pan + w])
    sx, sy = int(shot["salient_x"] * w), int(shot["salient_y"] * h)
    # a moving ball: its speed follows the shot's motion (phase advances 0.5 per second)
    phase = 0.5 * t
    bx = int((0.1 + 0.8 * ((phase * (0.5 + 3 * shot["motion"])) % 1.0)) * w)
    by = int(h * (0.3 + 0.4 * abs(np.sin(phase * np.pi * (1 + 4 * shot["motion"])))))
    cv2.circle(frame, (bx, by), max(4, h // 14), _bgr((shot["hue"] + 0.5) % 1, 0.9, 0.95), -1)
    if shot["has_face"]:
        draw_face(frame, sx, sy, int(h * 0.5))
    elif shot["has_product"]:
        draw_product(frame, sx, sy, int(h * 0.6), _bgr((shot["hue"] + 0.33) % 1, 0.8, 0.7))
    if shot["has_text"]:
        y0 = int(h * 0.82)
        cv2.rectangle(frame, (0, y0), (w, h), (15, 15, 15), -1)
        text = SLOGANS[int(shot["hue"] * 1000) % len(SLOGANS)]
        cv2.putText(frame, text, (int(w * 0.05), int(h * 0.95)), cv2.FONT_HERSHEY_SIMPLEX,
                    h / 300, (255, 255, 255), max(1, h // 120), cv2.LINE_AA)  # fmt: skip
    return frame


def iter_frames(ad: Ad, w: int, h: int, transition_s: float):
    """Yield the ad's frames (BGR uint8) in order, with fades and dissolves at the boundaries."""
    shots = ad.shots.to_dict("records")
    bgs = [background(s, w, h) for s in shots]
    half = max(1, int(round(transition_s * ad.fps / 2)))
    for f in range(ad.n_frames):
        i = int(np.searchsorted([s["onset_frame"] for s in shots], f, side="right") - 1)
        s = shots[i]
        frame = render_shot_frame(s, bgs[i], f - s["onset_frame"], w, h, ad.fps)
        # transitions are centred on the boundary frame (the truth's onset_frame)
        nxt = shots[i + 1] if i + 1 < len(shots) else None
        if nxt is not None and nxt["transition_in"] != "cut" and f >= nxt["onset_frame"] - half:
            d = (f - (nxt["onset_frame"] - half) + 0.5) / (2 * half)  # 0 -> 0.5 over the first half
            if nxt["transition_in"] == "fade":
                frame = (frame.astype(np.float32) * max(0.0, 1 - 2 * d)).astype(np.uint8)
            else:
                other = render_shot_frame(nxt, bgs[i + 1], 0, w, h, ad.fps)
                frame = cv2.addWeighted(frame, 1 - d, other, d, 0)
        if s["transition_in"] in ("fade", "dissolve") and f < s["onset_frame"] + half:
            d = (f - s["onset_frame"] + half + 0.5) / (2 * half)  # 0.5 -> 1 over the second half
            if s["transition_in"] == "fade":
                frame = (frame.astype(np.float32) * max(0.0, 2 * d - 1)).astype(np.uint8)
            else:
                prev = shots[i - 1]
                n_prev = prev["offset_frame"] - prev["onset_frame"]
                other = render_shot_frame(prev, bgs[i - 1], n_prev - 1, w, h, ad.fps)
                frame = cv2.addWeighted(other, 1 - d, frame, d, 0)
        yield frame


def synth_audio(ad: Ad, rate: int, seed: int) -> np.ndarray:
    """Mono float32 audio for the whole ad: per shot music chords, syllable bursts or silence."""
    rng = rng_for(seed, 6, ad.index)
    n = int(round(ad.duration_s * rate))
    out = np.zeros(n, np.float32)
    for s in ad.shots.to_dict("records"):
        a, b = int(s["onset_s"] * rate), min(n, int(s["offset_s"] * rate))
        t = np.arange(b - a) / rate
        if s["audio"] == "music":
            root = 110 * 2 ** (round(s["hue"] * 12) / 12)
            sig = sum(np.sin(2 * np.pi * root * r * t) for r in (1, 1.26, 1.5, 2))
            sig *= 0.8 + 0.2 * np.sin(2 * np.pi * 2 * t)
        elif s["audio"] == "speech":
            noise = rng.standard_normal(len(t))
            spec = np.fft.rfft(noise)
            freqs = np.fft.rfftfreq(len(t), 1 / rate)
            spec[(freqs < 250) | (freqs > 3500)] = 0
            voiced = np.fft.irfft(spec, len(t))
            syll = np.clip(np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)), 0, None) ** 2
            pauses = np.repeat(rng.random(int(len(t) / rate * 2) + 2) > 0.25, rate // 2)[: len(t)]
            sig = voiced * syll * pauses
        else:
            sig = rng.standard_normal(len(t)) * 0.01
        rms = np.sqrt(np.mean(sig**2)) + 1e-12
        sig = sig / rms * 10 ** (s["loudness_db"] / 20)
        ramp = min(len(t) // 2, int(0.01 * rate))
        if ramp:
            env = np.ones(len(t))
            env[:ramp] = np.linspace(0, 1, ramp)
            env[-ramp:] = np.linspace(1, 0, ramp)
            sig = sig * env
        out[a:b] = sig.astype(np.float32)
    return np.clip(out, -1, 1)


def write_ad(ad: Ad, path: Path, v: dict, seed: int) -> None:
    """Encode the ad to ``path`` as H.264 (yuv420p) + AAC mono in an mp4, deterministically."""
    w, h = int(v["width_px"]), int(v["height_px"])
    rate = int(v["audio_rate_hz"])
    tmp = path.with_suffix(".partial.mp4")
    # bitexact flags keep library version strings and timestamps out, so reruns are byte-identical
    with av.open(str(tmp), "w", format="mp4", options={"fflags": "+bitexact"}) as out:
        vs = out.add_stream("libx264", rate=ad.fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"crf": str(v["crf"]), "preset": "veryfast", "threads": "1",
                      "x264-params": "keyint=50:scenecut=0"}  # fmt: skip
        vs.codec_context.flags |= av.codec.context.Flags.bitexact
        aus = out.add_stream("aac", rate=rate, layout="mono")
        aus.codec_context.flags |= av.codec.context.Flags.bitexact
        for frame in iter_frames(ad, w, h, float(v["transition_s"])):
            vf = av.VideoFrame.from_ndarray(frame, format="bgr24")
            out.mux(vs.encode(vf))
        out.mux(vs.encode(None))
        audio = synth_audio(ad, rate, seed)
        step = 1024
        for start in range(0, len(audio), step):
            chunk = audio[start : start + step]
            af = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            af.sample_rate = rate
            af.pts = start
            af.time_base = Fraction(1, rate)
            out.mux(aus.encode(af))
        out.mux(aus.encode(None))
    tmp.replace(path)
