"""Video: probe and validate, shots (PySceneDetect), frames and keyframes (decord), shot features."""

from hmllm.video.features import FEATURE_EXTRACTORS, shot_features
from hmllm.video.frames import keyframes, sample_frames
from hmllm.video.probe import VideoInfo, probe
from hmllm.video.shots import detect_shots

__all__ = ["FEATURE_EXTRACTORS", "VideoInfo", "detect_shots", "keyframes", "probe",
           "process_study", "sample_frames", "shot_features"]  # fmt: skip


def process_study(cfg):
    """Shots, keyframes and features for every ad of a study (see :mod:`hmllm.video.run`)."""
    from hmllm.video.run import process_study as _process

    return _process(cfg)
