"""Per-shot aggregation of per-second indices, with the share of valid data per shot."""

from __future__ import annotations

import numpy as np
import pandas as pd


def per_shot(per_second: pd.DataFrame, shots: pd.DataFrame, *, min_valid_fraction: float) -> pd.DataFrame:
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
    centres = per_second["second"].to_numpy() + 0.5
    onsets = shots["onset_s"].to_numpy()
    shot_of = np.searchsorted(onsets, centres, side="right") - 1
    df = per_second.assign(shot=shots["shot"].to_numpy()[np.clip(shot_of, 0, len(shots) - 1)])
    df = df[(shot_of >= 0) & (centres < shots["offset_s"].max() + 0.5)]
    rows = []
    for (k, index), g in df.groupby(["shot", "index"], sort=True):
        ok = g["valid"].to_numpy(bool) & np.isfinite(g["value"].to_numpy(float))
        frac = float(ok.mean()) if len(g) else 0.0
        missing = frac < min_valid_fraction
        rows.append({**{c: g[c].iloc[0] for c in keys}, "shot": int(k), "index": index,
                     "value": float(g["value"][ok].mean()) if not missing else np.nan,
                     "valid_fraction": frac, "missing": bool(missing)})  # fmt: skip
    # shots shorter than a second get no centre inside them: take the second they fall in
    have = {r["shot"] for r in rows}
    for sh in shots.itertuples():
        if int(sh.shot) in have:
            continue
        sec = int(np.floor(0.5 * (sh.onset_s + sh.offset_s)))
        g = per_second[per_second["second"] == sec]
        for r in g.itertuples():
            rows.append({**{c: getattr(r, c) for c in keys}, "shot": int(sh.shot), "index": r.index,
                         "value": float(r.value) if r.valid else np.nan,
                         "valid_fraction": float(r.valid), "missing": not bool(r.valid)})  # fmt: skip
    out = pd.DataFrame(rows)
    return out.sort_values(["shot", "index"], kind="stable").reset_index(drop=True) if len(out) else out
