"""Group labels: aggregate per (ad, shot, group) with a k-anonymity floor, then bin into classes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from hmllm.errors import ConfigError, DataError

INDEX_NAMES = ("en", "em", "emr")
CELL = ["ad_id", "shot", "group"]


def group_means(pshot: pd.DataFrame, member: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Mean, SD (ddof=1) and contributor count of ``columns`` per (ad, shot, group).

    ``member`` is the long ``participant_id, group`` table; a participant contributes to an index
    only where that index is not missing, so ``n_<index>`` can differ between indices.
    """
    long = pshot[["participant_id", "ad_id", "shot", *columns]].merge(member, on="participant_id")
    agg = long.groupby(CELL, sort=True)[columns].agg(["mean", "std", "count"])
    out = pd.DataFrame(index=agg.index)
    for c in columns:
        out[c] = agg[(c, "mean")]
        out[f"{c}_sd"] = agg[(c, "std")]
        out[f"n_{c}"] = agg[(c, "count")].astype("int64")
    return out.reset_index()


def group_labels(
    pshot: pd.DataFrame, member: pd.DataFrame, k: int, columns: tuple[str, ...] = INDEX_NAMES
) -> pd.DataFrame:
    """Group-mean labels with the k-anonymity floor applied.

    ``n_participants`` is the smallest contributor count over the indices (``min n_<index>``), so
    every reported mean pools at least that many people; a cell with ``n_participants < k`` is
    dropped, so a group smaller than k never appears anywhere downstream.
    """
    if int(k) < 1:
        raise ConfigError(f"audience.k_anonymity must be >= 1, got {k}")
    lab = group_means(pshot, member, list(columns))
    lab["n_participants"] = lab[[f"n_{c}" for c in columns]].min(axis=1).astype("int64")
    largest = int(lab["n_participants"].max()) if len(lab) else 0
    lab = lab[lab["n_participants"] >= int(k)].reset_index(drop=True)
    if lab.empty:
        raise DataError(
            f"no (ad, shot, group) cell reaches the k-anonymity floor k={k} (largest cell has "
            f"{largest} participants); lower audience.k_anonymity "
            "for a pilot study, or record more participants"
        )
    return lab


def _quantile(values: np.ndarray, spec: dict) -> list[float]:
    qs = [float(q) for q in spec["quantiles"]]
    if any(not 0.0 < q < 1.0 for q in qs) or qs != sorted(qs):
        raise ConfigError(f"data.classes.*.quantiles must be increasing and in (0, 1), got {qs}")
    return [float(np.quantile(values, q)) for q in qs]


def _fixed(values: np.ndarray, spec: dict) -> list[float]:
    return [float(x) for x in spec["fixed"]]


# Binning methods by name (config `data.classes.method`): (train values, index spec) -> cut points.
BINNERS: dict[str, Callable[[np.ndarray, dict], list[float]]] = {
    "quantile": _quantile,
    "fixed": _fixed,
}


def class_thresholds(train_values: pd.Series, spec: dict, method: str) -> list[float]:
    """Cut points of one index.

    ``quantile``: quantiles of the TRAIN-split group means only (so test labels never shape the
    thresholds); ``fixed``: the configured values (in the units after normalisation). There must be
    one cut point fewer than class names.
    """
    if method not in BINNERS:
        raise ConfigError(f"data.classes.method must be one of {sorted(BINNERS)}, got {method!r}")
    v = train_values.dropna().to_numpy(float)
    if v.size == 0:
        raise DataError(
            "no training-split values to compute class thresholds from; check the splits"
        )
    thr = BINNERS[method](v, spec)
    if len(thr) != len(spec["names"]) - 1:
        raise ConfigError(f"data.classes: {len(spec['names'])} class names {spec['names']} need "
                          f"{len(spec['names']) - 1} thresholds, got {thr}")  # fmt: skip
    if thr != sorted(thr):
        raise ConfigError(f"data.classes thresholds must increase, got {thr}")
    return thr


def bin_values(values: pd.Series, thresholds: list[float]) -> pd.Series:
    """Class index per value: class i holds ``thresholds[i-1] <= x < thresholds[i]``; NaN → -1 (int8)."""
    x = values.to_numpy(float)
    out = np.searchsorted(np.asarray(thresholds, float), x, side="right").astype(np.int8)
    out[~np.isfinite(x)] = -1
    return pd.Series(out, index=values.index, dtype=np.int8)
