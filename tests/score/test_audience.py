from __future__ import annotations

import pytest

from hmllm.errors import ConfigError
from hmllm.score.audience import normalise_audience, resolve_audiences

KNOWN = ["all", "female", "male", "female_26-30", "male_over50"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("female_26-30", "female_26-30"),
        ("women_26_30", "female_26-30"),
        ("Women 26-30", "female_26-30"),
        ("everyone", "all"),
        ("men", "male"),
        ("men_over_50", "male_over50"),
        ("city_tier=tier1", "city_tier=tier1"),
    ],
    ids=[
        "canonical",
        "alias-underscores",
        "alias-spaces",
        "everyone",
        "men",
        "over50",
        "attribute",
    ],
)
def test_normalise_audience(text, expected):
    assert normalise_audience(text) == expected


def test_resolve_keeps_order_and_drops_duplicates():
    assert resolve_audiences(["women_26_30", "all", "female_26-30"], KNOWN, 5) == [
        "female_26-30",
        "all",
    ]


def test_empty_request_means_every_known_group():
    assert resolve_audiences([], KNOWN, 5) == KNOWN
    assert resolve_audiences("men", KNOWN, 5) == ["male"]


def test_unknown_audience_lists_known_groups_and_k_floor():
    with pytest.raises(
        ConfigError,
        match=r"unknown audience 'women_25_34'.*female_26-30.*fewer than 5 participants",
    ):
        resolve_audiences(["women_25_34"], KNOWN, 5)
