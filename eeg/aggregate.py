"""Per-shot aggregation of per-second indices, with the share of valid data per shot."""

from __future__ import annotations

import numpy as np
import pandas as pd


def per_shot(
    per_second: pd.DataFrame, shots: pd.DataFrame, *, min_valid_fraction: float
) -> pd.DataFrame:
    """Mean of valid seconds per shot and index; shots with too little clean data are missing.

    Parameters
    ----------
    per_second
        Long table ``second, index, value, valid`` (+ key columns carried through); ``second`` s
        covers video time [s, s + 1).
    shots
        ``shot, onset_s, offset_s`` (seconds of video time).
    min_valid_fraction
        Below this share of valid seconds a shot gets ``missing=True`` and ``value=NaN`` (never
        filled).
    """
    keys = [c for c in per_second.columns if c not in ("second", "index", "value", "valid")]
    cols = [*keys, "shot", "index", "value", "valid_fraction", "missing"]
    if per_second.empty:
        return pd.DataFrame(columns=cols)
    onsets = shots["onset_s"].to_numpy(float)
    offsets = shots["offset_s"].to_numpy(float)
    sec = per_second["second"].to_numpy()
    centres = sec + 0.5
    pos = np.searchsorted(onsets, centres, side="right") - 1
    inside = (pos >= 0) & (centres < offsets[-1] + 0.5)
    # a shot shorter than a second contains no centre: it takes the second its middle falls in
    covered = np.bincount(pos[inside], minlength=len(shots)) > 0
    mids = np.floor(0.5 * (onsets + offsets)).astype(int)
    rows = [np.flatnonzero(inside)]
    shot_pos = [pos[inside]]
    for k in np.flatnonzero(~covered):
        r = np.flatnonzero(sec == mids[k])
        rows.append(r)
        shot_pos.append(np.full(len(r), k))
    rows = np.concatenate(rows)
    shot_pos = np.concatenate(shot_pos)
    codes, names = pd.factorize(per_second["index"].to_numpy()[rows], sort=True)
    # group = (shot, index): sorted by shot, then index name, as a sorted groupby would be
    gid = shot_pos * len(names) + codes
    value = per_second["value"].to_numpy(float)[rows]
    ok = per_second["valid"].to_numpy(bool)[rows] & np.isfinite(value)
    size = len(shots) * len(names)
    n = np.bincount(gid, minlength=size)
    n_ok = np.bincount(gid, weights=ok, minlength=size)
    total = np.bincount(gid, weights=np.where(ok, value, 0.0), minlength=size)
    present = np.flatnonzero(n)
    frac = n_ok[present] / n[present]
    missing = frac < min_valid_fraction
    out = pd.DataFrame({
        "shot": shots["shot"].to_numpy()[present // len(names)],
        "index": names[present % len(names)],
        "value": np.where(missing, np.nan, total[present] / np.maximum(n_ok[present], 1)),
        "valid_fraction": frac,
        "missing": missing,
    })  # fmt: skip
    if keys:
        _, first = np.unique(gid, return_index=True)  # first row of each group, in group order
        carried = per_second[keys].iloc[rows[first]].reset_index(drop=True)
        out = pd.concat([carried, out], axis=1)
    return out[cols]
