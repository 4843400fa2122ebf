"""Seed ensembles: members trained with their own seeds, one checkpoint, averaged probabilities."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from hmllm.model.ensemble import Ensemble, model_from_state
from tests.conftest import compose
from tests.model.conftest import train_overrides


@pytest.fixture(scope="module")
def ensemble_run(fake_prepared, tmp_path_factory):
    from hmllm.train import train

    runs = tmp_path_factory.mktemp("ens")
    over = train_overrides(fake_prepared, runs, "run_name=ens", "trainer.ensemble=2",
                           "trainer.epochs=4", "trainer.patience=4")  # fmt: skip
    summary = train(compose("train", over))
    return runs / "ens", summary, over


def _member_logits(state: dict, prepared, b) -> list[torch.Tensor]:
    from hmllm.model.data import load
    from hmllm.train import build_model

    data = load(prepared, use_signals=list(state["config"]["model"]["align_signals"]))
    outs = []
    for sd in state["members"]:
        m = build_model(state["config"]["model"], data)
        m.load_state_dict(sd)
        outs.append(m.eval()(b))
    return outs


def test_members_train_with_their_own_seeds_into_one_checkpoint(ensemble_run):
    run, summary, _ = ensemble_run
    st = torch.load(run / "best.pt", weights_only=True)
    assert len(st["members"]) == 2 and summary["ensemble"] == 2
    cards = [json.loads((run / "members" / str(k) / "model_card.json").read_text()) for k in (0, 1)]
    assert [c["seed"] for c in cards] == [0, 1]
    a, b = st["members"]
    assert any(not torch.equal(a[k], b[k]) for k in a)  # different seeds, different weights
    card = json.loads((run / "model_card.json").read_text())
    assert card["ensemble"] == 2 and card["member_seeds"] == [0, 1]
    assert card["best_val_p2_acc"] == pytest.approx(summary["best_val_p2_acc"])


def test_ensemble_averages_member_probabilities(ensemble_run, fake_prepared):
    from hmllm.evaluate import load_run

    run, _, _ = ensemble_run
    model, data, st = load_run(run / "best.pt", fake_prepared)
    assert isinstance(model, Ensemble) and len(model.members) == 2
    b = data.batch(data.split_ads("test"))
    with torch.no_grad():
        got = model(b)
        members = _member_logits(st, fake_prepared, b)
    for key in ("logits_en", "logits_em", "logits_emr", "saliency"):
        want = torch.stack([torch.softmax(o[key], -1) for o in members]).mean(0)
        torch.testing.assert_close(torch.softmax(got[key], -1), want, atol=1e-6, rtol=1e-5)
    values = torch.stack([o["value"] for o in members])
    var = torch.stack([o["log_var"].exp() for o in members]).mean(0) + values.var(0, unbiased=False)
    torch.testing.assert_close(got["value"], values.mean(0))
    torch.testing.assert_close(got["log_var"].exp(), var, atol=1e-5, rtol=1e-4)
    rate = torch.stack([torch.sigmoid(o["ad"]) for o in members]).mean(0)
    torch.testing.assert_close(torch.sigmoid(got["ad"]), rate)


def test_predictor_and_evaluate_use_the_whole_ensemble(ensemble_run, fake_prepared):
    from hmllm.model.predict import load_predictor

    run, _, _ = ensemble_run
    pred = load_predictor(run / "best.pt", mc_samples=2)
    assert isinstance(pred.model, Ensemble)
    feats = pd.read_parquet(fake_prepared / "features.parquet")
    ad = feats[feats["ad_id"] == feats["ad_id"].iloc[0]].drop(columns=["ad_id", "split"])
    out = pred.predict(ad, ["female", "male"])
    probs = out.shots.filter(like="p_").to_numpy()
    np.testing.assert_allclose(np.nansum(probs, 1), 1.0, atol=1e-5)
    assert out.ad["ctr"].between(0, 1).all() and len(out.ad) == 2
    assert np.isfinite(out.explanations["contribution"]).all()


def test_resume_keeps_trained_members_even_after_a_move(ensemble_run, monkeypatch, tmp_path):
    import shutil

    import hmllm.train as tr

    run, summary, over = ensemble_run
    moved = tmp_path / "moved"
    shutil.copytree(run.parent, moved)  # recorded member folders now point at the old place

    def boom(*a, **k):
        raise AssertionError("a finished member was trained again")

    monkeypatch.setattr(tr, "_fit", boom)
    away = tmp_path / "away"
    run.rename(away)  # the old place is gone while resuming from the new one
    try:
        again = tr.train(compose("train", [*over, f"paths.runs={moved}", "trainer.resume=true"]))
    finally:
        away.rename(run)
    assert again["best_val_p2_acc"] == pytest.approx(summary["best_val_p2_acc"])
    assert again["run_dir"] == str(moved / "ens")


def test_single_member_state_builds_a_plain_model(fake_prepared):
    from hmllm.model.data import load
    from hmllm.model.net import ResponseModel
    from hmllm.train import build_model

    cfg = compose("train", train_overrides(fake_prepared, fake_prepared))
    mcfg = OmegaConf.to_container(cfg.model, resolve=True)
    data = load(fake_prepared, use_signals=list(mcfg["align_signals"]))
    one = build_model(mcfg, data)
    got = model_from_state({"state_dict": one.state_dict()}, lambda: build_model(mcfg, data))
    assert type(got) is ResponseModel and not got.training
