"""Shot detection against known cut frames; version/params recorded; keyframes and frame sampling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scenedetect

from hmllm.errors import ConfigError, DataError
from hmllm.video import detect_shots, keyframes, sample_frames
from hmllm.video.shots import (
    DISSOLVE_VERSION,
    SHOT_COLUMNS,
    boundary_f1,
    find_dissolves_in_frames,
)
from tests.conftest import compose
from tests.video.conftest import COLOURS, cut_video, dissolve_video, textured_frames


def test_cuts_found_within_two_frames(cuts_mp4):
    path, cuts = cuts_mp4
    shots = detect_shots(path, min_scene_len=8)
    assert list(shots.columns) == SHOT_COLUMNS
    assert boundary_f1(shots["onset_frame"].iloc[1:], cuts)["f1"] == 1.0
    assert shots["onset_frame"].iloc[0] == 0 and shots["offset_frame"].iloc[-1] == 110
    assert (
        shots["onset_frame"].iloc[1:].to_numpy() == shots["offset_frame"].iloc[:-1].to_numpy()
    ).all()
    assert shots["onset_s"].iloc[1] == pytest.approx(cuts[0] / 25, abs=2 / 25)
    assert list(shots["transition_in"]) == ["start", "cut", "cut", "cut"]
    assert (shots["detector_version"] == scenedetect.__version__).all()
    assert json.loads(shots["detector_params"].iloc[0]) == {
        "dissolve": None,
        "fade_threshold": 12.0,
        "min_scene_len": 8,
    }
    assert (shots["transition_start_frame"] == shots["onset_frame"]).all()
    assert (shots["transition_end_frame"] == shots["onset_frame"]).all()


@pytest.mark.parametrize("detector", ["content", "hash"])
def test_other_detectors_selectable(cuts_mp4, detector):
    path, cuts = cuts_mp4
    shots = detect_shots(path, detector=detector, min_scene_len=8)
    assert (shots["detector"] == detector).all()
    assert boundary_f1(shots["onset_frame"].iloc[1:], cuts)["recall"] == 1.0


def test_fade_is_found_and_labelled(tmp_path):
    path, cuts = cut_video(tmp_path / "fade.mp4", (30, 30, 30), fade_at=2, audio=False)
    shots = detect_shots(path, min_scene_len=8)
    assert boundary_f1(shots["onset_frame"].iloc[1:], cuts)["f1"] == 1.0
    assert list(shots["transition_in"]) == ["start", "cut", "fade"]


def test_single_shot_and_bad_detector(tmp_path):
    path, _ = cut_video(tmp_path / "one.mp4", (40,), audio=False)
    shots = detect_shots(path)
    assert len(shots) == 1 and shots["offset_frame"].iloc[0] == 40
    with pytest.raises(ConfigError, match="video.detector"):
        detect_shots(path, detector="magic")
    with pytest.raises(ConfigError, match="detector_params"):
        detect_shots(path, no_such_param=3)


def test_boundary_f1_counts_each_truth_once():
    m = boundary_f1([10, 11, 50], [10, 30], tolerance=2)
    assert (m["tp"], m["precision"], m["recall"]) == (1, pytest.approx(1 / 3), 0.5)


def test_sampling_is_exact_and_keyframes_written(cuts_mp4, tmp_path):
    path, cuts = cuts_mp4
    # the first frame after each cut has that shot's colour (accurate seeking via get_batch)
    frames = sample_frames(path, cuts)
    for k, f in enumerate(frames, start=1):
        assert np.abs(f[-8:, :8].reshape(-1, 3).mean(0) - COLOURS[k]).max() < 25
    assert sample_frames(path, n=5, size=(48, 32)).shape == (5, 32, 48, 3)
    shots = detect_shots(path, min_scene_len=8)
    assert sample_frames(path, n=2, shots=shots).shape == (8, 64, 96, 3)
    paths = keyframes(path, shots, tmp_path / "kf", thumb_width=40)
    assert [p.name for p in paths] == [f"shot{k:03d}.jpg" for k in range(4)]
    assert all(p.is_file() and (p.parent / f"thumb_{p.name}").is_file() for p in paths)


def test_sampling_bad_file(tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_text("nope")
    with pytest.raises(DataError, match="x.mp4"):
        sample_frames(bad, [0])


def _dissolve_cfg(**over) -> dict:
    from omegaconf import OmegaConf

    return {**OmegaConf.to_container(compose("video").video.dissolve), **over}


def _find(frames, fps=25.0) -> list[tuple[int, int, int]]:
    opts = {k: v for k, v in _dissolve_cfg().items() if k != "frame_width_px"}
    return find_dissolves_in_frames(np.stack(frames), fps, **opts)


def _crossfade(a: list, b: list, blend: int) -> list[np.ndarray]:
    """Shot ``a`` then ``b`` with a linear cross-fade of ``blend`` frames ending where ``a`` ends."""
    out = [f.astype(np.float32) for f in a] + [f.astype(np.float32) for f in b]
    for j in range(blend):
        f = len(a) - blend + j
        w = (j + 0.5) / blend
        out[f] = (1 - w) * out[f] + w * b[0].astype(np.float32)
    return [f.astype(np.uint8) for f in out]


def test_find_dissolves_locates_a_crossfade_at_its_middle():
    a = textured_frames(COLOURS[0], 40, w=64, h=36, seed=0)
    b = textured_frames(COLOURS[2], 40, w=64, h=36, seed=1)
    (start, boundary, end), *rest = _find(_crossfade(a, b, 16))
    assert not rest
    assert abs(boundary - 32) <= 2  # blended frames 24..39: middle 32
    assert 22 <= start <= 26 and 38 <= end <= 42


@pytest.mark.parametrize(
    "kind",
    ["hard cut", "fade through black", "motion in one shot"],
)
def test_find_dissolves_ignores_other_changes(kind):
    a = textured_frames(COLOURS[0], 40, w=64, h=36, seed=0)
    b = textured_frames(COLOURS[2], 40, w=64, h=36, seed=1)
    if kind == "hard cut":
        frames = a + b
    elif kind == "fade through black":
        out = [(f * (1 - (i + 1) / 8)).astype(np.uint8) for i, f in enumerate(a[-8:])]
        in_ = [(f * (i / 8)).astype(np.uint8) for i, f in enumerate(b[:8])]
        frames = a[:-8] + out + in_ + b[8:]
    else:  # a fast pan: the texture slides 3 px per frame
        wide = textured_frames(COLOURS[1], 1, w=400, h=36, seed=2)[0]
        frames = [np.ascontiguousarray(wide[:, 3 * i : 3 * i + 64]) for i in range(80)]
    assert _find(frames) == []


def test_dissolve_detected_in_a_video_with_type_span_and_params(tmp_path):
    path, bounds = dissolve_video(tmp_path / "d.mp4", (40, 40, 40), blend=16, audio=False)
    without = detect_shots(path, min_scene_len=8)
    assert boundary_f1(without["onset_frame"].iloc[1:], bounds)["recall"] < 1  # PySceneDetect alone
    shots = detect_shots(path, min_scene_len=8, dissolve=_dissolve_cfg())
    assert boundary_f1(shots["onset_frame"].iloc[1:], bounds)["f1"] == 1.0
    assert list(shots["transition_in"]) == ["start", "dissolve", "dissolve"]
    for row, b in zip(shots.iloc[1:].itertuples(), bounds, strict=True):
        assert row.transition_start_frame < b < row.transition_end_frame
        assert row.transition_end_frame - row.transition_start_frame <= 20
    recorded = json.loads(shots["detector_params"].iloc[0])["dissolve"]
    assert recorded["version"] == DISSOLVE_VERSION and recorded["low"] == _dissolve_cfg()["low"]


def test_dissolve_detection_keeps_hard_cuts(cuts_mp4):
    path, cuts = cuts_mp4
    shots = detect_shots(path, min_scene_len=8, dissolve=_dissolve_cfg())
    assert boundary_f1(shots["onset_frame"].iloc[1:], cuts)["f1"] == 1.0
    assert list(shots["transition_in"]) == ["start", "cut", "cut", "cut"]


def test_bad_dissolve_config(cuts_mp4):
    with pytest.raises(ConfigError, match="video.dissolve"):
        detect_shots(cuts_mp4[0], dissolve=_dissolve_cfg(lowest=0.1))
    with pytest.raises(ConfigError, match="frame_width_px"):
        detect_shots(cuts_mp4[0], dissolve=_dissolve_cfg(frame_width_px=None))
