"""Geometry, event detection and per-window metrics on recordings with planted truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eyetrack.aoi import aoi_hits, boxes_at
from eyetrack.errors import GazeInputError
from eyetrack.events import match_fixations
from eyetrack.geometry import px_per_deg, px_to_deg, screen_to_video
from eyetrack.io import read_gaze
from eyetrack.pipeline import EMR_METHODS, process_gaze
from tests.conftest import compose
from tests.eyetrack.conftest import DURATION_S, ONSET_S, SCREEN, plant, write_asc

SHOTS = pd.DataFrame({"shot": [0, 1], "onset_s": [0.0, 2.0], "offset_s": [2.0, DURATION_S]})


@pytest.fixture(scope="module")
def cfg() -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(compose("eyetrack").eyetrack, resolve=True)


def planted_on_video(p, lo: float, hi: float) -> float:
    """Share of the window's samples that are valid and inside the video rect."""
    tv = p.t - ONSET_S
    m = (tv >= lo) & (tv < hi)
    x0, y0, w, h = SCREEN["video_rect_px"]
    on = p.valid & (p.x >= x0) & (p.x <= x0 + w) & (p.y >= y0) & (p.y <= y0 + h)
    return float(on[m].mean())


def test_geometry():
    # 1° at 65 cm is 2·65·tan(0.5°) = 1.1345 cm; 1920 px over 51.8 cm → 42.05 px
    assert px_per_deg(1920, 51.8, 65.0) == pytest.approx(42.05, abs=0.01)
    assert px_to_deg(np.array([42.05]), SCREEN)[0] == pytest.approx(1.0, abs=1e-3)
    u, v, on = screen_to_video(
        np.array([960.0, 960.0, np.nan, 2500.0]),
        np.array([600.0, 30.0, 600.0, 600.0]),
        [0, 60, 1920, 1080],
    )
    np.testing.assert_allclose(u[:2], [0.5, 0.5])
    assert v[0] == pytest.approx(0.5) and v[1] < 0  # letterbox band above the video
    assert on.tolist() == [True, False, False, False]


@pytest.mark.parametrize("detector", ["tracker", "ivt", "idt"])
def test_fixations_match_planted(tmp_path, planted, cfg, detector):
    rec = read_gaze(write_asc(tmp_path / "a.asc", planted))
    c = {**cfg, "events": {**cfg["events"], "detector": detector}}
    _, _, fix, q = process_gaze(rec, DURATION_S, SHOTS, c)
    assert q["event_source"] == detector
    truth = pd.DataFrame(planted.fixations, columns=["onset_s", "offset_s", "x_px", "y_px"])
    truth[["onset_s", "offset_s"]] -= ONSET_S
    truth = truth[(truth["onset_s"] >= 0) & (truth["onset_s"] < DURATION_S)]
    res = match_fixations(fix, truth)
    assert res["recall"] >= 0.9 and res["precision"] >= 0.9, res
    assert res["onset_err_s"] < 0.03
    # positions: the median of the fixation's samples is the planted target (noise sd 3 px)
    m = fix.merge(truth.round({"onset_s": 1}).assign(onset_s=lambda d: d["onset_s"]), how="cross")
    assert np.nanmin(np.hypot(m["x_px_x"] - m["x_px_y"], m["y_px_x"] - m["y_px_y"])) < 3


def test_emr_per_shot_and_second(tmp_path, planted, cfg):
    rec = read_gaze(write_asc(tmp_path / "a.asc", planted))
    sec, shot, fix, q = process_gaze(rec, DURATION_S, SHOTS, cfg)
    emr = shot[shot["index"] == "emr"].set_index("shot")["value"]
    assert emr[0] == pytest.approx(planted_on_video(planted, 0, 2), abs=0.01)
    assert emr[1] == pytest.approx(planted_on_video(planted, 2, 4), abs=0.01)
    assert emr[1] < emr[0] - 0.2  # shot 1 has every other fixation in the letterbox
    sec_emr = sec[sec["index"] == "emr"].set_index("second")["value"]
    assert list(sec_emr.index) == [0, 1, 2, 3]
    assert sec_emr[0] == pytest.approx(
        planted_on_video(planted, 0, 1), abs=0.01
    )  # includes the blink
    loss = shot[shot["index"] == "data_loss"].set_index("shot")["value"]
    assert loss[0] == pytest.approx(0.1, abs=0.01) and loss[1] == pytest.approx(0.0, abs=0.01)
    assert {
        "fixation_count",
        "fixation_dur_s",
        "saccade_amp_deg",
        "dispersion_deg",
        "pupil",
    } <= set(shot["index"])
    n_fix = shot[shot["index"] == "fixation_count"].set_index("shot")["value"]
    assert n_fix[0] == pytest.approx(2 / 0.34, abs=1.5)
    assert q["usable"] and q["flags"] == ""
    assert fix["shot"].tolist() == sorted(fix["shot"].tolist()) and set(fix["shot"]) == {0, 1}
    # alternatives of EMR_METHODS are all in [0, 1]
    for method in EMR_METHODS:
        _, s2, _, _ = process_gaze(rec, DURATION_S, SHOTS, {**cfg, "emr_method": method})
        assert s2[s2["index"] == "emr"]["value"].between(0, 1).all()


def test_moving_aoi_dwell(tmp_path, planted, cfg):
    rec = read_gaze(write_asc(tmp_path / "a.asc", planted))
    # a box that slides from the left half to the right half of the video over 4 s
    aois = pd.DataFrame({"ad_id": "ad000", "name": "logo", "time_s": [0.0, 4.0], "x0": [0.0, 0.5],
                         "y0": [0.0, 0.0], "x1": [0.5, 1.0], "y1": [1.0, 1.0]})  # fmt: skip
    np.testing.assert_allclose(boxes_at(aois, np.array([2.0]))[0], [0.25, 0.0, 0.75, 1.0])
    _, shot, _, _ = process_gaze(rec, DURATION_S, SHOTS, cfg, aois=aois)
    dwell = shot[shot["index"] == "aoi_logo_dwell"].set_index("shot")["value"]
    tv = rec.times_s - ONSET_S
    u, v, on = screen_to_video(rec.x_px, rec.y_px, SCREEN["video_rect_px"])
    hit = aoi_hits(aois, tv, u, v)["logo"] & on & rec.valid
    expected = hit[(tv >= 0) & (tv < 2)].sum() / rec.sfreq_hz
    assert dwell[0] == pytest.approx(expected, abs=1e-9) and 0 < dwell[0] <= 2.0


def test_quality_flags_and_sync_errors(tmp_path, cfg):
    lost = plant()
    lost.valid[:] = False
    lost.x[:] = np.nan
    lost.y[:] = np.nan
    rec = read_gaze(write_asc(tmp_path / "lost.asc", lost, with_events=False))
    _, shot, _, q = process_gaze(rec, DURATION_S, SHOTS, cfg)
    assert not q["usable"] and "data_loss" in q["flags"] and q["data_loss"] == 1.0
    assert shot.loc[shot["index"] == "emr", "value"].eq(0).all()  # lost gaze = not looking
    assert shot.loc[shot["index"] == "dispersion_deg", "value"].isna().all()
    far = plant()
    far.x[far.valid] += 10_000
    rec = read_gaze(write_asc(tmp_path / "far.asc", far))
    _, _, _, q = process_gaze(rec, DURATION_S, SHOTS, cfg)
    assert not q["usable"] and "gaze_far_offscreen" in q["flags"]
    rec = read_gaze(write_asc(tmp_path / "ok.asc", plant()))
    with pytest.raises(GazeInputError, match="triggers not synchronised"):
        process_gaze(rec, 10.0, SHOTS, cfg)
    rec.messages.pop("video_onset")
    with pytest.raises(GazeInputError, match="no 'video_onset' message"):
        process_gaze(rec, DURATION_S, SHOTS, cfg)
