"""`data.subsample`: label the train/val ads from fewer participants, keep test labels unchanged."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from hmllm.data import load_prepared
from hmllm.data.prepare import prepare_study
from hmllm.data.splits import subsample_participants
from hmllm.errors import ConfigError
from tests.data.conftest import ADS, PARTICIPANTS, prepare_cfg

SESSIONS = pd.DataFrame(
    [(p, a) for p in PARTICIPANTS["participant_id"] for a in ADS],
    columns=["participant_id", "ad_id"],
)
SPLIT = {a: "test" if i < 2 else "train" for i, a in enumerate(ADS)}


def _kept(n: int, seed: int = 0) -> set[str]:
    sub = subsample_participants(SESSIONS, SPLIT, n_participants=n, seed=seed, splits=["train"])
    return set(sub.loc[sub["ad_id"].map(SPLIT) == "train", "participant_id"])


def test_subsamples_are_seeded_and_nested():
    assert len(_kept(3)) == 3 and _kept(3) == _kept(3)
    assert _kept(3) < _kept(6) < _kept(8) == set(PARTICIPANTS["participant_id"])
    assert _kept(3, seed=1) != _kept(3, seed=0)


def test_other_splits_keep_every_recording():
    sub = subsample_participants(SESSIONS, SPLIT, n_participants=2, seed=0, splits=["train"])
    test = SESSIONS[SESSIONS["ad_id"].map(SPLIT) == "test"]
    pd.testing.assert_frame_equal(sub[sub["ad_id"].map(SPLIT) == "test"], test)
    assert (
        subsample_participants(SESSIONS, SPLIT, n_participants=None, seed=0, splits=["train"])
        is SESSIONS
    )


@pytest.mark.parametrize(("n", "splits", "match"), [
    (9, ["train"], "between 1 and the study's 8 participants, got 9; use null"),
    (0, ["train"], "between 1 and the study's 8 participants, got 0"),
    (2, ["dev"], r"subsample.splits has \['dev'\]; allowed"),
], ids=["too-many", "zero", "unknown-split"])  # fmt: skip
def test_bad_subsample_is_a_config_error(n, splits, match):
    with pytest.raises(ConfigError, match=match):
        subsample_participants(SESSIONS, SPLIT, n_participants=n, seed=0, splits=splits)


def test_prepare_subsample_changes_train_labels_only(hand_study, tmp_path):
    base = ["audience.k_anonymity=2", "data.normalise=none", "data.classes.method=fixed"]
    full = load_prepared(prepare_study(prepare_cfg(hand_study, base)))
    few = load_prepared(prepare_study(prepare_cfg(hand_study, [
        *base, "data.subsample.n_participants=4", f"paths.prepared={tmp_path / 'few'}"])))  # fmt: skip
    meta = json.loads((tmp_path / "few" / "prepared.json").read_text())
    assert meta["subsample"]["n_kept"] == 4 and meta["input_hash"] != full.meta["input_hash"]
    keys = ["ad_id", "shot", "group"]
    for name, other in (("full", full), ("few", few)):
        assert set(other.labels["split"]) >= {"train", "test"}, name
    test_full, test_few = (
        p.labels[p.labels["split"] == "test"].reset_index(drop=True) for p in (full, few)
    )
    pd.testing.assert_frame_equal(test_full, test_few)  # same people, same numbers on test ads
    train_all = few.labels[(few.labels["split"] != "test") & (few.labels["group"] == "all")]
    assert (train_all["n_participants"] == 4).all()  # every kept participant watched every ad
    assert (full.labels.loc[full.labels["group"] == "all", "n_participants"] == 8).all()
    assert len(few.labels) < len(full.labels) and list(few.labels.columns) == list(
        full.labels.columns
    )
    assert set(few.labels[keys].itertuples(index=False)) <= set(
        full.labels[keys].itertuples(index=False)
    )


def test_ads_left_without_labels_are_not_training_ads(tmp_path):
    """A small subsample can leave an ad below k viewers in every group: it has no labels at all."""
    from hmllm.model.data import load
    from tests.model.conftest import make_prepared

    prepared = make_prepared(tmp_path / "prepared", n_ads=8, n_shots=2)
    labels = pd.read_parquet(prepared / "labels.parquet")
    labels[labels["ad_id"] != "ad00"].to_parquet(prepared / "labels.parquet", index=False)
    data = load(prepared)
    assert data.ads["ad00"] == "train" and data.split_ads("train") == ["ad01", "ad02", "ad03"]
