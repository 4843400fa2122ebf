"""Probe/validate: good files described correctly, bad files rejected with clear DataErrors."""

from __future__ import annotations

import numpy as np
import pytest

from hmllm.errors import DataError
from hmllm.video import probe, sample_frames
from hmllm.video.probe import frame_times
from tests.video.conftest import FPS, H, W, shot_frames, write_video


def test_probe_describes_video(cuts_mp4):
    path, _ = cuts_mp4
    info = probe(path)
    assert (info.codec, info.width, info.height) == ("h264", W, H)
    assert info.fps == pytest.approx(FPS)
    assert info.n_frames == 110
    assert info.duration_s == pytest.approx(110 / FPS, abs=0.05)
    assert info.has_audio and not info.variable_frame_rate and info.rotation_deg == 0
    assert len(info.sha256) == 64


def test_no_audio_portrait_and_rotated(tmp_path):
    portrait = write_video(
        tmp_path / "p.mp4", shot_frames((200, 30, 30), 20, w=48, h=96), audio=False
    )
    info = probe(portrait)
    assert (info.width, info.height, info.has_audio) == (48, 96, False)
    assert sample_frames(portrait, [0, 5], size=(24, 48)).shape == (2, 48, 24, 3)
    # landscape pixels + 90° display rotation: shown as portrait, decoded upright by decord
    rot = write_video(tmp_path / "r.mp4", shot_frames((30, 200, 30), 20, w=96, h=48), rotation=90)
    info = probe(rot)
    assert (info.width, info.height, info.rotation_deg) in {(48, 96, 90), (48, 96, 270)}
    assert sample_frames(rot, [3]).shape == (1, 96, 48, 3)
    assert sample_frames(rot, [3], size=(24, 48)).shape == (1, 48, 24, 3)


def test_variable_frame_rate_is_flagged_and_timed(tmp_path):
    times = np.cumsum([0] + [0.04] * 10 + [0.1] * 10)[:20].tolist()
    path = write_video(
        tmp_path / "vfr.mp4", shot_frames((90, 90, 200), 20), audio=False, times_s=times
    )
    info = probe(path)
    assert info.variable_frame_rate
    assert frame_times(path) == pytest.approx(np.asarray(times) - times[0], abs=2e-3)


@pytest.mark.parametrize("kind", ["text", "empty", "truncated", "missing", "audio_only"])
def test_bad_inputs_raise_data_error(tmp_path, cuts_mp4, kind):
    path = tmp_path / f"{kind}.mp4"
    if kind == "text":
        path.write_text("this is not a video\n" * 50)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(cuts_mp4[0].read_bytes()[:600])
    elif kind == "audio_only":
        import av

        with av.open(str(path), "w") as c:
            s = c.add_stream("aac", rate=16000)
            s.layout = "mono"
            fr = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="flt", layout="mono"
            )
            fr.sample_rate, fr.pts = 16000, 0
            for p in [*s.encode(fr), *s.encode()]:
                c.mux(p)
    with pytest.raises(DataError, match=path.name):
        probe(path)


def test_limits_reject_huge_and_long(cuts_mp4):
    path, _ = cuts_mp4
    with pytest.raises(DataError, match="max_pixels"):
        probe(path, max_pixels=W * H - 1)
    with pytest.raises(DataError, match="max_duration_s"):
        probe(path, max_duration_s=1.0)


def test_corrupt_middle_is_handled(tmp_path, cuts_mp4):
    """Garbage in the middle of the stream: either a clear DataError or a usable (partial) probe."""
    data = bytearray(cuts_mp4[0].read_bytes())
    mid = len(data) // 2
    data[mid : mid + 400] = bytes(400)
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(bytes(data))
    try:
        info = probe(path)
    except DataError as exc:
        assert "corrupt.mp4" in str(exc)
    else:
        assert info.n_frames > 0
