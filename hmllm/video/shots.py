"""Shot segmentation with PySceneDetect, recorded with its version and parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from hmllm.errors import ConfigError, DataError

SHOT_COLUMNS = ["shot", "onset_s", "offset_s", "onset_frame", "offset_frame", "transition_in",
                "detector", "detector_version", "detector_params"]  # fmt: skip


def _make_detector(name: str, params: dict):
    from scenedetect import AdaptiveDetector, ContentDetector, ThresholdDetector

    registry = {
        "adaptive": AdaptiveDetector,
        "content": ContentDetector,
        "threshold": ThresholdDetector,
    }
    if name not in registry:
        raise ConfigError(f"video.detector must be one of {sorted(registry)}, got {name!r}")
    try:
        return registry[name](**params)
    except TypeError as exc:
        raise ConfigError(f"video.detector_params do not fit the {name} detector: {exc}") from None


def detect_shots(path: str | Path, *, detector: str = "adaptive", fps: float | None = None,
                 n_frames: int | None = None, **params) -> pd.DataFrame:  # fmt: skip
    """Split a video into shots (PySceneDetect) and return one row per shot.

    Parameters
    ----------
    path
        The video.
    detector
        ``adaptive`` (default, the paper's choice), ``content`` or ``threshold`` (fades to black).
    fps, n_frames
        The probed frame rate and frame count (taken from the file when omitted).
    **params
        Passed to the detector (e.g. ``min_scene_len`` in frames, ``adaptive_threshold``).

    Returns
    -------
    pandas.DataFrame
        Columns ``shot, onset_s, offset_s, onset_frame, offset_frame, transition_in, detector,
        detector_version, detector_params``; onsets in seconds from the first frame. PySceneDetect's
        cut lists change between versions, so the version and parameters travel with every list.
    """
    import scenedetect

    path = Path(path)
    det = _make_detector(detector, params)
    try:
        scenes = scenedetect.detect(str(path), det, show_progress=False)
    except Exception as exc:  # noqa: BLE001 - any decoder failure becomes one clear message
        raise DataError(f"{path.name}: shot detection could not decode the video ({exc})") from None
    if fps is None or n_frames is None:
        from hmllm.video.probe import probe

        info = probe(path)
        fps, n_frames = info.fps, info.n_frames
    starts = [int(s[0].frame_num) for s in scenes] or [0]
    if starts[0] != 0:
        starts = [0, *starts]
    ends = [*starts[1:], int(n_frames)]
    rows = [{"shot": k, "onset_frame": a, "offset_frame": b, "onset_s": a / fps, "offset_s": b / fps,
             "transition_in": "start" if k == 0 else "cut", "detector": detector,
             "detector_version": scenedetect.__version__,
             "detector_params": json.dumps(params, sort_keys=True)}
            for k, (a, b) in enumerate(zip(starts, ends, strict=True)) if b > a]  # fmt: skip
    return pd.DataFrame(rows)[SHOT_COLUMNS]
