"""Shot segmentation with PySceneDetect, recorded with its version and parameters.

PySceneDetect's cut lists change between versions, so the version (pinned in pyproject) and the
exact parameters travel with every cut list, and `hmllm video` stores them in ``shots.parquet``:
a study's shots never shift silently when the library is upgraded.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from hmllm.errors import ConfigError, DataError

SHOT_COLUMNS = ["shot", "onset_s", "offset_s", "onset_frame", "offset_frame", "transition_in",
                "detector", "detector_version", "detector_params"]  # fmt: skip

#: Frame size (pixels) at which boundaries are classified (cut / fade / dissolve); tiny is enough.
_CLASSIFY_SIZE = (64, 36)


def _make_detector(name: str, params: dict):
    from scenedetect import AdaptiveDetector, ContentDetector, HashDetector, ThresholdDetector

    registry = {
        "adaptive": AdaptiveDetector,
        "content": ContentDetector,
        "threshold": ThresholdDetector,
        "hash": HashDetector,
    }
    if name not in registry:
        raise ConfigError(f"video.detector must be one of {sorted(registry)}, got {name!r}")
    try:
        return registry[name](**params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"video.detector_params do not fit the {name} detector: {exc}") from None


def _scene_starts(path: Path, detector, fade_threshold: float | None, min_len: int) -> list[int]:
    """Start frames of the scenes found by ``detector`` (+ a fade-to-black detector), merged."""
    from scenedetect import SceneManager, ThresholdDetector, open_video

    sm = SceneManager()
    sm.add_detector(detector)
    if fade_threshold is not None:  # fades to black the content detector misses
        sm.add_detector(ThresholdDetector(threshold=fade_threshold, min_scene_len=min_len))
    try:  # one decoding pass feeds both detectors
        sm.detect_scenes(video=open_video(str(path)), show_progress=False)
        starts = sorted({int(s[0].frame_num) for s in sm.get_scene_list()})
    except Exception as exc:  # noqa: BLE001 - any decoder failure becomes one clear message
        raise DataError(
            f"{path.name}: shot detection could not decode the video ({exc}); re-export it"
        ) from None
    merged: list[int] = []
    for f in starts:  # both detectors may mark the same transition: keep the first mark
        if not merged or f - merged[-1] >= min_len:
            merged.append(f)
    return merged


def classify_boundaries(path: Path, starts: list[int], fps: float, n_frames: int, *,
                        window_s: float = 0.4, dark_level: float = 0.1) -> list[str]:  # fmt: skip
    """Label each boundary ``cut``, ``fade`` (through black) or ``dissolve`` (gradual).

    Looks at mean luma and frame-to-frame change within ±``window_s`` seconds of the boundary:
    a fade dips below ``dark_level`` (0–1) and below a third of the neighbouring shots' luma; a cut
    concentrates most of the change in one frame step; otherwise the change is gradual (dissolve).
    Hand-written because PySceneDetect reports boundaries but not their kind.
    """
    from hmllm.video.frames import sample_frames

    if not starts:
        return []
    h = max(2, int(round(window_s * fps)))
    offs = np.arange(-h, h + 1)
    idx = np.clip(np.asarray(starts)[:, None] + offs[None, :], 0, n_frames - 1)
    frames = sample_frames(path, idx.reshape(-1), size=_CLASSIFY_SIZE).astype(np.float32) / 255
    frames = frames.reshape(len(starts), len(offs), -1)
    kinds = []
    for fr in frames:
        luma = fr.mean(1)
        ends = min(luma[0], luma[-1])
        steps = np.abs(np.diff(fr, axis=0)).mean(1)
        total = np.abs(fr[-1] - fr[0]).mean() + 1e-6
        if luma.min() < dark_level and luma.min() < ends / 3:
            kinds.append("fade")
        elif steps.max() / max(total, steps.sum() / 2) > 0.5:
            kinds.append("cut")
        else:
            kinds.append("dissolve")
    return kinds


def detect_shots(path: str | Path, *, detector: str = "adaptive", fps: float | None = None,
                 n_frames: int | None = None, fade_threshold: float | None = 12.0,
                 classify: bool = True, **params) -> pd.DataFrame:  # fmt: skip
    """Split a video into shots (PySceneDetect) and return one row per shot.

    Parameters
    ----------
    path
        The video (any file :func:`hmllm.video.probe` accepts).
    detector
        ``adaptive`` (default, AdaptiveDetector), ``content``, ``threshold`` (fades to black) or
        ``hash`` (perceptual hash).
    fps, n_frames
        The probed frame rate (Hz) and frame count (probed from the file when omitted).
    fade_threshold
        Mean pixel level (0–255) of PySceneDetect's ThresholdDetector, run as well to catch fades
        to black the main detector misses; ``None`` disables it.
    classify
        Label each boundary cut/fade/dissolve (``transition_in``); else every boundary is ``cut``.
    **params
        Passed to the detector (e.g. ``min_scene_len`` in frames, ``adaptive_threshold``).

    Returns
    -------
    pandas.DataFrame
        Columns ``shot, onset_s, offset_s, onset_frame, offset_frame, transition_in, detector,
        detector_version, detector_params`` (JSON of all parameters incl. ``fade_threshold``).
        Frames are 0-based decode order, ``offset_frame`` exclusive; seconds come from the frames'
        presentation times, so variable-frame-rate files get true times.
    """
    import scenedetect

    from hmllm.video.probe import frame_times, probe

    path = Path(path)
    info = probe(path) if (fps is None or n_frames is None) else None
    fps = float(fps if fps is not None else info.fps)
    n_frames = int(n_frames if n_frames is not None else info.n_frames)
    det = _make_detector(detector, params)
    min_len = int(params.get("min_scene_len", 15))
    starts = [s for s in _scene_starts(path, det, fade_threshold, min_len) if 0 < s < n_frames]
    kinds = classify_boundaries(path, starts, fps, n_frames) if classify else ["cut"] * len(starts)
    bounds = [0, *starts, n_frames]
    times = frame_times(path)
    if times.size != n_frames:  # probe and caller disagree: fall back to the nominal rate
        times = np.arange(n_frames) / fps
    t = np.append(times, times[-1] + 1.0 / fps)
    recorded = json.dumps({**params, "fade_threshold": fade_threshold}, sort_keys=True)
    rows = [{"shot": k, "onset_frame": a, "offset_frame": b, "onset_s": float(t[a]),
             "offset_s": float(t[b]), "transition_in": "start" if k == 0 else kinds[k - 1],
             "detector": detector, "detector_version": scenedetect.__version__,
             "detector_params": recorded}
            for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))]  # fmt: skip
    return pd.DataFrame(rows)[SHOT_COLUMNS]


def boundary_f1(predicted, truth, *, tolerance: int = 2) -> dict[str, float]:
    """Precision, recall and F1 of predicted boundary frames against true ones.

    Each true boundary may be matched by at most one predicted boundary within ``tolerance``
    frames (greedy, nearest first).

    Parameters
    ----------
    predicted, truth
        Boundary frame indices (shot onsets, excluding frame 0).
    tolerance
        Largest allowed distance, frames.

    Returns
    -------
    dict
        ``precision, recall, f1, tp, n_pred, n_true``.
    """
    pred = sorted(int(p) for p in predicted)
    true = sorted(int(t) for t in truth)
    pairs = sorted((abs(p - t), i, j) for i, p in enumerate(pred) for j, t in enumerate(true)
                   if abs(p - t) <= tolerance)  # fmt: skip
    used_p, used_t, tp = set(), set(), 0
    for _, i, j in pairs:
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
            tp += 1
    precision = tp / len(pred) if pred else float(not true)
    recall = tp / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "n_pred": len(pred),
            "n_true": len(true)}  # fmt: skip
