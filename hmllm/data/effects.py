"""Ad-level effect indicators from ``outcomes.tsv``: CTR and completion rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hmllm.errors import DataError

OUTCOME_COLUMNS = ("ad_id", "impressions", "clicks", "completions")


def read_outcomes(path: Path) -> pd.DataFrame:
    """Read and validate ``outcomes.tsv``; return ``ad_id, impressions, clicks, completions, ctr, completion_rate``.

    ``ctr`` = clicks / impressions and ``completion_rate`` = completions / impressions (both 0–1).
    A missing file gives an empty table (a lab may have no ad outcomes).

    Raises
    ------
    DataError
        A column is missing, a count is not a whole non-negative number, impressions are 0, or clicks /
        completions exceed impressions — naming the file, its line and the values.
    """
    cols = ["ad_id", "impressions", "clicks", "completions", "ctr", "completion_rate"]
    if not path.is_file():
        return pd.DataFrame({c: pd.Series(dtype=str if c == "ad_id" else float) for c in cols})
    df = pd.read_csv(path, sep="\t", dtype={"ad_id": str})
    missing = [c for c in OUTCOME_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; expected {list(OUTCOME_COLUMNS)}")
    for line, r in enumerate(df.itertuples(index=False), start=2):  # line 1 is the header
        vals = {k: getattr(r, k) for k in ("impressions", "clicks", "completions")}
        bad = [
            k
            for k, v in vals.items()
            if not (np.isfinite(float(v)) and float(v) >= 0 and float(v) == int(v))
        ]
        if bad:
            raise DataError(f"{path}:{line}: ad {r.ad_id!r} has non-count {bad} = {[vals[b] for b in bad]}; "
                            "counts must be whole numbers >= 0")  # fmt: skip
        if (
            vals["impressions"] <= 0
            or vals["clicks"] > vals["impressions"]
            or vals["completions"] > vals["impressions"]
        ):
            raise DataError(
                f"{path}:{line}: ad {r.ad_id!r} has impressions={vals['impressions']}, clicks={vals['clicks']}, "
                f"completions={vals['completions']}; need impressions > 0 and clicks, completions <= impressions"
            )
    if df["ad_id"].duplicated().any():
        raise DataError(
            f"{path}: ad(s) {sorted(df.loc[df['ad_id'].duplicated(), 'ad_id'])} listed twice"
        )
    df = df[list(OUTCOME_COLUMNS)].astype(
        {"impressions": "int64", "clicks": "int64", "completions": "int64"}
    )
    df["ctr"] = df["clicks"] / df["impressions"]
    df["completion_rate"] = df["completions"] / df["impressions"]
    return df[cols]
