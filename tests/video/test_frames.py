"""Frame access: frames decoded in several batches from one reader."""

from __future__ import annotations

import numpy as np

from hmllm.video import sample_frames
from hmllm.video.frames import sample_frame_batches


def test_frame_batches_equal_one_batch(cuts_mp4):
    batches = [[2, 3, 10], [11, 40, 41], [90]]
    got = list(sample_frame_batches(cuts_mp4[0], batches, size=(64, 42)))
    assert [len(b) for b in got] == [3, 3, 1]
    one = sample_frames(cuts_mp4[0], np.concatenate(batches), size=(64, 42))
    assert np.array_equal(np.concatenate(got), one)
