"""Oracle labels for synthetic studies: the same pipeline run on the hidden noise-free expectations.

The model engineer computes the noise ceiling from ``oracle.parquet``: how well the labels could be
predicted if every participant's response were measured without noise. Never read by a model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hmllm.data.labels import CELL
from hmllm.errors import DataError

# truth/group_shot.parquet column → label name (contract §1: latent engagement, valence, attention)
TRUTH_COLUMNS = {"en": "engagement", "em": "valence", "emr": "attention"}


def truth_shot_of(shots: pd.DataFrame, truth_shots: pd.DataFrame) -> pd.DataFrame:
    """Map each detected shot to the truth shot covering its midpoint: ``ad_id, shot, truth_shot``."""
    rows = []
    for ad, det in shots.groupby("ad_id", sort=True):
        ts = truth_shots[truth_shots["ad_id"] == ad].sort_values("onset_s")
        if ts.empty:
            raise DataError(
                f"truth/shots.parquet has no shots of ad {ad!r}; regenerate the study with `hmllm synth`"
            )
        mid = 0.5 * (det["onset_s"].to_numpy(float) + det["offset_s"].to_numpy(float))
        pos = np.clip(
            np.searchsorted(ts["onset_s"].to_numpy(float), mid, side="right") - 1, 0, len(ts) - 1
        )
        rows.append(pd.DataFrame({"ad_id": ad, "shot": det["shot"].to_numpy(np.int64),
                                  "truth_shot": ts["shot"].to_numpy(np.int64)[pos]}))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def oracle_participant_shot(
    root: Path,
    pshot: pd.DataFrame,
    shots: pd.DataFrame,
    columns: list[str],
    truth_file: str = "group_shot.parquet",
) -> pd.DataFrame | None:
    """Replace each measured value in ``pshot`` by its noise-free expectation (None if no truth/).

    A participant's expectation is the ``truth/<truth_file>`` value of their (gender, age band) for
    the truth shot under the detected shot: ``group_shot.parquet`` (from the ad's content and the
    audience — the noise ceiling) or ``group_shot_ad.parquet`` (also knowing each ad's hidden
    offset). Missing measured values stay missing, so the oracle pools exactly the same
    contributors as the labels.
    """
    gpath = root / "truth" / truth_file
    if not gpath.is_file():
        return None
    truth = pd.read_parquet(gpath).rename(columns={"shot": "truth_shot"})
    mapping = truth_shot_of(shots, pd.read_parquet(root / "truth" / "shots.parquet"))
    ps = pshot[["participant_id", "ad_id", "shot", "gender", "age_band", *columns]].merge(
        mapping, on=["ad_id", "shot"], how="left"
    )
    ps = ps.merge(truth, on=["ad_id", "truth_shot", "gender", "age_band"], how="left")
    out = ps[["participant_id", "ad_id", "shot"]].copy()
    for c in columns:
        out[c] = ps[TRUTH_COLUMNS[c]].where(ps[c].notna())
    return out


def align_to_labels(oracle: pd.DataFrame, labels: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Oracle group means on exactly the labelled cells, with the labels' split."""
    keep = [*CELL, *columns, *[f"{c}_class" for c in columns if f"{c}_class" in oracle.columns]]
    return labels[[*CELL, "split"]].merge(oracle[keep], on=CELL, how="left")
