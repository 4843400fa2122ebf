"""Fixation detection when a file carries no tracker events: I-VT / I-DT from pymovements."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from eyetrack.geometry import px_to_deg


def _velocity_deg_s(t: np.ndarray, x: np.ndarray, y: np.ndarray, geometry: dict) -> np.ndarray:
    dt = np.gradient(t)
    vx = px_to_deg(np.gradient(x), geometry) / dt
    vy = px_to_deg(np.gradient(y), geometry) / dt
    return np.column_stack([vx, vy])


def ivt(t: np.ndarray, x: np.ndarray, y: np.ndarray, geometry: dict, *, velocity_threshold_deg_s: float,
        min_duration_s: float) -> pd.DataFrame:  # fmt: skip
    """Fixations by velocity threshold (pymovements' I-VT); returns ``onset_s, offset_s``."""
    import pymovements as pm

    vel = _velocity_deg_s(t, x, y, geometry)
    ms = np.round(t * 1000).astype(np.int64)
    ev = pm.events.ivt(vel, timesteps=ms, minimum_duration=int(min_duration_s * 1000),
                       velocity_threshold=float(velocity_threshold_deg_s))  # fmt: skip
    f = ev.frame
    return pd.DataFrame({"kind": "fixation", "onset_s": f["onset"].to_numpy() / 1000.0,
                         "offset_s": f["offset"].to_numpy() / 1000.0})  # fmt: skip


def idt(t: np.ndarray, x: np.ndarray, y: np.ndarray, geometry: dict, *, dispersion_deg: float,
        min_duration_s: float) -> pd.DataFrame:  # fmt: skip
    """Fixations by dispersion threshold (pymovements' I-DT)."""
    import pymovements as pm

    pos = np.column_stack([px_to_deg(x, geometry), px_to_deg(y, geometry)])
    ms = np.round(t * 1000).astype(np.int64)
    ev = pm.events.idt(positions=pos, timesteps=ms, minimum_duration=int(min_duration_s * 1000),
                       dispersion_threshold=float(dispersion_deg))  # fmt: skip
    f = ev.frame
    return pd.DataFrame({"kind": "fixation", "onset_s": f["onset"].to_numpy() / 1000.0,
                         "offset_s": f["offset"].to_numpy() / 1000.0})  # fmt: skip


DETECTORS: dict[str, Callable[..., pd.DataFrame]] = {"ivt": ivt, "idt": idt}
