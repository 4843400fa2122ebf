"""Moving AOIs that come and go (``visible``) and names with several boxes at once (``track``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eyetrack.aoi import aoi_hits, boxes_at, read_aois
from eyetrack.errors import GazeInputError

NAN = np.nan


def keyframes(times, boxes, visible, track=0, name="face"):
    b = np.asarray(boxes, float)
    return pd.DataFrame({"ad_id": "ad000", "name": name, "track": track, "time_s": times,
                         "x0": b[:, 0], "y0": b[:, 1], "x1": b[:, 2], "y1": b[:, 3],
                         "visible": visible})  # fmt: skip


def test_box_absent_between_invisible_and_next_visible():
    k = keyframes([0, 1, 2, 3, 5], [[NAN] * 4, [.1, .1, .2, .2], [.3, .1, .4, .2], [NAN] * 4,
                                   [.5, .5, .6, .6]], [False, True, True, False, True])  # fmt: skip
    b = boxes_at(k, np.array([0.5, 1.5, 2.5, 4.0, 6.0]))
    assert np.isnan(b[0]).all() and np.isnan(b[3]).all()  # before it appears; after it left
    np.testing.assert_allclose(b[1], [0.2, 0.1, 0.3, 0.2])  # interpolated between visible keys
    np.testing.assert_allclose(b[2], [0.3, 0.1, 0.4, 0.2])  # held up to the disappearance
    np.testing.assert_allclose(b[4], [0.5, 0.5, 0.6, 0.6])  # held after the last visible key


def test_without_visible_column_box_is_held_at_both_ends():
    k = keyframes([1, 2], [[0.1, 0.1, 0.2, 0.2], [0.3, 0.1, 0.4, 0.2]], True).drop(
        columns="visible"
    )
    b = boxes_at(k, np.array([0.0, 3.0]))
    np.testing.assert_allclose(b, [[0.1, 0.1, 0.2, 0.2], [0.3, 0.1, 0.4, 0.2]])


def test_name_hits_any_of_its_tracks():
    a = keyframes([0], [[0.0, 0.0, 0.2, 0.2]], True, track=0)
    b = keyframes([0], [[0.8, 0.8, 1.0, 1.0]], True, track=1)
    hits = aoi_hits(
        pd.concat([a, b]), np.zeros(3), np.array([0.1, 0.9, 0.5]), np.array([0.1, 0.9, 0.5])
    )
    assert hits["face"].tolist() == [True, True, False]


def test_read_aois_skips_box_check_for_invisible_rows(tmp_path):
    path = tmp_path / "aois.csv"
    keyframes([0, 1], [[NAN] * 4, [0.1, 0.1, 0.2, 0.2]], [False, True]).to_csv(path, index=False)
    assert read_aois(path)["visible"].tolist() == [False, True]
    keyframes([0, 1], [[0.3, 0.1, 0.2, 0.2], [0.1, 0.1, 0.2, 0.2]], [True, True]).to_csv(
        path, index=False
    )
    with pytest.raises(GazeInputError, match="x1<=x0 or y1<=y0 at row 0"):
        read_aois(path)
