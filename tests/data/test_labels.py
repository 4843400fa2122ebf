"""Group labels, k-anonymity, normalisation and class binning against hand computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hmllm.data.groups import audience_groups, membership
from hmllm.data.labels import bin_values, class_thresholds, group_labels
from hmllm.data.normalise import normalise
from hmllm.errors import ConfigError, DataError
from tests.data.conftest import PARTICIPANTS

AUDIENCE = {
    "genders": ["male", "female"],
    "age_bands": ["under20", "21-25", "26-30"],
    "extra_attributes": [],
}


def pshot_table(values: dict[str, list[float]]) -> pd.DataFrame:
    """Participant × (one ad, len(values) shots) table with en=em=emr=value."""
    rows = []
    for pid, vals in values.items():
        for s, v in enumerate(vals):
            rows.append(
                {"participant_id": pid, "ad_id": "ad000", "shot": s, "en": v, "em": v, "emr": v}
            )
    return pd.DataFrame(rows).merge(PARTICIPANTS, on="participant_id")


def test_groups_follow_the_papers_gender_by_age_grid():
    groups = audience_groups(PARTICIPANTS, AUDIENCE)
    # gender {all, male, female} x age {all, 21-25, 26-30}; bands absent from the study are left out
    assert sorted(groups["group"]) == sorted(
        [
            "all",
            "all_21-25",
            "all_26-30",
            "male",
            "male_21-25",
            "male_26-30",
            "female",
            "female_21-25",
            "female_26-30",
        ]
    )
    assert groups.set_index("group")["level"].to_dict()["all"] == "P1"
    assert (groups.loc[groups["group"] != "all", "level"] == "P2").all()


def test_extra_attribute_adds_groups_and_unknown_attribute_is_refused():
    groups = audience_groups(PARTICIPANTS, {**AUDIENCE, "extra_attributes": ["city_tier"]})
    assert {"city_tier=tier1", "city_tier=tier2"} <= set(groups["group"])
    member = membership(PARTICIPANTS, groups)
    assert sorted(member.loc[member["group"] == "city_tier=tier1", "participant_id"]) == [
        "sub-00",
        "sub-02",
        "sub-04",
        "sub-06",
    ]
    with pytest.raises(ConfigError, match=r"'income' is not a column of bids/participants.tsv"):
        audience_groups(PARTICIPANTS, {**AUDIENCE, "extra_attributes": ["income"]})


def test_group_means_equal_a_hand_computation():
    # sub-00, sub-01: women 21-25; sub-04, sub-05: men 21-25; sub-02: woman 26-30
    ps = pshot_table({"sub-00": [1.0, 2.0], "sub-01": [3.0, np.nan], "sub-04": [5.0, 6.0], "sub-05": [7.0, 8.0],
                      "sub-02": [0.0, 4.0]})  # fmt: skip
    member = membership(PARTICIPANTS, audience_groups(PARTICIPANTS, AUDIENCE))
    lab = group_labels(ps, member, k=1).set_index(["shot", "group"])
    assert lab.loc[(0, "all"), "en"] == pytest.approx((1 + 3 + 5 + 7 + 0) / 5)
    assert lab.loc[(0, "all"), "n_participants"] == 5
    # sub-01's shot 1 is missing: excluded from the mean and from the count
    assert lab.loc[(1, "female"), "en"] == pytest.approx((2 + 4) / 2)
    assert lab.loc[(1, "female"), "n_participants"] == 2
    assert lab.loc[(0, "female_21-25"), "en"] == pytest.approx(2.0)
    assert lab.loc[(0, "female_21-25"), "en_sd"] == pytest.approx(np.std([1.0, 3.0], ddof=1))
    assert lab.loc[(0, "male_21-25"), "emr"] == pytest.approx(6.0)


def test_cells_under_k_never_appear():
    ps = pshot_table({"sub-00": [1.0, 2.0], "sub-01": [3.0, np.nan], "sub-04": [5.0, 6.0], "sub-05": [7.0, 8.0],
                      "sub-02": [0.0, 4.0]})  # fmt: skip
    member = membership(PARTICIPANTS, audience_groups(PARTICIPANTS, AUDIENCE))
    lab = group_labels(ps, member, k=3)
    assert (lab["n_participants"] >= 3).all()
    # female has 3 contributors on shot 0 but only 2 on shot 1 (sub-01 missing): only shot 0 survives
    assert lab.loc[lab["group"] == "female", "shot"].tolist() == [0]
    assert set(lab["group"]) == {"all", "female", "all_21-25"}
    with pytest.raises(DataError, match="k-anonymity floor k=9"):
        group_labels(ps, member, k=9)


def test_zscore_is_within_participant():
    ps = pshot_table({"sub-00": [1.0, 2.0, 3.0], "sub-01": [10.0, 30.0, np.nan]})
    z = normalise(ps, ["en"], "zscore").set_index(["participant_id", "shot"])["en"]
    assert z[("sub-00", 0)] == pytest.approx(-1.0)
    assert z[("sub-00", 2)] == pytest.approx(1.0)
    # sub-01: mean 20, sample SD 14.142; the missing shot stays missing
    assert z[("sub-01", 1)] == pytest.approx(10 / np.std([10.0, 30.0], ddof=1))
    assert np.isnan(z[("sub-01", 2)])
    c = normalise(ps, ["en"], "center").set_index(["participant_id", "shot"])["en"]
    assert c[("sub-01", 0)] == pytest.approx(-10.0)
    with pytest.raises(ConfigError, match="data.normalise"):
        normalise(ps, ["en"], "minmax")


@pytest.mark.parametrize(
    ("values", "thresholds", "expected"),
    [
        pytest.param([-1.0, 0.0, 0.5, np.nan], [0.0], [0, 1, 1, -1], id="two-classes-edge-goes-up"),
        pytest.param([-0.5, -0.3, 0.0, 0.3, 0.9], [-0.3, 0.3], [0, 1, 1, 2, 2], id="three-classes"),
    ],
)
def test_bin_values(values, thresholds, expected):
    got = bin_values(pd.Series(values), thresholds)
    assert got.dtype == np.int8
    assert got.tolist() == expected


def test_quantile_thresholds_and_bad_specs():
    spec = {
        "names": ["negative", "neutral", "positive"],
        "quantiles": [1 / 3, 2 / 3],
        "fixed": [-1.0, 1.0],
    }
    thr = class_thresholds(pd.Series([0.0, 1.0, 2.0, 3.0, np.nan]), spec, "quantile")
    assert thr == pytest.approx([1.0, 2.0])
    assert class_thresholds(pd.Series([0.0]), spec, "fixed") == [-1.0, 1.0]
    with pytest.raises(ConfigError, match="3 class names"):
        class_thresholds(pd.Series([0.0, 1.0]), {**spec, "fixed": [0.0]}, "fixed")
    with pytest.raises(ConfigError, match="data.classes.method"):
        class_thresholds(pd.Series([0.0]), spec, "kmeans")
    with pytest.raises(DataError, match="no training-split values"):
        class_thresholds(pd.Series([np.nan]), spec, "quantile")
