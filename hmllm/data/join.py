"""Join the signal outputs (contract §2) into one per-participant per-shot table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hmllm.errors import DataError

KEYS = ["participant_id", "ad_id", "shot"]


def read_per_shot(deriv: Path, source: str, *, min_valid_fraction: float) -> pd.DataFrame:
    """Per-shot long table of one signal source, missing shots and unusable recordings as NaN.

    Parameters
    ----------
    deriv : Path
        ``<study_root>/derivatives``.
    source : str
        ``eeg`` or ``eyetrack``.
    min_valid_fraction : float
        A shot whose ``valid_fraction`` is below this (0–1) counts as missing, on top of the
        stage's own ``missing`` flag.

    Returns
    -------
    DataFrame
        ``participant_id, ad_id, shot, index, value`` with ``value`` NaN where missing (never filled).
    """
    path = deriv / source / "per_shot.parquet"
    if not path.is_file():
        raise DataError(
            f"{path} not found; run `hmllm {source}` first (or keep {source!r} in data.run_stages)"
        )
    df = pd.read_parquet(path)
    need = [*KEYS, "index", "value", "valid_fraction", "missing"]
    lacking = [c for c in need if c not in df.columns]
    if lacking:
        raise DataError(
            f"{path} lacks column(s) {lacking} (docs/contracts.md §2); re-run `hmllm {source}`"
        )
    bad = df["missing"].astype(bool) | (df["valid_fraction"].astype(float) < min_valid_fraction)
    qpath = deriv / source / "quality.parquet"
    if qpath.is_file():
        q = pd.read_parquet(qpath, columns=["participant_id", "ad_id", "usable"])
        unusable = q.loc[~q["usable"].astype(bool), ["participant_id", "ad_id"]].assign(
            _unusable=True
        )
        flag = df[["participant_id", "ad_id"]].merge(
            unusable, on=["participant_id", "ad_id"], how="left"
        )["_unusable"]
        bad |= flag.fillna(False).astype(bool).to_numpy()
    out = df[[*KEYS, "index"]].copy()
    out["value"] = df["value"].astype(float).where(~bad.to_numpy(), np.nan)
    out["shot"] = out["shot"].astype("int64")
    return out


def participant_shot_table(deriv: Path, indices: dict, participants: pd.DataFrame, *,
                           min_valid_fraction: float) -> pd.DataFrame:  # fmt: skip
    """One row per (participant, ad, shot) with the label indices (raw, NaN where missing) + attributes.

    Parameters
    ----------
    deriv : Path
        ``<study_root>/derivatives``.
    indices : dict
        ``label name → {"source": "eeg"|"eyetrack", "index": name in §2}`` (``en → eeg/engagement``).
    participants : DataFrame
        ``participants.tsv``; its attribute columns are joined on.
    min_valid_fraction : float
        Shots with a lower ``valid_fraction`` (0–1) count as missing.

    Raises
    ------
    DataError
        An index is absent from its table, or no recording has any usable value.
    """
    tables: dict[str, pd.DataFrame] = {}
    out = None
    for name, spec in indices.items():
        src = spec["source"]
        if src not in tables:
            tables[src] = read_per_shot(deriv, src, min_valid_fraction=min_valid_fraction)
        df = tables[src]
        df = df[df["index"] == spec["index"]]
        if df.empty:
            raise DataError(f"{deriv / src / 'per_shot.parquet'} has no index {spec['index']!r} (data.indices.{name}); "
                            f"indices there: {sorted(tables[src]['index'].unique())[:10]}")  # fmt: skip
        df = df[[*KEYS, "value"]].rename(columns={"value": name})
        out = df if out is None else out.merge(df, on=KEYS, how="outer")
    if out[list(indices)].notna().sum().sum() == 0:
        raise DataError(f"no usable recordings under {deriv}: every shot of every index is missing; "
                        "check the quality.parquet flags of the eeg/eyetrack stages")  # fmt: skip
    unknown = sorted(set(out["participant_id"]) - set(participants["participant_id"]))
    if unknown:
        raise DataError(f"signal outputs under {deriv} have participant(s) {unknown[:5]} that are not in "
                        "bids/participants.tsv; re-run the stages or fix participants.tsv")  # fmt: skip
    out = out.merge(participants, on="participant_id", how="left")
    return out.sort_values(KEYS).reset_index(drop=True)


def wide_signals(
    deriv: Path, exclude: dict[str, set[str]], *, min_valid_fraction: float
) -> pd.DataFrame:
    """Every other per-shot index as ``sig_<source>_<index>`` columns, one row per (participant, ad, shot).

    ``exclude`` maps a source to the index names already used as labels (they are not repeated).
    """
    frames = []
    for source in ("eeg", "eyetrack"):
        if not (deriv / source / "per_shot.parquet").is_file():
            continue
        df = read_per_shot(deriv, source, min_valid_fraction=min_valid_fraction)
        df = df[~df["index"].isin(exclude.get(source, set()))]
        wide = df.pivot_table(
            index=KEYS, columns="index", values="value", aggfunc="mean", dropna=False
        )
        wide.columns = [f"sig_{source}_{c}" for c in wide.columns]
        frames.append(wide)
    if not frames:
        return pd.DataFrame(columns=KEYS)
    return pd.concat(frames, axis=1).reset_index()
