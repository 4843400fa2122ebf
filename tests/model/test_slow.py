"""End-to-end: the real tiny prepared study, and a real `-m` sweep through the joblib launcher."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import compose
from tests.model.conftest import train_overrides


@pytest.mark.slow
def test_train_and_predict_on_tiny_prepared(tiny_prepared, tmp_path):
    from hmllm.model.predict import load_predictor
    from hmllm.train import train

    summary = train(
        compose("train", train_overrides(tiny_prepared, tmp_path, "size=tiny", "trainer.epochs=3"))
    )
    p = load_predictor(tmp_path / "hypergraph" / "best.pt", mc_samples=2)
    feats = pd.read_parquet(tiny_prepared / "features.parquet")
    ad = feats[feats["ad_id"] == feats["ad_id"].iloc[0]]
    pred = p.predict(ad[["shot", *p.feature_names]], p.groups[:1])
    assert len(pred.shots) == 3 * len(ad) and 0.0 <= summary["best_val_p2_acc"] <= 1.0


@pytest.mark.slow
def test_multirun_with_joblib(fake_prepared, tmp_path):
    args = [sys.executable, "-m", "hmllm", "train", "-m", "model=hypergraph,late_fusion", "launcher=joblib",
            f"paths.data_root={tmp_path}", *train_overrides(fake_prepared, tmp_path / "runs", "trainer.epochs=2")]  # fmt: skip
    res = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    for name in ("hypergraph", "late_fusion"):
        assert (tmp_path / "runs" / name / "best.pt").is_file(), name
