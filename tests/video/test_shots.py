"""Shot detection against known cut frames; version/params recorded; keyframes and frame sampling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scenedetect

from hmllm.errors import ConfigError, DataError
from hmllm.video import detect_shots, keyframes, sample_frames
from hmllm.video.shots import SHOT_COLUMNS, boundary_f1
from tests.video.conftest import COLOURS, cut_video


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
        "fade_threshold": 12.0,
        "min_scene_len": 8,
    }


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
