"""Splits by ad and ad-level effects."""

from __future__ import annotations

import pandas as pd
import pytest

from hmllm.data.effects import read_outcomes
from hmllm.data.splits import split_ads
from hmllm.errors import ConfigError, DataError

PAPER = {"test_fraction": 0.1446, "min_test_ads": 4, "val_fraction": 0.12}


def test_paper_ratio_and_no_ad_in_two_splits():
    ads = [f"ad{i:03d}" for i in range(498)]
    split = split_ads(ads, seed=0, **PAPER)
    assert set(split) == set(ads)  # every ad in exactly one split (a dict cannot hold two)
    n = pd.Series(split).value_counts()
    assert n["test"] == 72
    assert n["train"] + n["val"] == 426
    assert n["val"] == round(0.12 * 426)


def test_split_is_seeded_and_order_free():
    ads = [f"ad{i:03d}" for i in range(30)]
    a = split_ads(ads, seed=3, **PAPER)
    assert a == split_ads(list(reversed(ads)), seed=3, **PAPER)
    assert a != split_ads(ads, seed=4, **PAPER)


def test_small_study_keeps_training_ads():
    split = split_ads(["ad000", "ad001"], seed=0, **PAPER)
    assert sorted(split.values()) == ["test", "train"]
    with pytest.raises(DataError, match="at least 2 ads"):
        split_ads(["ad000"], seed=0, **PAPER)
    with pytest.raises(ConfigError, match="test_fraction"):
        split_ads(["ad000", "ad001"], seed=0, **{**PAPER, "test_fraction": 1.5})


def test_ctr_and_completion(tmp_path):
    p = tmp_path / "outcomes.tsv"
    p.write_text(
        "ad_id\timpressions\tclicks\tcompletions\nad000\t200\t5\t150\nad001\t1000\t0\t1000\n"
    )
    out = read_outcomes(p).set_index("ad_id")
    assert out.loc["ad000", "ctr"] == pytest.approx(0.025)
    assert out.loc["ad000", "completion_rate"] == pytest.approx(0.75)
    assert out.loc["ad001", "completion_rate"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("row", "match"),
    [
        pytest.param(
            "ad000\t10\t11\t5",
            r"outcomes.tsv:2: ad 'ad000' has impressions=10, clicks=11",
            id="clicks>impressions",
        ),
        pytest.param("ad000\t10\t1\t12", r"completions=12", id="completions>impressions"),
        pytest.param("ad000\t0\t0\t0", r"need impressions > 0", id="no-impressions"),
        pytest.param("ad000\t10\t-1\t2", r"non-count \['clicks'\]", id="negative"),
    ],
)
def test_bad_outcomes_name_file_and_row(tmp_path, row, match):
    p = tmp_path / "outcomes.tsv"
    p.write_text("ad_id\timpressions\tclicks\tcompletions\n" + row + "\n")
    with pytest.raises(DataError, match=match):
        read_outcomes(p)
