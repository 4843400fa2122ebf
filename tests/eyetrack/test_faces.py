"""Face AOIs found by the Haar cascade on a rendered clip with the synthetic ads' drawn face."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eyetrack.aoi import aoi_hits
from eyetrack.errors import GazeInputError
from eyetrack.faces import face_aois, sample_times, track_faces
from tests.conftest import compose

W, H, FPS = 320, 180, 10
# shots: a face left of centre, no face, a face right of centre (video coords of its centre)
CLIP = pd.DataFrame({"shot": [0, 1, 2], "onset_s": [0.0, 1.5, 3.0], "offset_s": [1.5, 3.0, 4.5],
                     "face_x": [0.3, np.nan, 0.7], "face_y": [0.5, np.nan, 0.45]})  # fmt: skip


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A 4.5 s H.264 clip drawn like a synthetic ad (hmllm.synth.video.draw_face)."""
    import av

    from hmllm.synth.video import draw_face

    path = tmp_path_factory.mktemp("faces") / "clip.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
        for f in range(int(4.5 * FPS)):
            frame = np.full((H, W, 3), (90, 120, 60), np.uint8)
            s = CLIP.iloc[int(np.searchsorted(CLIP["onset_s"], f / FPS, side="right") - 1)]
            if np.isfinite(s["face_x"]):
                draw_face(frame, int(s["face_x"] * W), int(s["face_y"] * H), int(H * 0.5))
            out.mux(vs.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")))
        out.mux(vs.encode(None))
    return path


@pytest.fixture(scope="module")
def fcfg() -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(compose("eyetrack", ["eyetrack=faces"]).eyetrack.faces)


def test_faces_found_in_face_shots_only(clip, fcfg):
    tab = face_aois(clip, CLIP, 4.5, fcfg)
    assert set(tab["name"]) == {"face"} and tab["track"].nunique() == 2
    mid = ((CLIP["onset_s"] + CLIP["offset_s"]) / 2).to_numpy()
    x, y = CLIP["face_x"].fillna(0.5).to_numpy(), CLIP["face_y"].fillna(0.5).to_numpy()
    assert aoi_hits(tab, mid, x, y)["face"].tolist() == [True, False, True]
    # the left face's box does not follow the gaze into the next shots, nor precede the right one
    assert aoi_hits(tab, np.array([1.6, 2.9]), np.array([0.3, 0.7]), np.array([0.5, 0.45]))[
        "face"
    ].tolist() == [False, False]


def test_face_free_video_gives_an_absent_aoi(clip, fcfg):
    tab = face_aois(clip, CLIP.iloc[[1]], 4.5, fcfg)
    assert len(tab) == 1 and not tab["visible"].any()
    assert not aoi_hits(tab, np.linspace(0, 4.5, 10), np.full(10, 0.5), np.full(10, 0.5))[
        "face"
    ].any()


def test_tracking_bridges_a_miss_and_separates_faces():
    a, b = np.array([[0.1, 0.1, 0.3, 0.4]]), np.array([[0.6, 0.1, 0.8, 0.4]])
    dets = [np.vstack([a, b]), a, np.vstack([a, b]), np.zeros((0, 4)), np.zeros((0, 4)), a]
    tracks = track_faces(np.arange(6.0), dets, min_iou=0.3, max_missed=1)
    spans = sorted((tr[0][0], tr[-1][0]) for tr in tracks)
    # left face: seen 0-2, lost for 2 samples (> max_missed) so a new track at 5; right face: 0-2
    assert spans == [(0.0, 2.0), (0.0, 2.0), (5.0, 5.0)]


def test_sample_times_cover_short_shots():
    t, owner = sample_times(np.array([0.0, 2.0]), np.array([2.0, 2.2]), 0.5)
    np.testing.assert_allclose(t, [0.25, 0.75, 1.25, 1.75, 2.1])
    assert owner.tolist() == [0, 0, 0, 0, 1]
    with pytest.raises(GazeInputError, match="step_s must be > 0"):
        sample_times(np.array([0.0]), np.array([1.0]), 0.0)


def test_missing_video(tmp_path, fcfg):
    with pytest.raises(GazeInputError, match="video not found for face AOIs"):
        face_aois(tmp_path / "nope.mp4", CLIP, 4.5, fcfg)
