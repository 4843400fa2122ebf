"""Per-participant normalisation of the per-shot indices (so between-person offsets don't swamp content)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hmllm.errors import ConfigError

NORMALISERS = ("none", "zscore", "center", "baseline")


def normalise(pshot: pd.DataFrame, columns: list[str], method: str) -> pd.DataFrame:
    """Normalise ``columns`` within each participant, across all shots of all ads they watched.

    Parameters
    ----------
    pshot : DataFrame
        ``participant_id`` + the index columns (NaN = missing shot; never filled).
    columns : list of str
        Index columns to normalise (e.g. ``["en", "em", "emr"]``).
    method : str
        ``zscore``: (x − participant mean) / participant SD (unitless; a participant with zero SD
        gets NaN, as their ranking of shots is undefined). ``center``: x − participant mean (units
        kept). ``none`` / ``baseline``: unchanged — ``baseline`` documents that the upstream values are
        already relative to each participant's calm-video baseline (``eeg.use_baseline``).

    Returns
    -------
    DataFrame
        A copy with ``columns`` replaced.
    """
    if method not in NORMALISERS:
        raise ConfigError(f"data.normalise must be one of {NORMALISERS}, got {method!r}")
    out = pshot.copy()
    if method in ("none", "baseline"):
        return out
    for col in columns:
        g = out.groupby("participant_id")[col]
        centred = out[col] - g.transform("mean")
        if method == "zscore":
            sd = g.transform("std").replace(0.0, np.nan)  # sample SD (ddof=1)
            centred = centred / sd
        out[col] = centred
    return out
