"""Group-level signal features and fixation saliency maps for the labelled cells."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from hmllm.data.labels import CELL

FIXATION_COLUMNS = ["participant_id", "ad_id", "shot", "onset_s", "offset_s", "x", "y", "on_video"]


def group_signals(wide: pd.DataFrame, member: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Group means of the ``sig_*`` columns of ``wide`` (per participant × shot), on ``cells``.

    Returns ``ad_id, shot, group, sig_...`` with one row per labelled cell (NaN where nobody in the
    group had a valid value).
    """
    sig_cols = [c for c in wide.columns if c.startswith("sig_")]
    if not sig_cols:
        return cells[CELL].copy()
    long = wide.merge(member, on="participant_id")
    means = long.groupby(CELL)[sig_cols].mean().reset_index()
    out = cells[CELL].merge(means, on=CELL, how="left")
    out[sig_cols] = out[sig_cols].astype("float32")
    return out


def read_fixations(deriv: Path) -> pd.DataFrame:
    """``<derivatives>/eyetrack/fixations.parquet`` restricted to on-video fixations (empty if absent)."""
    path = deriv / "eyetrack" / "fixations.parquet"
    if not path.is_file():
        return pd.DataFrame({c: pd.Series(dtype=float) for c in FIXATION_COLUMNS})
    fix = pd.read_parquet(path)
    fix = fix[fix["on_video"].astype(bool)]
    return fix.assign(duration_s=(fix["offset_s"] - fix["onset_s"]).clip(lower=0.0))


def saliency_maps(fix: pd.DataFrame, member: pd.DataFrame, cells: pd.DataFrame, *, shape: tuple[int, int],
                  sigma_frac: float, progress: bool = True) -> dict[str, np.ndarray]:  # fmt: skip
    """Duration-weighted Gaussian fixation density per labelled (ad, shot, group).

    Uses :func:`eyetrack.heatmap.fixation_map` (x, y in 0–1 video coordinates; ``sigma_frac`` is the
    blur as a fraction of the video width). A cell with no on-video fixation gets the uniform map,
    so every map sums to 1.

    Returns
    -------
    dict
        ``maps (N, H, W) float32``, ``ad_id (N,)``, ``shot (N,)``, ``group (N,)`` in ``cells`` order.
    """
    from eyetrack.heatmap import fixation_map

    h, w = int(shape[0]), int(shape[1])
    long = fix.merge(member, on="participant_id")
    by_cell = dict(iter(long.groupby(CELL)))
    maps = np.empty((len(cells), h, w), np.float32)
    uniform = np.full((h, w), 1.0 / (h * w), np.float32)
    rows = cells[CELL].itertuples(index=False)
    for i, r in enumerate(
        tqdm(rows, total=len(cells), desc="saliency", unit="cell", disable=not progress)
    ):
        f = by_cell.get((r.ad_id, r.shot, r.group))
        if f is None or f.empty or float(f["duration_s"].sum()) <= 0.0:
            maps[i] = uniform
            continue
        m = fixation_map(f["x"].to_numpy(float), f["y"].to_numpy(float), f["duration_s"].to_numpy(float),
                         shape=(h, w), sigma_frac=sigma_frac)  # fmt: skip
        total = float(m.sum())
        maps[i] = (m / total).astype(np.float32) if total > 0 else uniform
    return {
        "maps": maps,
        "ad_id": cells["ad_id"].to_numpy(str),
        "shot": cells["shot"].to_numpy(np.int64),
        "group": cells["group"].to_numpy(str),
    }
