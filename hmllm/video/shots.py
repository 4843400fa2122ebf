"""Shot segmentation with PySceneDetect, recorded with its version and parameters.

PySceneDetect's cut lists change between versions, so the version (pinned in pyproject) and the
exact parameters travel with every cut list, and `hmllm video` stores them in ``shots.parquet``:
a study's shots never shift silently when the library is upgraded.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pandas as pd

from hmllm.errors import ConfigError, DataError

SHOT_COLUMNS = ["shot", "onset_s", "offset_s", "onset_frame", "offset_frame", "transition_in",
                "transition_start_frame", "transition_end_frame", "detector", "detector_version",
                "detector_params"]  # fmt: skip

#: Version of the gradual-transition detector (:func:`find_dissolves`), recorded in
#: ``detector_params`` with its settings: bump it whenever its output can change.
DISSOLVE_VERSION = 1

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


def frame_signals(small_bgr: np.ndarray, hist_bins: list[int]) -> tuple[np.ndarray, float]:
    """HSV colour histogram (sums to 1) and mean level (0–255) of one small BGR frame."""
    import cv2

    hsv = cv2.cvtColor(small_bgr, cv2.COLOR_BGR2HSV)
    h = cv2.calcHist([hsv], [0, 1, 2], None, list(hist_bins), [0, 180, 0, 256, 0, 256]).ravel()
    return h / max(float(h.sum()), 1.0), sum(cv2.mean(small_bgr)[:3]) / 3


def _frame_store(width_px: int, hist_bins: list[int]):
    """A PySceneDetect detector that records per-frame signals for :func:`find_dissolves`.

    Each decoded frame of the cut detectors' pass is shrunk to ``width_px`` and reduced to its
    colour histogram, mean level and RMS change from the previous frame (0–255), so memory stays
    small on long videos. Finds no cuts itself.
    """
    import cv2
    from scenedetect import SceneDetector

    class FrameStore(SceneDetector):
        def __init__(self) -> None:
            super().__init__()
            self.hists: list[np.ndarray] = []
            self.levels: list[float] = []
            self.steps: list[float] = []
            self._prev: np.ndarray | None = None

        def process_frame(self, timecode, frame_img: np.ndarray) -> list:
            h, w = frame_img.shape[:2]
            size = (width_px, max(1, round(h * width_px / w)))
            small = cv2.resize(frame_img, size, interpolation=cv2.INTER_AREA)
            hist, level = frame_signals(small, hist_bins)
            step = 0.0 if self._prev is None else cv2.norm(small, self._prev) / small.size**0.5
            self.hists.append(hist)
            self.levels.append(level)
            self.steps.append(step)
            self._prev = small
            return []

    return FrameStore()


def _scene_starts(path: Path, detector, fade_threshold: float | None, min_len: int,
                  store=None) -> list[int]:  # fmt: skip
    """Start frames of the scenes found by ``detector`` (+ a fade-to-black detector), merged.

    ``store`` (:func:`_frame_store`) is fed the same decoded frames when given.
    """
    from scenedetect import SceneManager, ThresholdDetector, open_video

    sm = SceneManager()
    sm.add_detector(detector)
    if fade_threshold is not None:  # fades to black the content detector misses
        sm.add_detector(ThresholdDetector(threshold=fade_threshold, min_scene_len=min_len))
    if store is not None:
        sm.add_detector(store)
    try:  # one decoding pass feeds all detectors
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


def find_dissolves(hists: np.ndarray, levels: np.ndarray, steps: np.ndarray, fps: float, *,
                   low: float, high: float, max_gap_frames: int, min_duration_s: float,
                   max_duration_s: float, max_step_share: float,
                   dark_level: float) -> list[tuple[int, int, int]]:  # fmt: skip
    """Gradual transitions (dissolves) by twin comparison of colour histograms.

    Twin comparison (Zhang, Kankanhalli & Smoliar 1993): a frame whose HSV histogram differs from
    its predecessor's by at least ``low`` is "in transition"; a run of such frames (gaps of up to
    ``max_gap_frames``) lasting ``min_duration_s``–``max_duration_s`` whose end differs from the
    frame before it by at least ``high`` is a gradual shot change. Motion inside a shot changes
    pixels but hardly the colour histogram, so it rarely passes ``high``. Runs where one frame step
    carries over ``max_step_share`` of the pixel change are cuts, and runs through frames darker
    than ``dark_level`` are fades: both are left to the cut and fade detectors. The boundary is the
    run's middle frame. (Projecting the frames on the line between frames before and after the
    run, ``frame ≈ A + a (B - A)``, and taking ``a = 0.5`` placed it worse on the synthetic ads:
    motion inside both shots leaks into ``a``.) The settings are the ``video.dissolve`` block of
    ``configs/video/default.yaml``.

    Parameters
    ----------
    hists
        ``(N, bins)`` HSV colour histograms of the video's frames in decode order, each summing
        to 1 (:func:`frame_signals`).
    levels
        ``(N,)`` mean pixel level of each frame, 0–255.
    steps
        ``(N,)`` RMS pixel change from the previous frame, 0–255 (``steps[0]`` is ignored).
    fps
        Frame rate, Hz.
    low, high
        Per-frame and accumulated histogram change thresholds, as half the L1 distance (0–1).
    max_gap_frames
        Frames under ``low`` tolerated inside one run.
    min_duration_s, max_duration_s
        Accepted run length, seconds.
    max_step_share
        Largest share (0–1) of the run's pixel change one frame step may carry.
    dark_level
        Mean pixel level (0–255) under which a frame counts as black.

    Returns
    -------
    list of (start, boundary, end)
        Frame indices: the first frame of the run, the boundary, and the frame after the run's
        last (exclusive end).
    """
    n = len(hists)
    change = np.r_[0.0, 0.5 * np.abs(np.diff(hists, axis=0)).sum(1)]  # (N,) 0-1
    min_len, max_len = max(2, round(min_duration_s * fps)), round(max_duration_s * fps)
    found, t = [], 1
    while t < n:
        if change[t] < low:
            t += 1
            continue
        first = last = t  # run of frames in transition, gaps of up to max_gap_frames
        while t + 1 < n and t + 1 - last <= max_gap_frames + 1:
            t += 1
            if change[t] >= low:
                last = t
        t = last + 1
        if not min_len <= last - first + 1 <= max_len:
            continue
        if 0.5 * np.abs(hists[last] - hists[first - 1]).sum() < high:
            continue
        if np.min(levels[first - 1 : last + 1]) < dark_level:
            continue
        run_steps = np.asarray(steps[first : last + 1])
        if run_steps.max() > max_step_share * run_steps.sum():
            continue
        found.append((first, (first + last + 1) // 2, last + 1))  # boundary: the run's middle
    return found


def find_dissolves_in_frames(frames: np.ndarray, fps: float, *, hist_bins: list[int],
                             **options) -> list[tuple[int, int, int]]:  # fmt: skip
    """:func:`find_dissolves` on ``(N, H, W, 3)`` uint8 BGR frames (small, e.g. 64 px wide)."""
    sig = [frame_signals(f, hist_bins) for f in frames]
    px = frames.reshape(len(frames), -1).astype(np.float32)
    steps = np.r_[0.0, np.sqrt((np.diff(px, axis=0) ** 2).mean(1))]
    return find_dissolves(np.stack([h for h, _ in sig]), np.array([lv for _, lv in sig]), steps,
                          fps, **options)  # fmt: skip


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


def _dissolve_settings(dissolve) -> dict:
    """A ``video.dissolve`` block (dict or OmegaConf node) as a plain dict, checked."""
    settings = {k: (list(v) if k == "hist_bins" else v) for k, v in dict(dissolve).items()}
    allowed = set(inspect.signature(find_dissolves).parameters) - {"hists", "levels", "steps",
                                                                    "fps"}  # fmt: skip
    unknown = set(settings) - allowed - {"frame_width_px", "hist_bins"}
    if unknown or int(settings.get("frame_width_px") or 0) < 8 or not settings.get("hist_bins"):
        raise ConfigError(
            f"video.dissolve must set frame_width_px (>= 8 pixels) and hist_bins and may set "
            f"{sorted(allowed)}; got {settings} (unknown: {sorted(unknown)}); fix configs/video "
            "or set video.dissolve=null to turn dissolve detection off"
        )
    return settings


def _merge_dissolves(starts: list[int], kinds: list[str], dissolves, min_len: int):
    """Add dissolve boundaries to the detectors' marks; returns ``(starts, kinds, spans)``.

    A cut or fade marked within a dissolve's span (or ``min_len`` frames of its boundary) wins
    and the dissolve is dropped; gradual marks there are the same transition, found off-centre,
    and are replaced by the dissolve's boundary. ``spans`` holds each boundary's transition
    ``(start, end)`` frames: the dissolve's, or the boundary itself for cuts and fades.
    """
    marks = {b: (k, b, b) for b, k in zip(starts, kinds, strict=True)}
    for first, boundary, end in dissolves:
        near = [b for b in marks if first <= b <= end or abs(b - boundary) < min_len]
        if any(marks[b][0] in ("cut", "fade") for b in near):
            continue
        for b in near:
            del marks[b]
        marks[boundary] = ("dissolve", first, end)
    keep = sorted(marks)
    return keep, [marks[b][0] for b in keep], [marks[b][1:] for b in keep]


def detect_shots(path: str | Path, *, detector: str = "adaptive", fps: float | None = None,
                 n_frames: int | None = None, fade_threshold: float | None = 12.0,
                 dissolve: dict | None = None, classify: bool = True,
                 **params) -> pd.DataFrame:  # fmt: skip
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
    dissolve
        Settings of the gradual-transition detector :func:`find_dissolves` (the ``dissolve``
        block of ``configs/video/default.yaml``; ``frame_width_px`` sets the analysed frame
        width), run on the same decoded frames; ``None`` disables it. PySceneDetect has no
        dissolve detector: its content detectors look for abrupt changes.
    classify
        Label each boundary cut/fade/dissolve (``transition_in``); else every boundary is ``cut``
        (dissolves found by ``dissolve`` are still labelled ``dissolve``).
    **params
        Passed to the detector (e.g. ``min_scene_len`` in frames, ``adaptive_threshold``).

    Returns
    -------
    pandas.DataFrame
        Columns ``shot, onset_s, offset_s, onset_frame, offset_frame, transition_in,
        transition_start_frame, transition_end_frame, detector, detector_version,
        detector_params`` (JSON of all parameters incl. ``fade_threshold`` and ``dissolve`` with
        its ``version``). A dissolve's boundary is its middle; ``transition_start_frame`` /
        ``transition_end_frame`` (exclusive) span its blended frames (both equal the onset for
        cuts, fades and shot 0). Frames are 0-based decode order, ``offset_frame`` exclusive;
        seconds come from the frames' presentation times, so variable-frame-rate files get true
        times.
    """
    import scenedetect

    from hmllm.video.probe import frame_times, probe

    path = Path(path)
    info = probe(path) if (fps is None or n_frames is None) else None
    fps = float(fps if fps is not None else info.fps)
    n_frames = int(n_frames if n_frames is not None else info.n_frames)
    det = _make_detector(detector, params)
    min_len = int(params.get("min_scene_len", 15))
    store = None
    if dissolve is not None:
        dissolve = _dissolve_settings(dissolve)
        store = _frame_store(int(dissolve["frame_width_px"]), dissolve["hist_bins"])
    starts = [s for s in _scene_starts(path, det, fade_threshold, min_len, store)
              if 0 < s < n_frames]  # fmt: skip
    kinds = classify_boundaries(path, starts, fps, n_frames) if classify else ["cut"] * len(starts)
    spans = [(s, s) for s in starts]
    if store is not None and store.hists:
        options = {k: v for k, v in dissolve.items() if k not in ("frame_width_px", "hist_bins")}
        found = find_dissolves(np.stack(store.hists), np.array(store.levels),
                               np.array(store.steps), fps, **options)  # fmt: skip
        found = [d for d in found if 0 < d[1] < n_frames]
        starts, kinds, spans = _merge_dissolves(starts, kinds, found, min_len)
    bounds = [0, *starts, n_frames]
    spans = [(0, 0), *spans]
    times = frame_times(path)
    if times.size != n_frames:  # probe and caller disagree: fall back to the nominal rate
        times = np.arange(n_frames) / fps
    t = np.append(times, times[-1] + 1.0 / fps)
    dissolve_rec = None if dissolve is None else {**dissolve, "version": DISSOLVE_VERSION}
    recorded = json.dumps({**params, "fade_threshold": fade_threshold, "dissolve": dissolve_rec},
                          sort_keys=True)  # fmt: skip
    rows = [{"shot": k, "onset_frame": a, "offset_frame": b, "onset_s": float(t[a]),
             "offset_s": float(t[b]), "transition_in": "start" if k == 0 else kinds[k - 1],
             "transition_start_frame": spans[k][0], "transition_end_frame": spans[k][1],
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
