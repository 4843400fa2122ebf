"""Dataset building: a study's signals, shots and participants → per-shot, per-audience labels.

Public API
----------
- :func:`hmllm.data.prepare.prepare_study` (``hmllm prepare``) builds ``<study_root>/prepared``.
- :func:`load_prepared` reads it back as a :class:`PreparedDataset` (docs/contracts.md §4).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hmllm.errors import DataError

REQUIRED_FILES = (
    "labels.parquet",
    "groups.parquet",
    "classes.json",
    "shots.parquet",
    "features.parquet",
    "ads.parquet",
)


@dataclass
class PreparedDataset:
    """The tables of a prepared dataset (docs/contracts.md §4), keyed ``(ad_id, shot, group)``.

    ``saliency`` holds ``maps (N, H, W)`` float32 densities (each sums to 1) with ``ad_id``, ``shot``
    and ``group`` arrays of length N; ``oracle`` is None for real (non-synthetic) studies.
    """

    root: Path
    labels: pd.DataFrame
    groups: pd.DataFrame
    classes: dict
    shots: pd.DataFrame
    features: pd.DataFrame
    ads: pd.DataFrame
    signals: pd.DataFrame | None = None
    participant_shot: pd.DataFrame | None = None
    saliency: dict[str, np.ndarray] | None = None
    oracle: pd.DataFrame | None = None
    meta: dict = field(default_factory=dict)

    def split_ads(self, split: str) -> list[str]:
        """Sorted ad ids of one split (``train`` | ``val`` | ``test``)."""
        return sorted(self.ads.loc[self.ads["split"] == split, "ad_id"])

    @property
    def feature_columns(self) -> list[str]:
        """Names of the shot feature columns (everything but the keys and split)."""
        return [c for c in self.features.columns if c not in ("ad_id", "shot", "split")]


def load_prepared(path: str | Path) -> PreparedDataset:
    """Read a prepared dataset directory written by ``hmllm prepare``.

    Raises
    ------
    DataError
        If the directory or one of its required files is missing (e.g. an interrupted run).
    """
    root = Path(path)
    missing = [n for n in REQUIRED_FILES if not (root / n).is_file()]
    if missing or not (root / "prepared.json").is_file():
        raise DataError(f"{root} is not a complete prepared dataset (missing {missing or ['prepared.json']}); "
                        "run `hmllm prepare` (it resumes where it stopped)")  # fmt: skip

    def opt(name: str) -> pd.DataFrame | None:
        return pd.read_parquet(root / name) if (root / name).is_file() else None

    saliency = None
    if (root / "saliency.npz").is_file():
        with np.load(root / "saliency.npz") as z:
            saliency = {k: z[k] for k in z.files}
    return PreparedDataset(
        root=root,
        labels=pd.read_parquet(root / "labels.parquet"),
        groups=pd.read_parquet(root / "groups.parquet"),
        classes=json.loads((root / "classes.json").read_text(encoding="utf-8")),
        shots=pd.read_parquet(root / "shots.parquet"),
        features=pd.read_parquet(root / "features.parquet"),
        ads=pd.read_parquet(root / "ads.parquet"),
        signals=opt("signals.parquet"),
        participant_shot=opt("participant_shot.parquet"),
        saliency=saliency,
        oracle=opt("oracle.parquet"),
        meta=json.loads((root / "prepared.json").read_text(encoding="utf-8")),
    )


__all__ = ["PreparedDataset", "load_prepared"]
