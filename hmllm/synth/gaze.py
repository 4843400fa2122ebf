"""Simulate one eye-tracking recording and write it as EyeLink ASC or Tobii Pro Lab TSV.

Gaze alternates fixations and saccades. The share of time the viewer looks at the video follows
the latent attention (off-video fixations are placed by error diffusion); on-video fixations
scatter around the shot's salient point (less when attention is high), the others land in the
letterbox bars, off the screen, or are lost. Blinks are short gaps of missing data. So the
on-video fraction of time (EMR) follows the latent attention, and the truth fixations are stored
beside the data.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from hmllm.synth.world import GRID_HZ


def screen_layout(g: dict, video_w: int, video_h: int) -> dict:
    """Screen geometry and where the (letterboxed) video sits on it, in screen pixels."""
    sw, sh = (int(x) for x in g["screen_px"])
    scale = min(sw / video_w, sh / video_h)
    vw, vh = int(round(video_w * scale)), int(round(video_h * scale))
    return {
        "screen_width_px": sw, "screen_height_px": sh,
        "screen_width_cm": float(g["screen_cm"][0]), "screen_height_cm": float(g["screen_cm"][1]),
        "distance_cm": float(g["distance_cm"]),
        "video_rect_px": [(sw - vw) // 2, (sh - vh) // 2, vw, vh],
        "video_width_px": int(video_w), "video_height_px": int(video_h),
    }  # fmt: skip


def simulate_gaze(attention: np.ndarray, shots: pd.DataFrame, duration_s: float, sfreq: float,
                  layout: dict, g: dict, rng) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Samples (time_s from recording start, x_px, y_px, pupil, valid) and truth fixations.

    ``attention`` is the latent on the 10 Hz grid of the video; the recording starts
    ``g['pre_roll_s']`` before the video and ends ``g['post_roll_s']`` after it.
    """
    pre = float(g["pre_roll_s"])
    total = pre + duration_s + float(g["post_roll_s"])
    n = int(total * sfreq)
    t = np.arange(n) / sfreq
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    x0, y0, vw, vh = layout["video_rect_px"]
    sw, sh = layout["screen_width_px"], layout["screen_height_px"]
    onsets = shots["onset_s"].to_numpy()
    fixations = []
    cur = rng.uniform(0, 0.2)
    # error diffusion: off-video time accumulates as (1 - attention) x duration and is spent in
    # whole fixations, so the on-video share of any window tracks the latent attention closely
    # instead of being dominated by coin-flip noise over the few fixations of a short shot
    debt = rng.uniform(0, 0.3)
    px, py = x0 + vw / 2, y0 + vh / 2
    while cur < total:
        dur = rng.uniform(*g["fixation_s"])
        tv = cur - pre
        if tv < 0:
            a, sx, sy = 0.95, 0.5, 0.5
        else:
            a = float(attention[min(len(attention) - 1, int(tv * GRID_HZ))])
            k = int(np.searchsorted(onsets, tv, side="right") - 1)
            sx, sy = float(shots["salient_x"].iloc[k]), float(shots["salient_y"].iloc[k])
        debt += (1 - a) * dur
        on_video = debt < 0.5 * dur
        if not on_video:
            debt -= dur
        if on_video:
            disp = g["dispersion"][0] + (g["dispersion"][1] - g["dispersion"][0]) * (1 - a)
            fx = np.clip(sx + rng.normal(0, disp), 0.01, 0.99) * vw + x0
            fy = np.clip(sy + rng.normal(0, disp * vw / vh * 0.6), 0.01, 0.99) * vh + y0
        else:
            where = rng.choice(["bar", "offscreen", "lost"], p=[0.4, 0.35, 0.25])
            if where == "bar" and y0 > 0:
                fx = rng.uniform(0, sw)
                fy = rng.uniform(0, y0) if rng.random() < 0.5 else rng.uniform(y0 + vh, sh)
            elif where == "lost":
                fx = fy = np.nan
            else:
                fx, fy = rng.choice([-0.2, 1.2]) * sw, rng.uniform(0.2, 0.8) * sh
        i_start = int(cur * sfreq)
        i_sacc = int((cur + g["saccade_s"]) * sfreq)
        i_end = min(n, int((cur + dur) * sfreq))
        if i_sacc > i_start and np.isfinite(fx) and np.isfinite(px):
            m = i_sacc - i_start
            x[i_start:i_sacc] = np.linspace(px, fx, m, endpoint=False)[
                : max(0, min(m, n - i_start))
            ]
            y[i_start:i_sacc] = np.linspace(py, fy, m, endpoint=False)[
                : max(0, min(m, n - i_start))
            ]
        if i_end > i_sacc:
            x[i_sacc:i_end] = fx
            y[i_sacc:i_end] = fy
            if np.isfinite(fx):
                fixations.append({"onset_s": (i_sacc / sfreq) - pre, "offset_s": (i_end / sfreq) - pre,
                                  "x_px": float(fx), "y_px": float(fy), "on_video": bool(on_video)})  # fmt: skip
        if np.isfinite(fx):
            px, py = fx, fy
        cur += dur
    x += rng.normal(0, g["noise_px"], n)
    y += rng.normal(0, g["noise_px"], n)
    valid = np.isfinite(x)
    tb = rng.uniform(0.5, 2.0)
    while tb < total:
        i0, i1 = int(tb * sfreq), min(n, int((tb + g["blink_s"]) * sfreq))
        valid[i0:i1] = False
        tb += rng.uniform(*g["blink_interval_s"])
    x[~valid] = np.nan
    y[~valid] = np.nan
    pupil = np.where(valid, 900 + 60 * rng.standard_normal(n).cumsum() / np.sqrt(n), 0.0)
    samples = pd.DataFrame({"time_s": t, "x_px": x, "y_px": y, "pupil": pupil, "valid": valid})
    return samples, pd.DataFrame(fixations)


def write_asc(path: Path, samples: pd.DataFrame, fix: pd.DataFrame, sfreq: float, pre_s: float,
              duration_s: float, layout: dict, date: dt.datetime) -> None:  # fmt: skip
    """Write samples and events in EyeLink's ASC layout (as edf2asc writes it; MNE reads it)."""
    t0 = 1_000_000  # tracker clock at recording start, ms
    sw, sh = layout["screen_width_px"], layout["screen_height_px"]
    ms = np.round(t0 + samples["time_s"].to_numpy() * 1000).astype(int)
    lines = [
        "** CONVERTED FROM hmllm-synth.edf using edfapi 4.2.1 (simulated)",
        f"** DATE: {date.strftime('%a %b %d %H:%M:%S %Y')}",
        "** TYPE: EDF_FILE BINARY EVENT SAMPLE TAGGED",
        "** VERSION: EYELINK II 1",
        "** SOURCE: EYELINK CL",
        "** RECORDED BY hmllm synth",
        "**",
        f"MSG\t{t0} DISPLAY_COORDS 0 0 {sw - 1} {sh - 1}",
        f"MSG\t{t0} RECCFG CR {int(sfreq)} 2 1 L",
        f"MSG\t{t0} GAZE_COORDS 0.00 0.00 {sw - 1:.2f} {sh - 1:.2f}",
        f"START\t{t0} \tLEFT\tSAMPLES\tEVENTS",
        "PRESCALER\t1",
        "VPRESCALER\t1",
        "PUPIL\tAREA",
        f"EVENTS\tGAZE\tLEFT\tRATE\t{sfreq:7.2f}\tTRACKING\tCR\tFILTER\t2",
        f"SAMPLES\tGAZE\tLEFT\tRATE\t{sfreq:7.2f}\tTRACKING\tCR\tFILTER\t2",
    ]
    events: list[tuple[int, int, str]] = []  # (time, order, line): events sort before samples
    on_ms = int(round(t0 + pre_s * 1000))
    off_ms = int(round(t0 + (pre_s + duration_s) * 1000))
    events.append((on_ms, 0, f"MSG\t{on_ms} video_onset"))
    events.append((off_ms, 0, f"MSG\t{off_ms} video_offset"))
    for f in fix.itertuples():
        s = int(round(t0 + (f.onset_s + pre_s) * 1000))
        e = int(round(t0 + (f.offset_s + pre_s) * 1000))
        if s >= ms[-1]:
            continue
        e = min(e, int(ms[-1]))
        events.append((s, 1, f"SFIX L   {s}"))
        events.append((e, 2, f"EFIX L   {s}\t{e}\t{e - s}\t{f.x_px:8.1f}\t{f.y_px:8.1f}\t  900"))
    valid = samples["valid"].to_numpy()
    edges = np.flatnonzero(np.diff(np.r_[1, valid.astype(int), 1]))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        s, e = int(ms[a]), int(ms[min(b, len(ms) - 1)])
        events.append((s, 1, f"SBLINK L {s}"))
        events.append((e, 2, f"EBLINK L {s}\t{e}\t{e - s}"))
    events.sort()
    xs, ys, ps = samples["x_px"].to_numpy(), samples["y_px"].to_numpy(), samples["pupil"].to_numpy()
    body = []
    ei = 0
    for i, m in enumerate(ms):
        while ei < len(events) and events[ei][0] <= m:
            body.append(events[ei][2])
            ei += 1
        if valid[i]:
            body.append(f"{m}\t{xs[i]:8.1f}\t{ys[i]:8.1f}\t{ps[i]:8.1f}\t...")
        else:
            body.append(f"{m}\t   .\t   .\t     0.0\t...")
    body.extend(e[2] for e in events[ei:])
    body.append(f"END\t{int(ms[-1])} \tSAMPLES\tEVENTS\tRES\t  38.54\t  31.12")
    path.write_text("\n".join(lines + body) + "\n")


def write_tobii_tsv(path: Path, samples: pd.DataFrame, fix: pd.DataFrame, pre_s: float,
                    duration_s: float, layout: dict) -> None:  # fmt: skip
    """Write a Tobii Pro Lab-style data export (tab-separated, one row per sample or event)."""
    us = np.round(samples["time_s"].to_numpy() * 1e6).astype(np.int64)
    valid = samples["valid"].to_numpy()
    movement = np.full(len(us), "Saccade", dtype=object)
    t_rel = samples["time_s"].to_numpy() - pre_s
    for f in fix.itertuples():
        movement[(t_rel >= f.onset_s) & (t_rel < f.offset_s)] = "Fixation"
    movement[~valid] = "EyesNotFound"
    df = pd.DataFrame({
        "Recording timestamp [μs]": us,
        "Recording resolution width": layout["screen_width_px"],
        "Recording resolution height": layout["screen_height_px"],
        "Gaze point X [DACS px]": np.round(samples["x_px"], 1),
        "Gaze point Y [DACS px]": np.round(samples["y_px"], 1),
        "Pupil diameter left [mm]": np.where(valid, np.round(samples["pupil"] / 300, 3), np.nan),
        "Validity left": np.where(valid, "Valid", "Invalid"),
        "Eye movement type": movement,
        "Event": "",
    })  # fmt: skip
    ev = pd.DataFrame({
        "Recording timestamp [μs]": [int(round(pre_s * 1e6)), int(round((pre_s + duration_s) * 1e6))],
        "Event": ["video_onset", "video_offset"],
    })  # fmt: skip
    df = pd.concat([df, ev], ignore_index=True).sort_values(
        "Recording timestamp [μs]", kind="stable"
    )
    df.to_csv(path, sep="\t", index=False, na_rep="", float_format="%.3f")


def write_sidecar(path: Path, fmt: str, sfreq: float, layout: dict) -> None:
    """The eye-tracking JSON sidecar: sampling rate, tracker, and screen geometry."""
    meta = {"sfreq_hz": float(sfreq), "format": fmt,
            "tracker": "EyeLink 1000 Plus (simulated)" if fmt == "eyelink_asc" else "Tobii Pro Spectrum (simulated)",
            **layout, "units": {"gaze": "screen pixels", "time": "seconds"}}  # fmt: skip
    path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
