"""Fixation detection when a file carries no tracker events: I-VT / I-DT from pymovements."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from eyetrack.geometry import px_to_deg


def _velocity_deg_s(
    t: np.ndarray, x: np.ndarray, y: np.ndarray, geometry: dict, smooth_window_s: float
) -> np.ndarray:
    """Gaze velocity (deg/s, columns x and y) by a Savitzky-Golay derivative.

    The same as pymovements'
    ``pos2vel(method="savitzky_golay")``; done with SciPy on the whole array because it is
    ~50x faster than building a pymovements Gaze frame per recording (see bench/eyetrack_events.py).
    """
    from scipy.signal import savgol_filter

    dt = float(np.median(np.diff(t)))
    n = max(3, int(round(smooth_window_s / dt)) | 1)  # odd window, ≥ 3 samples
    if len(t) <= n:
        n = 3
    vx = px_to_deg(savgol_filter(x, n, 2, deriv=1, delta=dt), geometry)
    vy = px_to_deg(savgol_filter(y, n, 2, deriv=1, delta=dt), geometry)
    return np.column_stack([vx, vy])


def ivt(t: np.ndarray, x: np.ndarray, y: np.ndarray, geometry: dict, *, velocity_threshold_deg_s: float,
        min_duration_s: float, smooth_window_s: float = 0.028) -> pd.DataFrame:  # fmt: skip
    """Fixations by velocity threshold (pymovements' I-VT); returns ``onset_s, offset_s``."""
    import pymovements as pm

    vel = _velocity_deg_s(t, x, y, geometry, smooth_window_s)
    ms = np.round(t * 1000).astype(np.int64)
    ev = pm.events.ivt(vel, timesteps=ms, minimum_duration=int(min_duration_s * 1000),
                       velocity_threshold=float(velocity_threshold_deg_s))  # fmt: skip
    f = ev.frame
    return pd.DataFrame({"kind": "fixation", "onset_s": f["onset"].to_numpy() / 1000.0,
                         "offset_s": f["offset"].to_numpy() / 1000.0})  # fmt: skip


def idt(t: np.ndarray, x: np.ndarray, y: np.ndarray, geometry: dict, *, dispersion_deg: float,
        min_duration_s: float) -> pd.DataFrame:  # fmt: skip
    """Fixations by dispersion threshold (pymovements' I-DT); returns ``onset_s, offset_s``.

    pymovements' I-DT needs a constant step, so it runs on sample indices of the valid samples and
    the onsets/offsets are mapped back to their times (a blink gap cannot join two fixations
    because the gaze lands elsewhere after it, which breaks the dispersion window).
    """
    import pymovements as pm

    pos = np.column_stack([px_to_deg(x, geometry), px_to_deg(y, geometry)])
    dt = float(np.median(np.diff(t)))
    ev = pm.events.idt(positions=pos, timesteps=np.arange(len(t), dtype=np.int64),
                       minimum_duration=max(2, int(np.ceil(min_duration_s / dt))),
                       dispersion_threshold=float(dispersion_deg))  # fmt: skip
    f = ev.frame
    on = f["onset"].to_numpy().astype(int)
    off = np.minimum(f["offset"].to_numpy().astype(int), len(t) - 1)
    return pd.DataFrame({"kind": "fixation", "onset_s": t[on], "offset_s": t[off] + dt})


DETECTORS: dict[str, Callable[..., pd.DataFrame]] = {"ivt": ivt, "idt": idt}


def match_fixations(
    detected: pd.DataFrame, reference: pd.DataFrame, *, min_overlap: float = 0.5
) -> dict[str, float]:
    """Compare detected fixations with reference ones (e.g. a generator's truth) on the same clock.

    A reference fixation counts as found when a detected fixation overlaps it in time by at least
    ``min_overlap`` of the shorter of the two (greedy one-to-one in time order). Both frames need
    ``onset_s, offset_s`` (s). Returns ``recall``, ``precision``, the median absolute onset and
    offset error of matched pairs (s) and the counts.
    """
    d = detected.sort_values("onset_s")[["onset_s", "offset_s"]].to_numpy(float)
    r = reference.sort_values("onset_s")[["onset_s", "offset_s"]].to_numpy(float)
    used = np.zeros(len(d), bool)
    errs = []
    j0 = 0
    for on, off in r:
        while j0 < len(d) and d[j0, 1] <= on:  # detected fixations ending before this one starts
            j0 += 1
        j = j0
        while j < len(d) and d[j, 0] < off:
            overlap = min(off, d[j, 1]) - max(on, d[j, 0])
            if not used[j] and overlap >= min_overlap * min(off - on, d[j, 1] - d[j, 0]):
                used[j] = True
                errs.append((abs(d[j, 0] - on), abs(d[j, 1] - off)))
                break
            j += 1
    e = np.asarray(errs).reshape(-1, 2)
    return {"recall": len(e) / max(len(r), 1), "precision": len(e) / max(len(d), 1),
            "onset_err_s": float(np.median(e[:, 0])) if len(e) else np.nan,
            "offset_err_s": float(np.median(e[:, 1])) if len(e) else np.nan,
            "n_reference": float(len(r)), "n_detected": float(len(d))}  # fmt: skip
