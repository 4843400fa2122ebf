"""Tiny gaze recordings written in each reader's on-disk layout (EyeLink ASC, Tobii TSV, CSV)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

SCREEN = {"screen_width_px": 1920, "screen_height_px": 1200, "screen_width_cm": 51.8,
          "screen_height_cm": 32.3, "distance_cm": 65.0, "video_rect_px": [0, 60, 1920, 1080],
          "video_width_px": 320, "video_height_px": 180}  # fmt: skip
ONSET_S = 1.0  # video_onset message, s after the first sample
DURATION_S = 4.0  # the "ad" lasts 4 s: shots [0, 2) and [2, 4)


@dataclass
class Planted:
    """Samples (s, screen px) with the fixations and on-video share that produced them."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    valid: np.ndarray
    fixations: list[
        tuple[float, float, float, float]
    ]  # onset_s, offset_s, x_px, y_px (recording clock)
    sfreq: float


def plant(sfreq: float = 250.0, seed: int = 0) -> Planted:
    """Fixations of 300 ms joined by 40 ms saccades; in shot 1 (video 2–4 s) every other fixation
    lies in the letterbox (off the video); a 200 ms blink at video time 0.5 s."""
    rng = np.random.default_rng(seed)
    total = ONSET_S + DURATION_S + 0.5
    t = np.arange(0, total, 1 / sfreq)
    x = np.full(t.size, np.nan)
    y = np.full(t.size, np.nan)
    fixations = []
    start, k, prev = 0.0, 0, (960.0, 600.0)
    while start + 0.3 < total:
        tv = start - ONSET_S
        off_video = tv >= 2.0 and k % 2 == 1
        target = (
            float(rng.uniform(200, 1700)),
            20.0 if off_video else float(rng.uniform(200, 1000)),
        )
        sac = (t >= start - 0.04) & (t < start)
        if sac.any():  # linear saccade from the previous target
            a = (t[sac] - (start - 0.04)) / 0.04
            x[sac] = prev[0] + a * (target[0] - prev[0])
            y[sac] = prev[1] + a * (target[1] - prev[1])
        m = (t >= start) & (t < start + 0.3)
        x[m] = target[0] + rng.normal(0, 3, m.sum())
        y[m] = target[1] + rng.normal(0, 3, m.sum())
        fixations.append((start, start + 0.3, *target))
        prev, start, k = target, start + 0.34, k + 1
    blink = (t >= ONSET_S + 0.5) & (t < ONSET_S + 0.7)
    x[blink] = np.nan
    y[blink] = np.nan
    return Planted(t, x, y, np.isfinite(x), fixations, sfreq)


def write_sidecar(path: Path, sfreq: float, fmt: str, **override) -> None:
    meta = {"sfreq_hz": sfreq, "tracker": "test", "format": fmt, **SCREEN, **override}
    path.with_suffix(".json").write_text(
        json.dumps({k: v for k, v in meta.items() if v is not None})
    )


def write_asc(
    path: Path, p: Planted, *, with_events: bool = True, times_ms: np.ndarray | None = None
) -> Path:
    """EyeLink ASC as edf2asc writes it (monocular left, pupil area), readable by MNE."""
    t0 = 1_000_000
    ms = times_ms if times_ms is not None else t0 + np.round(p.t * 1000).astype(int)
    rate = f"{p.sfreq:.2f}"
    lines = ["** CONVERTED FROM test.edf using edfapi 4.2.1", "** DATE: Sun Mar 03 09:00:00 2024",
             "** TYPE: EDF_FILE BINARY EVENT SAMPLE TAGGED", "** VERSION: EYELINK II 1", "** SOURCE: EYELINK CL", "**",
             f"MSG\t{t0} DISPLAY_COORDS 0 0 1919 1199", f"MSG\t{t0} RECCFG CR {int(p.sfreq)} 2 1 L",
             f"START\t{t0} \tLEFT\tSAMPLES\tEVENTS", "PRESCALER\t1", "VPRESCALER\t1", "PUPIL\tAREA",
             f"EVENTS\tGAZE\tLEFT\tRATE\t {rate}\tTRACKING\tCR\tFILTER\t2",
             f"SAMPLES\tGAZE\tLEFT\tRATE\t {rate}\tTRACKING\tCR\tFILTER\t2"]  # fmt: skip
    events = []
    if with_events:
        for on, off, fx, fy in p.fixations:
            a, b = t0 + round(on * 1000), t0 + round(off * 1000) - 4
            events.append((b, f"EFIX L   {a}\t{b}\t{b - a}\t  {fx:.1f}\t   {fy:.1f}\t  900"))
    events.append((t0 + round(ONSET_S * 1000), f"MSG\t{t0 + round(ONSET_S * 1000)} video_onset"))
    off_ms = t0 + round((ONSET_S + DURATION_S) * 1000)
    events.append((off_ms, f"MSG\t{off_ms} video_offset"))
    events.sort()
    ei = 0
    for i, ti in enumerate(ms):
        while ei < len(events) and events[ei][0] <= ti:
            lines.append(events[ei][1])
            ei += 1
        if p.valid[i]:
            lines.append(f"{ti}\t  {p.x[i]:.1f}\t  {p.y[i]:.1f}\t  900.0\t...")
        else:
            lines.append(f"{ti}\t   .\t   .\t     0.0\t...")
    lines += [e[1] for e in events[ei:]]
    lines.append(f"END\t{ms[-1]} \tSAMPLES\tEVENTS\tRES\t  38.00\t  38.00")
    path.write_text("\n".join(lines) + "\n")
    write_sidecar(path, p.sfreq, "eyelink_asc")
    return path


TOBII_HEADER = ["Recording timestamp [μs]", "Gaze point X [DACS px]", "Gaze point Y [DACS px]",
                "Pupil diameter left [mm]", "Validity left", "Eye movement type", "Event"]  # fmt: skip


def write_tsv(path: Path, p: Planted, *, header: list[str] | None = None) -> Path:
    """Tobii Pro Lab data export (µs timestamps, DACS px, events as rows with an empty gaze)."""
    fix = np.zeros(p.t.size, bool)
    for on, off, *_ in p.fixations:
        fix |= (p.t >= on) & (p.t < off)
    rows = ["\t".join(header or TOBII_HEADER)]
    marks = {
        round(ONSET_S * 1e6): "video_onset",
        round((ONSET_S + DURATION_S) * 1e6): "video_offset",
    }
    for i, ti in enumerate(np.round(p.t * 1e6).astype(int)):
        for m in [m for m in marks if m <= ti]:
            rows.append(f"{m}\t\t\t\t\t\t{marks.pop(m)}")
        if p.valid[i]:
            kind = "Fixation" if fix[i] else "Saccade"
            rows.append(f"{ti}\t{p.x[i]:.1f}\t{p.y[i]:.1f}\t3.1\tValid\t{kind}\t")
        else:
            rows.append(f"{ti}\t\t\t\tInvalid\tEyesNotFound\t")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    write_sidecar(path, p.sfreq, "tobii_tsv")
    return path


def write_csv(path: Path, p: Planted) -> Path:
    """A lab's own CSV: time in ms, columns named ts/gx/gy/pd, events in a `marker` column."""
    rows = ["ts,gx,gy,pd,marker"]
    for ti, xi, yi in zip(p.t * 1000, p.x, p.y, strict=True):
        rows.append(
            f"{ti:.3f},{'' if np.isnan(xi) else f'{xi:.1f}'},{'' if np.isnan(yi) else f'{yi:.1f}'},3.0,"
        )
    rows.append(f"{ONSET_S * 1000:.3f},,,,video_onset")
    path.write_text("\n".join(rows) + "\n")
    write_sidecar(path, p.sfreq, "csv")
    return path


@pytest.fixture(scope="module")
def planted() -> Planted:
    return plant()


@pytest.fixture
def asc_file(tmp_path, planted) -> Path:
    return write_asc(tmp_path / "sub-01_task-ad000_eyetrack.asc", planted)


@pytest.fixture
def tsv_file(tmp_path) -> Path:
    return write_tsv(tmp_path / "sub-01_task-ad000_eyetrack.tsv", plant(sfreq=60.0, seed=1))
