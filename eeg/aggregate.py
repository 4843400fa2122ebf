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
    if per_second.empty:
        return pd.DataFrame(columns=[*keys, "shot", "index", "value", "valid_fraction", "missing"])
    onsets = shots["onset_s"].to_numpy(float)
    offsets = shots["offset_s"].to_numpy(float)
    sec = per_second["second"].to_numpy()
    centres = sec + 0.5
    pos = np.searchsorted(onsets, centres, side="right") - 1
    # a shot shorter than a second contains no centre: it takes the second its middle falls in
    mids = np.floor(0.5 * (onsets + offsets)).astype(int)
    covered = (
        np.bincount(
            np.clip(pos, 0, len(shots) - 1)[(pos >= 0) & (centres < offsets[-1] + 0.5)],
            minlength=len(shots),
        )
        > 0
    )
    frames = []
    inside = (pos >= 0) & (centres < offsets[-1] + 0.5)
    frames.append(per_second[inside].assign(shot=shots["shot"].to_numpy()[pos[inside]]))
    for k in np.flatnonzero(~covered):
        frames.append(per_second[sec == mids[k]].assign(shot=int(shots["shot"].iloc[k])))
    df = pd.concat(frames, ignore_index=True)
    ok = df["valid"].to_numpy(bool) & np.isfinite(df["value"].to_numpy(float))
    df = df.assign(_ok=ok, _v=np.where(ok, df["value"].to_numpy(float), 0.0))
    g = df.groupby(["shot", "index"], sort=True)
    agg = g.agg(_n=("_ok", "size"), _nok=("_ok", "sum"), _sum=("_v", "sum"))
    first = g[keys].first() if keys else None
    out = agg.reset_index()
    out["valid_fraction"] = out["_nok"] / out["_n"]
    out["missing"] = out["valid_fraction"] < min_valid_fraction
    out["value"] = np.where(out["missing"], np.nan, out["_sum"] / out["_nok"].clip(lower=1))
    if first is not None:
        out = pd.concat([first.reset_index(drop=True), out], axis=1)
    return out[[*keys, "shot", "index", "value", "valid_fraction", "missing"]].reset_index(
        drop=True
    )
