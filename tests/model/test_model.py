"""Training, checkpoints, the prediction API and evaluation on a fake prepared dataset."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from hmllm.errors import ConfigError, DataError
from tests.conftest import compose
from tests.model.conftest import GROUPS, train_overrides


def test_train_writes_run_and_learns(trained_run):
    run = trained_run / "hypergraph"
    for name in ("best.pt", "last.pt", "metrics.csv", "config.yaml", "model_card.json"):
        assert (run / name).is_file(), name
    m = pd.read_csv(run / "metrics.csv")
    assert m["train_loss"].iloc[-1] < m["train_loss"].iloc[0]
    # the planted effect is gendered: the majority class sits near 0.5 for 2 of 3 indices
    assert m["val_p2_acc"].max() > 0.6
    card = json.loads((run / "model_card.json").read_text())
    assert card["groups"] == [g for g, _, _ in GROUPS] and card["seed"] == 0


def test_checkpoint_loads_weights_only(trained_run):
    st = torch.load(trained_run / "hypergraph" / "best.pt", map_location="cpu", weights_only=True)
    assert st["config"]["model"]["fusion"] == "hypergraph"
    assert isinstance(st["card"]["torch"], str) and st["saliency_hw"] == [6, 8]


def test_checkpoint_of_an_older_format_asks_for_retraining(trained_run, tmp_path):
    from hmllm.model import checkpoint

    st = torch.load(trained_run / "hypergraph" / "best.pt", map_location="cpu", weights_only=True)
    st["format"] = "hmllm-response-v1"
    torch.save(st, tmp_path / "old.pt")
    with pytest.raises(
        DataError, match=r"old.pt was written by another hmllm version.*hmllm train"
    ):
        checkpoint.load(tmp_path / "old.pt")


def test_predictor_api(trained_run, fake_prepared):
    from hmllm.model.predict import load_predictor

    p = load_predictor(trained_run / "hypergraph" / "best.pt", mc_samples=4)
    feats = pd.read_parquet(fake_prepared / "features.parquet").query("ad_id == 'ad11'")
    pred = p.predict(feats[["shot", *p.feature_names]], ["female", "male_18-25"])
    n_shots = len(feats)
    assert len(pred.shots) == n_shots * 2 * 3
    en = pred.shots[pred.shots["index"] == "en"]
    probs = en[["p_non-cognitive", "p_cognitive"]].to_numpy()
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert (en["value_lo"] <= en["value"]).all() and (en["value"] <= en["value_hi"]).all()
    assert list(pred.ad["group"]) == ["female", "male_18-25"]
    assert ((pred.ad["ctr_lo"] <= pred.ad["ctr"]) & (pred.ad["ctr"] <= pred.ad["ctr_hi"])).all()
    assert pred.saliency.shape == (n_shots, 2, 6, 8)
    np.testing.assert_allclose(pred.saliency.sum((2, 3)), 1.0, atol=1e-5)
    assert set(pred.explanations.columns) >= {"shot", "group", "feature", "contribution"}
    # deterministic: the same call gives the same numbers
    again = p.predict(feats[["shot", *p.feature_names]], ["female", "male_18-25"])
    pd.testing.assert_frame_equal(pred.shots, again.shots)
    # the planted effect is opposite for women and men on EN: predictions must differ between them
    fem = p.predict(feats, ["female"]).shots.query("index == 'en'")["value"].to_numpy()
    mal = p.predict(feats, ["male"]).shots.query("index == 'en'")["value"].to_numpy()
    assert np.corrcoef(fem, mal)[0, 1] < 0


def test_predictor_rejects_bad_input(trained_run, fake_prepared):
    from hmllm.model.predict import load_predictor

    p = load_predictor(trained_run / "hypergraph" / "best.pt", mc_samples=0)
    feats = pd.read_parquet(fake_prepared / "features.parquet").query("ad_id == 'ad11'")
    with pytest.raises(ValueError, match="unknown audience group.*knows"):
        p.predict(feats, ["martians"])
    with pytest.raises(DataError, match="lack columns.*f0"):
        p.predict(feats.drop(columns=["f0"]), ["all"])
    with pytest.raises(DataError, match="not found"):
        load_predictor(trained_run / "nope.pt")


def test_resume_continues_epochs(fake_prepared, tmp_path):
    from hmllm.train import train

    base = train_overrides(fake_prepared, tmp_path, "run_name=r")
    train(compose("train", [*base, "trainer.epochs=2"]))
    train(compose("train", [*base, "trainer.epochs=4", "trainer.resume=true"]))
    m = pd.read_csv(tmp_path / "r" / "metrics.csv")
    assert m["epoch"].tolist() == [0, 1, 2, 3]


def test_seeded_runs_are_identical(fake_prepared, tmp_path):
    from hmllm.train import train

    a = train(
        compose(
            "train",
            train_overrides(fake_prepared, tmp_path, "run_name=a", "trainer.epochs=2", "debug=fdr"),
        )
    )
    b = train(
        compose(
            "train",
            train_overrides(fake_prepared, tmp_path, "run_name=b", "trainer.epochs=2", "debug=fdr"),
        )
    )
    assert a["best_val_p2_acc"] == b["best_val_p2_acc"]
    sa = torch.load(tmp_path / "a" / "last.pt", weights_only=True)["state_dict"]
    sb = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize(
    ("override", "error", "match"),
    [
        ("model.fusion=bogus", ConfigError, "model.fusion must be one of"),
        ("model.dim=0", ConfigError, "model.dim must be > 0"),
        ("model.temporal_mode=sideways", ConfigError, "model.temporal_mode must be causal or"),
        ("model.temporal_window=0", ConfigError, "model.temporal_window must be >= 1"),
        ("trainer.ensemble=0", ConfigError, "trainer.ensemble must be 1 or more"),
    ],
    ids=[
        "unknown-fusion",
        "zero-dim",
        "unknown-temporal-mode",
        "zero-temporal-window",
        "no-ensemble-member",
    ],  # fmt: skip
)
def test_bad_config_fails_at_start(fake_prepared, tmp_path, override, error, match):
    from hmllm.train import train

    with pytest.raises(error, match=match):
        train(compose("train", train_overrides(fake_prepared, tmp_path, override)))


def test_missing_data_fails_at_start(tmp_path):
    from hmllm.train import train

    with pytest.raises(DataError, match="run `hmllm prepare` first"):
        train(compose("train", train_overrides(tmp_path / "nothing", tmp_path)))


@pytest.mark.parametrize(
    "experiment", ["no_eeg_align", "no_eye", "no_audience_edges", "no_temporal_edges"]
)
def test_ablation_is_one_override(experiment):
    cfg = compose("train", [f"experiment={experiment}"])
    assert cfg.run_name == experiment
    changed = {
        "no_eeg_align": "sig_eeg" not in cfg.model.align_signals,
        "no_eye": "sig_eyetrack" not in cfg.model.align_signals
        and cfg.model.loss_weights.saliency == 0,
        "no_audience_edges": not cfg.model.edges.audience,
        "no_temporal_edges": not cfg.model.edges.temporal,
    }
    assert changed[experiment]


def test_evaluate_writes_tables(trained_run, fake_prepared):
    from hmllm.evaluate import evaluate

    cfg = compose(
        "evaluate",
        [f"paths.prepared={fake_prepared}", f"paths.runs={trained_run}", "evaluate.bootstrap=50"],
    )
    rows = evaluate(cfg)
    for name in (
        "chance",
        "majority class",
        "audience prior",
        "oracle (noise ceiling)",
        "hypergraph",
    ):
        assert name in rows, name
    out = trained_run / "eval"
    for f in ("metrics.json", "metrics.md", "fairness.md", "calibration.png"):
        assert (out / f).is_file(), f
    hg = rows["hypergraph"]
    lo, hi = hg["P2.en"]["ci95"]
    assert lo <= hg["P2.en"]["accuracy"] <= hi
    assert (
        rows["oracle (noise ceiling)"]["P2.mean_accuracy"]
        > rows["majority class"]["P2.mean_accuracy"]
    )
    assert set(hg["saliency"]) == {"CC", "KL", "SIM", "NSS", "AUC"}
    assert "audience prior" in (out / "metrics.md").read_text()
    assert "female_18-25" in (out / "fairness.md").read_text()
    fair = pd.read_csv(out / "fairness.csv")  # machine-readable twin read by experiments/fairness
    assert fair.set_index("group").loc["all", "level"] == "P1"
    assert (fair["level"] == "P2").sum() == 6
    accs = fair[["acc_en", "acc_em", "acc_emr"]].mean(axis=1)
    np.testing.assert_allclose(fair["acc_mean"], accs)
