"""Instruction examples for the language stage: JSONL Q&A joined with each ad's shot features."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hmllm.errors import DataError

REQUIRED_KEYS = ("ad_id", "question", "answer")


@dataclass
class ShotBank:
    """Standardised shot features per ad: ``features[ad_id]`` is ``(n_shots, n_features)`` float32."""

    features: dict[str, np.ndarray]
    feature_names: list[str]
    mean: np.ndarray
    std: np.ndarray

    def for_ad(self, ad_id: str) -> np.ndarray:
        """Return the standardised ``(n_shots, n_features)`` matrix of one ad."""
        if ad_id not in self.features:
            raise DataError(f"ad {ad_id!r} has no shot features in the prepared dataset")
        return self.features[ad_id]


def read_instructions(path: Path) -> list[dict]:
    """Read an instruction JSONL file, validating each line.

    Raises
    ------
    DataError
        If the file is missing, a line is not JSON, or a record lacks ``ad_id``/``question``/
        ``answer`` — naming the file and line number.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found; run `hmllm prepare` first to write instructions.jsonl")
    records = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            missing = [k for k in REQUIRED_KEYS if k not in rec]
            if missing:
                raise DataError(
                    f"{path}:{lineno}: record lacks {missing}; each needs {REQUIRED_KEYS}"
                )
            records.append(rec)
    if not records:
        raise DataError(f"{path} holds no instructions")
    return records


def load_shot_bank(features_path: Path, train_ads: list[str] | None = None) -> ShotBank:
    """Load ``features.parquet`` and standardise each feature with train-ad statistics.

    Parameters
    ----------
    features_path
        ``prepared/features.parquet`` with ``ad_id``, ``shot`` and numeric feature columns.
    train_ads
        Ads whose shots define the mean/std (avoids test leakage); all ads when ``None``.
    """
    features_path = Path(features_path)
    if not features_path.is_file():
        raise DataError(f"{features_path} not found; run `hmllm prepare` first")
    df = pd.read_parquet(features_path)
    for col in ("ad_id", "shot"):
        if col not in df.columns:
            raise DataError(f"{features_path} lacks the key column {col!r}")
    names = [
        c
        for c in df.columns
        if c not in ("ad_id", "shot", "split") and pd.api.types.is_numeric_dtype(df[c])
    ]
    if not names:
        raise DataError(f"{features_path} has no numeric feature columns")
    df = df.sort_values(["ad_id", "shot"])
    ref = df[df["ad_id"].isin(train_ads)] if train_ads else df
    mat = ref[names].to_numpy(np.float64)
    mean = np.nanmean(mat, axis=0)
    std = np.nanstd(mat, axis=0)
    std[~np.isfinite(std) | (std < 1e-8)] = 1.0
    mean[~np.isfinite(mean)] = 0.0
    bank = {}
    for ad_id, g in df.groupby("ad_id", sort=True):
        x = (g[names].to_numpy(np.float64) - mean) / std
        bank[str(ad_id)] = np.nan_to_num(x, nan=0.0).astype(np.float32)
    return ShotBank(bank, names, mean.astype(np.float32), std.astype(np.float32))


def ad_splits(prepared: Path) -> dict[str, str]:
    """Map ``ad_id`` → split from ``prepared/ads.parquet`` (or ``labels.parquet``)."""
    prepared = Path(prepared)
    for name in ("ads.parquet", "labels.parquet"):
        p = prepared / name
        if p.is_file():
            df = pd.read_parquet(p, columns=["ad_id", "split"]).drop_duplicates("ad_id")
            return dict(zip(df["ad_id"].astype(str), df["split"].astype(str), strict=True))
    raise DataError(f"{prepared} has neither ads.parquet nor labels.parquet with a split column")
