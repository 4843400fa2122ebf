import json

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import compose


def _fake_prepared(root, n_ads=12, n_shots=5, seed=0):
    """A prepared dir whose answers follow feature f0 of the asked shot (a learnable rule)."""
    rng = np.random.default_rng(seed)
    prepared = root / "prepared"
    prepared.mkdir(parents=True)
    rows, recs = [], []
    for a in range(n_ads):
        ad = f"ad{a:03d}"
        for s in range(n_shots):
            f = rng.normal(size=3)
            rows.append({"ad_id": ad, "shot": s, "f0": f[0], "f1": f[1], "f2": f[2]})
            for group in ("all", "female", "male"):
                recs.append(
                    {
                        "id": f"{ad}-{s}-{group}",
                        "ad_id": ad,
                        "shot": s,
                        "group": group,
                        "level": "P1" if group == "all" else "P2",
                        "task": "subjective",
                        "question": f"What is the cognitive engagement of {group} viewers after this shot?",
                        "answer": "cognitive" if f[0] > 0 else "non-cognitive",
                    }
                )
        recs.append(
            {
                "id": f"{ad}-obj",
                "ad_id": ad,
                "shot": None,
                "group": "all",
                "level": "P1",
                "task": "objective",
                "question": "Describe the ad.",
                "answer": f"an ad with {n_shots} shots",
            }
        )
    pd.DataFrame(rows).to_parquet(prepared / "features.parquet")
    split = ["train"] * (n_ads - 3) + ["test"] * 3
    pd.DataFrame({"ad_id": [f"ad{a:03d}" for a in range(n_ads)], "split": split}).to_parquet(
        prepared / "ads.parquet"
    )
    with (prepared / "instructions.jsonl").open("w") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in recs)
    return prepared


def _cfg(tmp_path, prepared, *extra):
    return compose(
        "lm",
        [f"paths.data_root={tmp_path}", f"paths.prepared={prepared}", "progress=false", *extra],
    )


def test_lm_learns_subjective_answers_and_reloads(tmp_path):
    from hmllm.lm.train import ask, train_lm

    prepared = _fake_prepared(tmp_path)
    cfg = _cfg(tmp_path, prepared, "lm.train.epochs=40", "lm.train.batch_size=16")
    metrics = train_lm(cfg)
    assert metrics["train_loss_last"] < 0.3 * metrics["train_loss_first"]
    # the rule is learnable from the shot tokens alone: test ads are unseen
    assert metrics["subjective_em"] >= 0.8, metrics
    assert metrics["objective_rougeL"] == pytest.approx(1.0)
    run_dir = tmp_path / "runs" / "lm" / "tiny"
    feats = pd.read_parquet(prepared / "features.parquet")
    row = feats[(feats.ad_id == "ad011") & (feats.shot == 2)].iloc[0]
    answer = ask(
        run_dir,
        prepared,
        "ad011",
        "What is the cognitive engagement of female viewers after this shot?",
        2,
        dict(cfg.lm),
    )
    assert answer == ("cognitive" if row.f0 > 0 else "non-cognitive")


def test_lm_lora_trains_only_adapters(tmp_path):
    from hmllm.lm.data import load_shot_bank
    from hmllm.lm.model import build_lm

    prepared = _fake_prepared(tmp_path, n_ads=4)
    cfg = _cfg(tmp_path, prepared, "lm.lora.enabled=true")
    bank = load_shot_bank(prepared / "features.parquet")
    model, _ = build_lm(
        dict(cfg.lm) | {"lora": dict(cfg.lm.lora), "model": dict(cfg.lm.model)},
        len(bank.feature_names),
        ["Question: a b Answer: c"],
    )
    trainable = {n for n, p in model.lm.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)


def test_lm_run_dir_loads_weights_only(tmp_path, monkeypatch):
    from hmllm.lm.model import load_lm_run
    from hmllm.lm.train import train_lm

    prepared = _fake_prepared(tmp_path, n_ads=4)
    train_lm(_cfg(tmp_path, prepared, "lm.train.max_steps=2"))
    seen = []
    real_load = torch.load

    def spy(*a, **kw):
        seen.append(kw.get("weights_only"))
        return real_load(*a, **kw)

    monkeypatch.setattr(torch, "load", spy)
    load_lm_run(tmp_path / "runs" / "lm" / "tiny")
    assert seen == [True]


def test_bad_instructions_name_file_and_line(tmp_path):
    from hmllm.errors import DataError
    from hmllm.lm.data import read_instructions

    p = tmp_path / "instructions.jsonl"
    p.write_text('{"ad_id": "a", "question": "q", "answer": "x"}\n{"ad_id": "a"}\n')
    with pytest.raises(
        DataError, match=r"instructions.jsonl:2: record lacks \['question', 'answer'\]"
    ):
        read_instructions(p)


def test_unreachable_pretrained_lm_gives_actionable_error(tmp_path):
    from hmllm.errors import DataError
    from hmllm.lm.train import train_lm

    prepared = _fake_prepared(tmp_path, n_ads=4)
    cfg = _cfg(tmp_path, prepared, f"lm.model.name_or_path={tmp_path}/no-such-model")
    with pytest.raises(DataError, match="never downloads"):
        train_lm(cfg)
