import numpy as np
import pandas as pd

from eeg.aggregate import per_shot

SHOTS = pd.DataFrame({"shot": [0, 1, 2], "onset_s": [0.0, 4.0, 6.0], "offset_s": [4.0, 6.0, 6.5]})


def _seconds(valid):
    return pd.DataFrame({"second": np.arange(7), "index": "engagement",
                         "value": np.arange(7, dtype=float), "valid": valid})  # fmt: skip


def test_mean_over_valid_seconds_and_fraction():
    out = per_shot(
        _seconds([True, True, False, True, True, True, True]), SHOTS, min_valid_fraction=0.5
    )
    s0 = out[out["shot"] == 0].iloc[0]
    assert s0["value"] == (0 + 1 + 3) / 3
    assert s0["valid_fraction"] == 0.75
    assert not s0["missing"]


def test_shot_with_too_little_clean_data_is_missing_not_filled():
    out = per_shot(_seconds([True] * 4 + [False, False, True]), SHOTS, min_valid_fraction=0.5)
    s1 = out[out["shot"] == 1].iloc[0]
    assert s1["missing"]
    assert np.isnan(s1["value"])
    assert s1["valid_fraction"] == 0.0


def test_sub_second_shot_takes_the_second_it_falls_in():
    out = per_shot(_seconds([True] * 7), SHOTS, min_valid_fraction=0.5)
    s2 = out[out["shot"] == 2].iloc[0]
    assert s2["value"] == 6.0
