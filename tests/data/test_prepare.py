"""`prepare_study` end to end on the hand-made study: tables of contract §4, leaks, k floor, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hmllm.data import load_prepared
from hmllm.data.prepare import prepare_study
from hmllm.errors import ConfigError, DataError
from tests.data.conftest import ADS, N_SHOTS, PARTICIPANTS, engagement, prepare_cfg, write_study

RAW = ["data.normalise=none", "data.classes.method=fixed"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The hand study prepared once for the read-only tests of this module (k=4, stats on)."""
    root = write_study(tmp_path_factory.mktemp("prepared") / "study")
    return load_prepared(
        prepare_study(prepare_cfg(root, ["audience.k_anonymity=4", "data.stats.enabled=true"]))
    )


def test_no_ad_in_two_splits_anywhere(prepared):
    split = prepared.ads.set_index("ad_id")["split"]
    assert split.index.is_unique and set(split.index) == set(ADS)
    for name in ("labels", "shots", "features"):
        table = getattr(prepared, name)
        per_ad = table.groupby("ad_id")["split"].nunique()
        assert (per_ad == 1).all(), name
        assert (
            table.set_index("ad_id")["split"] == split.reindex(table["ad_id"]).to_numpy()
        ).all(), name
    assert set(prepared.meta["splits"]["test"]) == set(split[split == "test"].index)
    assert {"train", "test"} <= set(split)


def test_groups_under_k_never_appear(prepared):
    # k=4: each gender has 4 participants and each age band 4; a gender x age cell has 2 -> dropped
    assert sorted(prepared.groups["group"]) == ["all", "all_21-25", "all_26-30", "female", "male"]
    assert set(prepared.labels["group"]) == set(prepared.groups["group"])
    assert (prepared.labels["n_participants"] >= 4).all()
    assert set(prepared.signals["group"]) <= set(prepared.groups["group"])
    assert set(prepared.saliency["group"]) <= set(prepared.groups["group"])
    assert all(json.loads(line)["group"] in set(prepared.groups["group"])
               for line in (prepared.root / "instructions.jsonl").read_text().splitlines())  # fmt: skip


def test_raw_labels_and_fixed_classes_equal_a_hand_computation(hand_study):
    cfg = prepare_cfg(hand_study, [*RAW, "audience.k_anonymity=2", "data.classes.en.fixed=[1.55]"])
    p = load_prepared(prepare_study(cfg))
    lab = p.labels.set_index(["ad_id", "shot", "group"])
    # EN of everyone on ad000 shot 1: 1 + 0.3 + 0.05 * mean(0..7) + 0.2 * (4 women / 8)
    assert lab.loc[("ad000", 1, "all"), "en"] == pytest.approx(1.0 + 0.3 + 0.05 * 3.5 + 0.1)
    # women 21-25 (sub-00, sub-01) on ad002 shot 1: 1.5 + 0.2 and 1.55 + 0.2
    assert lab.loc[("ad002", 1, "female_21-25"), "en"] == pytest.approx(1.725)
    assert lab.loc[("ad002", 1, "female_21-25"), "en_sd"] == pytest.approx(
        np.std([1.7, 1.75], ddof=1)
    )
    assert lab.loc[("ad002", 1, "female_21-25"), "en_class"] == 1  # 1.725 >= 1.55: cognitive
    assert lab.loc[("ad000", 0, "male_21-25"), "en_class"] == 0  # 1.0 + 0.05 * 4.5 = 1.225 < 1.55
    # EM fixed [-0.3, 0.3]: shot 0 valence -0.02 * mean(pid) -> neutral; shot 2: 1.0 - ... -> positive
    assert lab.loc[("ad000", 0, "all"), "em_class"] == 1
    assert lab.loc[("ad000", 2, "all"), "em_class"] == 2
    classes = json.loads((p.root / "classes.json").read_text())
    assert classes["en"]["thresholds"] == [1.55]
    assert classes["em"]["names"] == ["negative", "neutral", "positive"]


def test_zscore_labels_equal_a_hand_computation(hand_study):
    p = load_prepared(prepare_study(prepare_cfg(hand_study, ["audience.k_anonymity=2"])))
    z = {}
    for i in range(8):  # independent z-score of each participant's EN over their 21 shots
        v = np.array([engagement(i, a, s) for a in range(len(ADS)) for s in range(N_SHOTS)])
        z[i] = (v - v.mean()) / v.std(ddof=1)
    expected = np.mean([z[i][3 * 4 + 1] for i in (0, 1)])  # ad004 shot 1, women 21-25
    got = p.labels.set_index(["ad_id", "shot", "group"]).loc[("ad004", 1, "female_21-25"), "en"]
    assert got == pytest.approx(expected)
    ps = p.participant_shot.set_index(["participant_id", "ad_id", "shot"])
    assert ps.loc[("sub-03", "ad004", 1), "en_raw"] == pytest.approx(engagement(3, 4, 1))


def test_quantile_thresholds_use_train_split_only(hand_study):
    first = load_prepared(prepare_study(prepare_cfg(hand_study, ["audience.k_anonymity=2"])))
    test_ads = first.split_ads("test")
    # make every test ad's EN extreme: thresholds (fitted on train) must not move
    path = hand_study / "derivatives" / "eeg" / "per_shot.parquet"
    eeg = pd.read_parquet(path)
    hit = eeg["ad_id"].isin(test_ads) & (eeg["index"] == "engagement")
    eeg.loc[hit, "value"] = eeg.loc[hit, "value"] * 0 + 1e3 * eeg.loc[hit, "shot"]
    eeg.to_parquet(path, index=False)
    second = load_prepared(
        prepare_study(prepare_cfg(hand_study, ["audience.k_anonymity=2", "data.normalise=none"]))
    )
    train = second.labels[second.labels["split"] == "train"]
    assert second.classes["en"]["thresholds"] == pytest.approx(
        [float(np.quantile(train["en"], 0.5))]
    )
    assert second.classes["en"]["fitted_on"] == "train"
    assert second.split_ads("test") == test_ads


def test_saliency_signals_effects_and_instructions(prepared):
    maps = prepared.saliency["maps"]
    assert maps.shape == (len(prepared.labels), 18, 32)
    assert np.allclose(maps.sum(axis=(1, 2)), 1.0, atol=1e-5)
    # every on-video fixation is at x=0.25, y=0.5; the off-video one is ignored
    r, c = np.unravel_index(maps[0].argmax(), maps[0].shape)
    assert (r, c) == (9, 8)
    assert (
        "sig_eeg_arousal" in prepared.signals and "sig_eyetrack_fixation_count" in prepared.signals
    )
    assert "sig_eeg_engagement" not in prepared.signals  # labels are not repeated as signals
    sig = prepared.signals.set_index(["ad_id", "shot", "group"])
    assert sig.loc[("ad001", 2, "all"), "sig_eyetrack_fixation_count"] == pytest.approx(5.0)
    ads = prepared.ads.set_index("ad_id")
    assert ads.loc["ad002", "ctr"] == pytest.approx(30 / 1000)
    assert ads.loc["ad002", "completion_rate"] == pytest.approx(502 / 1000)
    recs = [json.loads(x) for x in (prepared.root / "instructions.jsonl").read_text().splitlines()]
    subj = [r for r in recs if r["task"] == "subjective"]
    assert len(subj) == 3 * len(prepared.labels)
    assert len(recs) - len(subj) == len(ADS) * N_SHOTS
    women = next(r for r in subj if r["group"] == "female" and r["index"] == "en")
    assert (
        women["question"]
        == f"What is the cognitive engagement of women after shot {women['shot'] + 1}?"
    )
    assert women["answer"] in {"non-cognitive", "cognitive"}
    assert women["level"] == "P2"
    describe = next(r for r in recs if r["task"] == "objective")
    assert describe["answer"] == "A bright calm shot, showing a face, with speech."
    for name in ("class_balance.png", "group_sizes.png", "index_distributions.png", "stats.md"):
        assert (prepared.root / "stats" / name).stat().st_size > 0
    assert prepared.oracle is None  # no truth/ in a real study


def test_rerun_is_resumed_and_config_change_rebuilds(hand_study):
    out = prepare_study(prepare_cfg(hand_study, ["audience.k_anonymity=4"]))
    stamp = (out / "labels.parquet").stat().st_mtime_ns
    prepare_study(prepare_cfg(hand_study, ["audience.k_anonymity=4"]))
    assert (out / "labels.parquet").stat().st_mtime_ns == stamp
    prepare_study(prepare_cfg(hand_study, ["audience.k_anonymity=3"]))
    assert (out / "labels.parquet").stat().st_mtime_ns != stamp


def test_missing_shots_are_excluded_from_means(tmp_path):
    root = write_study(tmp_path / "s", missing=((0, 0, 0), (1, 0, 0)))
    p = load_prepared(prepare_study(prepare_cfg(root, [*RAW, "audience.k_anonymity=2"])))
    lab = p.labels.set_index(["ad_id", "shot", "group"])
    assert lab.loc[("ad000", 0, "all"), "n_en"] == 6
    assert lab.loc[("ad000", 0, "all"), "en"] == pytest.approx(
        np.mean([engagement(i, 0, 0) for i in range(2, 8)])
    )
    assert ("ad000", 0, "female_21-25") not in lab.index  # both of its members are missing there


def test_bad_study_errors_name_file_and_fix(tmp_path):
    root = write_study(tmp_path / "a")
    (root / "sessions.tsv").unlink()
    with pytest.raises(DataError, match=r"sessions.tsv not found"):
        prepare_study(prepare_cfg(root))
    root = write_study(tmp_path / "b")
    with (root / "sessions.tsv").open("a") as fh:
        fh.write("sub-99\tad000\n")
    with pytest.raises(
        DataError,
        match=r"sessions.tsv: participant\(s\) \['sub-99'\] are not in bids/participants.tsv",
    ):
        prepare_study(prepare_cfg(root))
    with pytest.raises(DataError, match=r"participants.tsv lacks column\(s\) \['income'\]"):
        prepare_study(
            prepare_cfg(write_study(tmp_path / "c"), ["audience.extra_attributes=[income]"])
        )
    root = write_study(tmp_path / "d")
    for src in ("eeg", "eyetrack"):
        q = pd.read_parquet(root / "derivatives" / src / "quality.parquet")
        q.assign(usable=False).to_parquet(
            root / "derivatives" / src / "quality.parquet", index=False
        )
    with pytest.raises(DataError, match="no usable recordings"):
        prepare_study(prepare_cfg(root))
    with pytest.raises(ConfigError, match="unknown stage"):
        prepare_study(prepare_cfg(write_study(tmp_path / "e"), ["data.run_stages=[audio]"]))
    with pytest.raises(DataError, match="not a complete prepared dataset"):
        load_prepared(tmp_path / "nowhere")
    assert len(PARTICIPANTS) == 8
