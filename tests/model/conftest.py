"""A small fake prepared dataset (contract §4) with a planted, learnable audience × content effect."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

GROUPS = [  # (group, gender, age_band)
    ("all", "all", "all"),
    ("female", "female", "all"),
    ("male", "male", "all"),
    ("female_18-25", "female", "18-25"),
    ("female_26-35", "female", "26-35"),
    ("male_18-25", "male", "18-25"),
    ("male_26-35", "male", "26-35"),
]
N_FEATURES = 6
HW = (6, 8)


def _classes(values: np.ndarray, train: np.ndarray, n: int) -> tuple[np.ndarray, list[float]]:
    thr = np.quantile(values[train], np.linspace(0, 1, n + 1)[1:-1]).tolist()
    return np.searchsorted(thr, values, side="right").astype(np.int8), thr


def make_prepared(
    root: Path, *, n_ads: int = 12, n_shots: int = 6, noise: float = 0.25, seed: int = 0
) -> Path:
    """Write a fake prepared dataset whose classes depend on shot features × group gender/age.

    EN = f0 for women and -f0 for men (+ f1 for the young band): a video-only model can only reach
    chance on the gendered groups, an audience-aware model can learn it.
    """
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    ad_ids = [f"ad{i:02d}" for i in range(n_ads)]
    split = {
        a: ("train" if i < n_ads - 4 else "val" if i < n_ads - 2 else "test")
        for i, a in enumerate(ad_ids)
    }
    feats = pd.DataFrame(
        [
            (a, s, *rng.normal(size=N_FEATURES).astype(np.float32))
            for a in ad_ids
            for s in range(n_shots)
        ],
        columns=["ad_id", "shot", *[f"f{i}" for i in range(N_FEATURES)]],
    )
    feats["split"] = feats["ad_id"].map(split)
    rows = []
    for r in feats.itertuples():
        for g, gender, band in GROUPS:
            sign = {"female": 1.0, "male": -1.0, "all": 0.0}[gender]
            young = 1.0 if band == "18-25" else 0.0
            truth = {
                "en": sign * r.f0 + young * r.f1,
                "em": sign * r.f2 + 0.5 * r.f3,
                "emr": r.f4 + sign * 0.8 * r.f5,
            }
            noisy = {k: v + noise * rng.normal() for k, v in truth.items()}
            rows.append({"ad_id": r.ad_id, "shot": r.shot, "group": g, "n_participants": 6 if band != "all" else 12,
                         **noisy, **{f"{k}_sd": 1.0 for k in truth}, **{f"true_{k}": v for k, v in truth.items()}})  # fmt: skip
    lab = pd.DataFrame(rows)
    lab["split"] = lab["ad_id"].map(split)
    is_train = (lab["split"] == "train").to_numpy()
    classes = {}
    names = {"en": ["non-cognitive", "cognitive"], "em": ["negative", "neutral", "positive"],
             "emr": ["partially attended", "fully attended"]}  # fmt: skip
    for k, nm in names.items():
        lab[f"{k}_class"], thr = _classes(lab[k].to_numpy(), is_train, len(nm))
        classes[k] = {"names": nm, "thresholds": thr, "method": "quantile"}
    oracle = lab[["ad_id", "shot", "group", "split"]].copy()
    for k in names:
        oracle[k] = lab[f"true_{k}"]
    oracle.to_parquet(root / "oracle.parquet", index=False)
    sig = lab[["ad_id", "shot", "group"]].copy()
    sig["sig_eeg_engagement"] = lab["en"] + 0.3 * rng.normal(size=len(lab))
    sig["sig_eeg_faa"] = lab["em"] + 0.3 * rng.normal(size=len(lab))
    sig["sig_eyetrack_dispersion"] = -lab["emr"] + 0.3 * rng.normal(size=len(lab))
    sig.to_parquet(root / "signals.parquet", index=False)
    lab = lab.drop(columns=[f"true_{k}" for k in names])
    lab.to_parquet(root / "labels.parquet", index=False)
    feats.to_parquet(root / "features.parquet", index=False)
    pd.DataFrame(
        [
            {"group": g, "level": "P1" if g == "all" else "P2", "gender": ge, "age_band": b}
            for g, ge, b in GROUPS
        ]
    ).to_parquet(root / "groups.parquet", index=False)
    # gaze density: a blob whose column follows f4 (so the saliency head has something to learn)
    yy, xx = np.mgrid[: HW[0], : HW[1]]
    maps = []
    for r in lab.itertuples():
        f4 = float(feats.loc[(feats["ad_id"] == r.ad_id) & (feats["shot"] == r.shot), "f4"].iloc[0])
        cx = np.clip(HW[1] / 2 + 1.5 * f4, 0, HW[1] - 1)
        m = np.exp(-((xx - cx) ** 2 + (yy - HW[0] / 2) ** 2) / 4.0)
        maps.append((m / m.sum()).astype(np.float32))
    np.savez(root / "saliency.npz", maps=np.stack(maps), ad_id=lab["ad_id"].to_numpy(str), shot=lab["shot"].to_numpy(),
             group=lab["group"].to_numpy(str))  # fmt: skip
    ad_en = lab[lab["group"] == "all"].groupby("ad_id")["en"].mean()
    pd.DataFrame({"ad_id": ad_ids, "split": [split[a] for a in ad_ids], "impressions": 10_000,
                  "ctr": [float(0.02 + 0.01 * np.tanh(ad_en[a])) for a in ad_ids],
                  "completion_rate": [float(0.5 + 0.2 * np.tanh(ad_en[a])) for a in ad_ids]}).to_parquet(root / "ads.parquet", index=False)  # fmt: skip
    (root / "classes.json").write_text(json.dumps(classes, indent=2))
    return root


@pytest.fixture(scope="session")
def fake_prepared(tmp_path_factory) -> Path:
    """The fake prepared dataset, written once per session."""
    return make_prepared(tmp_path_factory.mktemp("fake") / "prepared")


def train_overrides(prepared: Path, runs: Path, *extra: str) -> list[str]:
    """Overrides that point `hmllm train` at a fake dataset and keep it fast and quiet."""
    return [f"paths.prepared={prepared}", f"paths.runs={runs}", "trainer.progress=false",
            "trainer.tensorboard=false", "trainer.epochs=25", "trainer.patience=25",
            "trainer.ensemble=1", *extra]  # fmt: skip


@pytest.fixture(scope="session")
def trained_run(fake_prepared, tmp_path_factory) -> Path:
    """One hypergraph run on the fake data (shared by predictor, checkpoint and evaluation tests)."""
    from hmllm.train import train
    from tests.conftest import compose

    runs = tmp_path_factory.mktemp("runs")
    train(compose("train", train_overrides(fake_prepared, runs)))
    return runs
