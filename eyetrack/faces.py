"""Face AOIs found automatically: OpenCV's Haar cascade on sampled frames, tracked within shots.

Faces are detected on frames sampled every ``step_s`` seconds inside each shot, linked from
sample to sample by box overlap (IoU), and turned into the moving-AOI keyframe table of
:mod:`eyetrack.aoi` (``name, track, time_s, x0, y0, x1, y1, visible``; video coords 0–1): a box
is interpolated between the samples it was seen on, appears half a step before its first
sighting and disappears half a step after its last (clipped to the shot), so dwell time on
``face`` is measured like on a hand-drawn AOI. Tracks never cross a shot boundary.
cv2 and decord are imported on first use (the package stays light and torch-free).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from eyetrack.errors import GazeInputError

FACE_COLUMNS = ("name", "track", "time_s", "x0", "y0", "x1", "y1", "visible")
_CASCADE = None


def _cascade():
    global _CASCADE
    if _CASCADE is None:
        import cv2

        _CASCADE = cv2.CascadeClassifier(
            cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        )
        if _CASCADE.empty():
            raise GazeInputError(
                "OpenCV's frontal-face Haar cascade is missing; reinstall opencv-python-headless 4.x"
            )
    return _CASCADE


def sample_times(lo: np.ndarray, hi: np.ndarray, step_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Sample times (s) every ``step_s`` inside each window [lo, hi), and each sample's window.

    Samples sit at ``lo + step/2, lo + 3·step/2, …``; a window shorter than a step gets one
    sample at its middle.
    """
    if step_s <= 0:
        raise GazeInputError(f"eyetrack.faces.step_s must be > 0 s, got {step_s}")
    times, owner = [], []
    for i, (a, b) in enumerate(zip(lo, hi, strict=True)):
        t = np.arange(a + step_s / 2, b, step_s)
        t = t if len(t) else np.array([(a + b) / 2])
        times.append(t)
        owner.append(np.full(len(t), i))
    if not times:
        return np.zeros(0), np.zeros(0, int)
    return np.concatenate(times), np.concatenate(owner)


def detect_faces(frames_gray: list[np.ndarray], *, scale_factor: float, min_neighbors: int,
                 min_face_frac: float) -> list[np.ndarray]:  # fmt: skip
    """Frontal faces in each grey frame: ``(n_faces, 4)`` boxes x0, y0, x1, y1 in 0–1 video coords.

    ``min_face_frac`` is the smallest face searched, as a fraction of the frame height.
    """
    out = []
    for g in frames_gray:
        h, w = g.shape
        side = max(1, int(h * min_face_frac))
        found = _cascade().detectMultiScale(g, scale_factor, min_neighbors, minSize=(side, side))
        b = np.asarray(found, float).reshape(-1, 4)
        out.append(np.column_stack([b[:, 0] / w, b[:, 1] / h, (b[:, 0] + b[:, 2]) / w,
                                    (b[:, 1] + b[:, 3]) / h]))  # fmt: skip
    return out


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes ``a (n, 4)`` × ``b (m, 4)`` (x0, y0, x1, y1) → ``(n, m)``."""
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def track_faces(times: np.ndarray, boxes: list[np.ndarray], *, min_iou: float,
                max_missed: int) -> list[list[tuple[float, np.ndarray]]]:  # fmt: skip
    """Link per-sample detections of one shot into tracks (lists of ``(time_s, box)``).

    Greedy matching by highest IoU (≥ ``min_iou``) to each live track's last box; a track ends
    after ``max_missed`` consecutive samples without a match (a missed detection in between is
    bridged by interpolation).
    """
    done, live = [], []  # live: [sightings, missed]
    for t, det in zip(times, boxes, strict=True):
        used = np.zeros(len(det), bool)
        if live and len(det):
            m = iou(np.array([tr[0][-1][1] for tr in live]), det)
            for _ in range(min(m.shape)):
                i, j = np.unravel_index(np.argmax(m), m.shape)
                if m[i, j] < min_iou:
                    break
                live[i][0].append((float(t), det[j]))
                live[i][1] = -1  # seen: the += 1 below brings the miss count back to 0
                used[j] = True
                m[i, :], m[:, j] = -1, -1
        still = []
        for tr in live:
            tr[1] += 1
            (still if tr[1] <= max_missed else done).append(tr)
        live = still + [[[(float(t), det[j])], 0] for j in np.flatnonzero(~used)]
    return [tr[0] for tr in done + live]


def face_keyframes(tracks: list[list[tuple[float, np.ndarray]]], lo: float, hi: float, *,
                   step_s: float, pad_frac: float, name: str, first_track: int = 0) -> pd.DataFrame:  # fmt: skip
    """AOI keyframes of a shot's face tracks (see module docstring); boxes grown by ``pad_frac``.

    ``pad_frac`` grows each box by that fraction of its width/height on every side (gaze
    accuracy is ~0.5–1°, and the cascade's box covers brows to mouth, not the whole head).
    """
    rows = []
    for k, tr in enumerate(tracks):
        tid = first_track + k
        start = max(lo, tr[0][0] - step_s / 2)
        end = min(hi, tr[-1][0] + step_s / 2)
        pts = [(start, tr[0][1]), *tr]
        if start > 0:
            rows.append((name, tid, 0.0, *[np.nan] * 4, False))
        for t, b in pts:
            dx, dy = pad_frac * (b[2] - b[0]), pad_frac * (b[3] - b[1])
            box = np.clip([b[0] - dx, b[1] - dy, b[2] + dx, b[3] + dy], 0, 1)
            rows.append((name, tid, float(t), *box.tolist(), True))
        rows.append((name, tid, float(end), *[np.nan] * 4, False))
    df = pd.DataFrame(rows, columns=list(FACE_COLUMNS))
    df["track"] = df["track"].astype(np.int64)
    df["visible"] = df["visible"].astype(bool)
    return df


def read_frames_gray(video: Path, times_s: np.ndarray, width_px: int) -> list[np.ndarray]:
    """Grey frames (uint8) shown at ``times_s`` (s, presentation time), at most ``width_px`` wide."""
    import cv2
    import decord

    try:
        probe = decord.VideoReader(str(video), num_threads=1)
        h, w = probe[0].shape[:2]
        if w > width_px:
            size = (width_px, max(2, int(round(h * width_px / w / 2)) * 2))
            vr = decord.VideoReader(str(video), width=size[0], height=size[1], num_threads=1)
        else:
            vr = probe
        stamps = vr.get_frame_timestamp(range(len(vr)))[:, 0]
    except (decord.DECORDError, RuntimeError) as exc:
        raise GazeInputError(
            f"{video.name}: cannot read the video for face AOIs ({str(exc).splitlines()[0]}); "
            "check the file or set eyetrack.faces.enabled=false"
        ) from None
    idx = np.clip(np.searchsorted(stamps, times_s, side="right") - 1, 0, len(vr) - 1)
    frames = vr.get_batch(idx.tolist()).asnumpy()  # (n, H, W, 3) RGB
    return [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]


def face_aois(video: str | Path, shots: pd.DataFrame, duration_s: float, cfg: dict) -> pd.DataFrame:
    """Face AOI keyframes for one video (``FACE_COLUMNS``), from its shots ``onset_s, offset_s``.

    ``cfg`` is ``eyetrack.faces``: ``name``, ``step_s`` (s), ``detect_width_px``,
    ``scale_factor``, ``min_neighbors``, ``min_face_frac``, ``min_iou``, ``max_missed``,
    ``pad_frac``. A video without faces gives one ``visible=false`` row (the AOI is never shown).
    """
    video = Path(video)
    if not video.is_file():
        raise GazeInputError(
            f"{video}: video not found for face AOIs; check stimuli/ads.tsv or set "
            "eyetrack.faces.enabled=false"
        )
    lo = shots["onset_s"].to_numpy(float)
    hi = np.minimum(shots["offset_s"].to_numpy(float), duration_s)
    step = float(cfg["step_s"])
    times, owner = sample_times(lo, hi, step)
    gray = read_frames_gray(video, times, int(cfg["detect_width_px"]))
    boxes = detect_faces(gray, scale_factor=float(cfg["scale_factor"]),
                         min_neighbors=int(cfg["min_neighbors"]),
                         min_face_frac=float(cfg["min_face_frac"]))  # fmt: skip
    parts, n_tracks = [], 0
    for i in range(len(lo)):
        m = owner == i
        tracks = track_faces(times[m], [b for b, k in zip(boxes, m, strict=True) if k],
                             min_iou=float(cfg["min_iou"]), max_missed=int(cfg["max_missed"]))  # fmt: skip
        parts.append(face_keyframes(tracks, lo[i], hi[i], step_s=step, pad_frac=float(cfg["pad_frac"]),
                                    name=str(cfg["name"]), first_track=n_tracks))  # fmt: skip
        n_tracks += len(tracks)
    if n_tracks == 0:
        # one never-shown box: the AOI still exists, so a face-free ad gets dwell 0, not no index
        absent = (str(cfg["name"]), 0, 0.0, *[np.nan] * 4, False)
        return pd.DataFrame([absent], columns=list(FACE_COLUMNS))
    return pd.concat(parts, ignore_index=True)
