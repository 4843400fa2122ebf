"""Shot features, chosen by name (``FEATURE_EXTRACTORS``), cached by content hash.

``handcrafted`` — colour, brightness, motion, faces (OpenCV's shipped Haar cascade), text area,
edges, pacing, loudness and speech activity; cheap and interpretable (the report explains
predictions with them). ``hf`` — any Hugging Face vision encoder by hub id or local folder, mean-
pooled over each shot's sampled frames. ``cnn`` — a tiny conv net trained from scratch (contrastive,
self-supervised) on the frames it encodes, weights cached. Any extractor can add per-shot
transcript embeddings from ``.srt``/``.vtt`` sidecars (``transcript: true``).

Every extractor has the signature ``(path, shots, cfg, cache_dir) -> DataFrame(shot, float32...)``;
register new ones in :data:`FEATURE_EXTRACTORS`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from hmllm.errors import ConfigError, DataError
from hmllm.video.audio import load_audio, shot_audio_features
from hmllm.video.frames import (
    display_size,
    sample_frame_batches,
    sample_frames,
    shot_frame_indices,
    video_size,
)

log = logging.getLogger(__name__)


def _face_cascade(name: str) -> cv2.CascadeClassifier:
    """One of OpenCV's shipped Haar cascades by file name, loaded afresh."""
    if Path(name).name != name or not name.endswith(".xml"):
        raise ConfigError(f"features.face_cascade must be a cascade file name shipped with OpenCV "
                          f"(e.g. haarcascade_frontalface_alt2.xml), got {name!r}")  # fmt: skip
    cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / name))
    if cascade.empty():
        raise ConfigError(
            f"OpenCV's Haar cascade {name!r} is missing from {cv2.data.haarcascades}; pick a file "
            "there for features.face_cascade or reinstall opencv-python-headless 4.x"
        )
    return cascade


_IDLE_CASCADES: dict[str, list[cv2.CascadeClassifier]] = {}  # cascade file → loaded, not in use
_CASCADE_LOCK = threading.Lock()


@contextlib.contextmanager
def _borrowed_cascade(name: str) -> Iterator[cv2.CascadeClassifier]:
    """A loaded cascade that no other thread uses meanwhile (each is loaded once per process).

    A ``CascadeClassifier`` keeps its working buffers in the object: two threads searching with
    the same one at once get wrong detections.
    """
    with _CASCADE_LOCK:
        idle = _IDLE_CASCADES.setdefault(name, [])
        cascade = idle.pop() if idle else None
    if cascade is None:
        cascade = _face_cascade(name)
    try:
        yield cascade
    finally:
        with _CASCADE_LOCK:
            _IDLE_CASCADES[name].append(cascade)


def text_area_fraction(gray: np.ndarray) -> float:
    """Share of the frame covered by text-like regions (dense, wide strokes of high contrast)."""
    grad = cv2.morphologyEx(
        gray, cv2.MORPH_GRADIENT, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    )
    _, bw = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    joined = cv2.morphologyEx(
        bw, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 1))
    )
    # each connected component's bounding box from the outer contours of a two-level contour
    # tree (islands inside holes are outer contours too): the boxes connectedComponentsWithStats
    # gives, at a sixth of its cost
    contours, hierarchy = cv2.findContours(joined, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return 0.0
    outer = [c for c, parent in zip(contours, hierarchy[0, :, 3], strict=True) if parent < 0]
    h, w = gray.shape
    x, y, cw, ch = np.array([cv2.boundingRect(c) for c in outer], np.int64).T
    ii = cv2.integral(bw, sdepth=cv2.CV_32S)  # (h + 1, w + 1): box sums without a Python loop
    box = ii[y + ch, x + cw] - ii[y, x + cw] - ii[y + ch, x] + ii[y, x]
    fill = box / (255.0 * cw * ch)  # share of stroke pixels in the box
    text = (cw > 2.5 * ch) & (ch > h * 0.02) & (ch < h * 0.2) & (fill > 0.2) & (fill < 0.8)
    return float((cw * ch)[text].sum() / (h * w))


def edge_layout(gray: np.ndarray, grid: int) -> np.ndarray:
    """Mean horizontal and vertical gradient magnitude per cell of a ``grid`` × ``grid`` split, 0–1.

    Returns ``(grid * grid * 2,)``: for each cell, row by row, the mean absolute Sobel derivative
    along x then along y of ``gray`` (uint8), divided by 255 × 4 (the 3×3 Sobel's largest
    response). A coarse spatial envelope (as GIST's, without the filter bank): where the frame's
    detail lies and which way it runs — a product close-up's vertical edges in the centre, a
    skyline's along the bottom, a caption's across the lower band.
    """
    gx = np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3))
    gy = np.abs(cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3))
    h, w = gray.shape
    rows, cols = np.linspace(0, h, grid + 1).astype(int), np.linspace(0, w, grid + 1).astype(int)
    out = [g[rows[i] : rows[i + 1], cols[j] : cols[j + 1]].mean()
           for i in range(grid) for j in range(grid) for g in (gx, gy)]  # fmt: skip
    return np.asarray(out, np.float64) / (255.0 * 4)


def edge_layout_columns(grid: int) -> list[str]:
    """Column names of :func:`edge_layout`: ``edge_x_r<i>c<j>``, ``edge_y_r<i>c<j>``."""
    return [f"edge_{a}_r{i}c{j}" for i in range(grid) for j in range(grid) for a in ("x", "y")]


def _shrink(gray: np.ndarray, short_side_px: int) -> np.ndarray:
    """``gray`` resized (area averaging) so its short side is at most ``short_side_px`` pixels."""
    h, w = gray.shape
    s = short_side_px / min(h, w)
    if s >= 1:
        return gray
    return cv2.resize(gray, (max(1, round(w * s)), max(1, round(h * s))),
                      interpolation=cv2.INTER_AREA)  # fmt: skip


def detect_faces(gray: np.ndarray, *, min_face_frac: float, scale_factor: float,
                 min_neighbors: int, cascade: str) -> tuple[int, float]:  # fmt: skip
    """Number of frontal faces (an OpenCV Haar cascade) and the frame fraction they cover.

    Faces smaller than ``min_face_frac`` of the frame height, or than the cascade's window (24 px
    for the frontal-face cascades), are not searched. ``scale_factor`` is the image pyramid step,
    ``min_neighbors`` the overlapping detections a face needs, ``cascade`` a file name in
    ``cv2.data.haarcascades`` (the ``features.face_*`` settings).
    """
    h = gray.shape[0]
    with _borrowed_cascade(cascade) as found:
        faces = found.detectMultiScale(
            gray, scale_factor, min_neighbors, minSize=(int(h * min_face_frac),) * 2
        )
    area = float(sum(fw * fh for _, _, fw, fh in faces) / gray.size) if len(faces) else 0.0
    return len(faces), area


def flow_magnitude(a: np.ndarray, b: np.ndarray, width_px: int, farneback: dict) -> float:
    """Mean Farneback optical-flow magnitude between grey frames ``a`` → ``b``, frame widths/frame.

    Computed on the frames downscaled to ``width_px`` (pixels) for speed; ``farneback`` holds
    ``cv2.calcOpticalFlowFarneback``'s parameters (``pyr_scale, levels, winsize, iterations,
    poly_n, poly_sigma``).
    """
    h = max(8, int(round(a.shape[0] * width_px / a.shape[1])))
    ga, gb = (cv2.resize(x, (width_px, h), interpolation=cv2.INTER_AREA) for x in (a, b))
    flow = cv2.calcOpticalFlowFarneback(ga, gb, None, flags=0, **farneback)
    return float(np.linalg.norm(flow, axis=2).mean() / width_px)


def colour_stats(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Colour and brightness of each frame of a stack ``(N, H, W, 3)`` uint8 RGB; arrays ``(N,)``.

    Saturation-weighted hue as sin/cos, saturation, brightness (HSV value) and its SD, all 0–1,
    and colourfulness (Hasler & Süsstrunk, 0–~1). One colour conversion for the whole stack.
    """
    n, h, w, _ = rgb.shape
    tall = np.ascontiguousarray(rgb).reshape(n * h, w, 3)  # one cvtColor call for all frames
    hsv = cv2.cvtColor(tall, cv2.COLOR_RGB2HSV).reshape(n, h * w, 3).astype(np.float32)
    hue = hsv[..., 0] * np.float32(2 * np.pi / 180)
    sat, val = hsv[..., 1] / 255, hsv[..., 2] / 255
    px = tall.reshape(n, h * w, 3).astype(np.float32)
    rg = px[..., 0] - px[..., 1]
    yb = 0.5 * (px[..., 0] + px[..., 1]) - px[..., 2]
    colourful = np.sqrt(rg.std(1) ** 2 + yb.std(1) ** 2) + 0.3 * np.sqrt(
        rg.mean(1) ** 2 + yb.mean(1) ** 2
    )
    return {"hue_sin": (np.sin(hue) * sat).mean(1), "hue_cos": (np.cos(hue) * sat).mean(1),
            "saturation": sat.mean(1), "brightness": val.mean(1), "brightness_sd": val.std(1),
            "colourfulness": colourful / 255}  # fmt: skip


def _size(path: Path, cfg: dict) -> tuple[int, int]:
    """Decode size (width, height) in pixels: short side ``short_side_px``, aspect ratio kept."""
    return display_size(*video_size(path), int(cfg["short_side_px"]))


def _float32(df: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in df.columns if c != "shot"]
    df[cols] = df[cols].astype(np.float32)
    return df


@contextlib.contextmanager
def _side_thread(threads: int) -> Iterator[Callable[..., Future]]:
    """A ``submit(fn, *args) -> Future`` running on one side thread, or at once when ``threads`` is 1.

    Plain ``concurrent.futures``: the handcrafted extractor needs one helper thread per ad, not a
    pool across ads (ads already run in parallel processes in ``hmllm video``).
    """
    if threads < 1:
        raise ConfigError(f"features.threads must be 1 or more, got {threads}")
    if threads > 1:
        with ThreadPoolExecutor(
            max_workers=threads - 1, thread_name_prefix="hmllm-features"
        ) as pool:
            yield pool.submit
        return

    def now(fn: Callable, *args) -> Future:
        done: Future = Future()
        try:
            done.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - re-raised by .result(), as a pool would
            done.set_exception(exc)
        return done

    yield now


def _shot_batches(n_shots: int, n_batches: int) -> list[np.ndarray]:
    """Shot numbers ``0..n_shots-1`` in up to ``n_batches`` consecutive, non-empty batches.

    Batch sizes fall towards the end (weights n, n-1, …, 1): a small last batch leaves little to
    compute once decoding has ended, and each batch is computed while the next, a little smaller,
    is decoded. (A small first batch, tried so that the side thread starts on frames sooner,
    measured slower.)
    """
    weights = np.arange(n_batches, 0, -1)
    ends = np.unique(np.round(n_shots * np.cumsum(weights) / weights.sum()).astype(int))
    return np.split(np.arange(n_shots), ends[(ends > 0) & (ends < n_shots)])


def _finish(jobs: list[tuple[Future, Callable, tuple]]) -> list:
    """Results of ``(future, fn, args)`` jobs submitted to the side thread, in order.

    Jobs the side thread has not started yet are taken back (last first) and run here, so the
    calling thread, done with its own work, shares the remaining ones instead of waiting.
    """
    out: list = [None] * len(jobs)
    taken = [False] * len(jobs)
    for k in reversed(range(len(jobs))):
        job, fn, args = jobs[k]
        if job.cancel():
            out[k], taken[k] = fn(*args), True
    return [got if mine else job.result()
            for (job, _, _), got, mine in zip(jobs, out, taken, strict=True)]  # fmt: skip


@contextlib.contextmanager
def _opencv_threads(n: int) -> Iterator[None]:
    """OpenCV's own thread count set to ``n`` (0 = OpenCV's default) inside the block.

    OpenCV's worker threads wait actively for work; beside decord's decoding threads on a
    two-core machine they take the cores decord needs. Process-wide, like ``cv2.setNumThreads``;
    the values computed do not depend on it.
    """
    if n < 0:
        raise ConfigError(f"features.opencv_threads must be 0 (OpenCV's default) or more, got {n}")
    before = cv2.getNumThreads()
    cv2.setNumThreads(n if n > 0 else -1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def _middle_samples(n_shots: int, per_shot: int, k: int) -> np.ndarray:
    """Sample positions ``(n_shots, k)`` of each shot's ``k`` middle samples (all when k >= per_shot).

    Samples are stored shot after shot, ``per_shot`` each.
    """
    k = max(1, min(k, per_shot))
    first = (per_shot - k) // 2
    return np.arange(n_shots)[:, None] * per_shot + np.arange(first, first + k)[None, :]


def handcrafted_frame_indices(shots: pd.DataFrame, cfg: dict) -> np.ndarray:
    """Frames the handcrafted extractor decodes: each sample, then its successor, in time order.

    ``frames_per_shot`` samples per shot (:func:`shot_frame_indices`), each followed by the next
    frame (for motion). Requesting them in time order lets decord decode a successor straight
    after its sample instead of seeking back for it (about 2x faster decoding).
    """
    flat = np.concatenate(shot_frame_indices(shots, int(cfg["frames_per_shot"])))
    last = int(shots["offset_frame"].max()) - 1
    return np.stack([flat, np.minimum(flat + 1, last)], axis=1).reshape(-1)


def handcrafted(
    path: Path, shots: pd.DataFrame, cfg: dict, cache_dir: Path | None = None
) -> pd.DataFrame:
    """Handcrafted features per shot (one row per shot, float32 columns).

    On each of the shot's ``frames_per_shot`` samples (every ``stats_stride_px``-th pixel):
    colour (circular hue as saturation-weighted sin/cos, saturation, brightness and its SD, all
    0–1; colourfulness after Hasler & Süsstrunk) and motion (mean absolute difference to the next
    frame, 0–1). On the shot's middle samples only (``detail_frames_per_shot``,
    ``face_frames_per_shot``, ``flow_frames_per_shot``): edge density (Canny, 0–1), text area
    fraction and the edge layout (:func:`edge_layout` on a ``layout_grid`` split), faces (count
    and area fraction; an OpenCV Haar cascade on frames shrunk to ``face_short_side_px``),
    optical flow (Farneback at ``flow_width_px``, frame widths per frame). Pacing: duration (s), relative position, cuts per 10 s around the shot. Audio
    (:func:`hmllm.video.audio.shot_audio_features`, decoded once at the file's own rate):
    loudness (dBFS), 2–8 Hz speech-modulation share, spectral centroid (Hz) and flatness of the
    spectrum up to ``audio_max_hz``, ``has_audio``. Values are averaged over the samples used;
    frames (:func:`handcrafted_frame_indices`) come from one decord reader, in ``decode_batches``
    batches of consecutive shots, each converted to grey at most once.

    With ``threads: 2`` a side thread decodes and analyses the audio, then computes the frame
    features of each batch while the main thread decodes the next (decord's ctypes calls release
    the GIL); batches the side thread has not started when decoding ends are computed on the main
    thread. ``opencv_threads`` sets OpenCV's thread count meanwhile. The values depend on none of
    these three settings.
    """
    n_shots = len(shots)
    onset, offset = shots["onset_s"].to_numpy(float), shots["offset_s"].to_numpy(float)
    # consecutive shots decoded together; each batch's features are computed while the next is
    # decoded (threads > 1)
    n_batches, threads = int(cfg["decode_batches"]), int(cfg["threads"])
    if n_batches < 1:
        raise ConfigError(f"features.decode_batches must be 1 or more, got {n_batches}")
    # one thread: one batch (a decord reader left idle between batches keeps a core busy)
    groups = _shot_batches(n_shots, n_batches if threads > 1 else 1)
    idx = handcrafted_frame_indices(shots, cfg).reshape(n_shots, -1)  # (shot, its frames)
    with _side_thread(threads) as submit, _opencv_threads(int(cfg["opencv_threads"])):
        audio_job = submit(_audio_features, path, onset, offset, cfg)
        batches = sample_frame_batches(
            path, [idx[g].ravel() for g in groups], size=_size(path, cfg)
        )
        jobs = []
        for g, frames in zip(groups, batches, strict=True):
            grey = _grey_samples(frames, len(g), cfg)
            for fn, args in ((_face_features, (grey, len(g), cfg)),
                             (_frame_features, (frames, len(g), cfg, grey))):  # fmt: skip
                jobs.append((submit(fn, *args), fn, args))
        parts = _finish(jobs)  # per batch: faces, then the other frame features
        out = {name: np.concatenate([part[name] for part in parts[k::2]])
               for k in (0, 1) for name in parts[k]}  # fmt: skip
        out.update(audio_job.result())
    # pacing
    centre, window = 0.5 * (onset + offset), float(cfg["cut_rate_window_s"])
    near = np.abs(onset[None, :] - centre[:, None]) < window / 2  # (shot, other shot's onset)
    out["duration_s"] = offset - onset
    out["position"] = centre / max(float(offset.max()), 1e-9)
    out["cut_rate_per_10s"] = near.sum(1) * 10.0 / window
    out["shot"] = shots["shot"].to_numpy(np.int64)
    columns = HANDCRAFTED_COLUMNS + edge_layout_columns(int(cfg["layout_grid"]))
    return pd.DataFrame({c: np.asarray(out[c], np.int64 if c == "shot" else np.float32)
                         for c in columns})  # fmt: skip


def _audio_features(path: Path, onset: np.ndarray, offset: np.ndarray, cfg: dict) -> dict:
    """The audio columns of :func:`handcrafted` (decoding included), arrays ``(n_shots,)``."""
    audio, rate = load_audio(path) or (np.zeros(0, np.float32), 1)
    out = shot_audio_features(audio, rate, onset, offset, frame_s=float(cfg["audio_frame_s"]),
                              max_hz=float(cfg["audio_max_hz"]))  # fmt: skip
    out["has_audio"] = np.full(len(onset), float(audio.size > 0))
    return out


def _grey_samples(frames: np.ndarray, n_shots: int, cfg: dict) -> dict[int, np.ndarray]:
    """Sample number → grey frame, for the middle samples of faces, edges, text and flow.

    ``frames``: the shots' samples, each followed by its successor
    (:func:`handcrafted_frame_indices`). Each sample is converted once, whatever reads it.
    """
    per_shot = int(cfg["frames_per_shot"])
    at = np.unique(np.concatenate([_middle_samples(n_shots, per_shot, int(cfg[key])).ravel()
                                   for key in ("face_frames_per_shot", "detail_frames_per_shot",
                                               "flow_frames_per_shot")]))  # fmt: skip
    return {int(j): cv2.cvtColor(frames[2 * j], cv2.COLOR_RGB2GRAY) for j in at}


def _face_features(grey: dict, n_shots: int, cfg: dict) -> dict:
    """``face_count`` and ``face_area`` of :func:`handcrafted`, arrays ``(n_shots,)``.

    ``grey``: sample number → grey frame (:func:`_grey_samples`).
    """
    face_at = _middle_samples(
        n_shots, int(cfg["frames_per_shot"]), int(cfg["face_frames_per_shot"])
    )
    face_px, face_kw = (
        int(cfg["face_short_side_px"]),
        {
            "min_face_frac": float(cfg["min_face_frac"]),
            "scale_factor": float(cfg["face_scale_factor"]),
            "min_neighbors": int(cfg["face_min_neighbors"]),
            "cascade": str(cfg["face_cascade"]),
        },
    )
    faces = np.array([detect_faces(_shrink(grey[int(j)], face_px), **face_kw) for j in face_at.flat],
                     np.float64).reshape(*face_at.shape, 2)  # count | area  # fmt: skip
    return {"face_count": faces[..., 0].mean(1), "face_area": faces[..., 1].mean(1)}


def _frame_features(frames: np.ndarray, n_shots: int, cfg: dict, grey: dict) -> dict:
    """Colour, motion, edges, text and flow columns of :func:`handcrafted`, arrays ``(n_shots,)``.

    ``frames``: each sample followed by its successor; ``grey``: sample number → grey frame
    (:func:`_grey_samples`).
    """
    per_shot, stride = int(cfg["frames_per_shot"]), int(cfg["stats_stride_px"])
    now, after = frames[0::2], frames[1::2]  # (N, H, W, 3) each; N = shots x frames_per_shot
    # every sample: colour, brightness and motion, on every stride-th pixel
    small, small_next = now[:, ::stride, ::stride], after[:, ::stride, ::stride]
    per_sample = colour_stats(small)
    diff = np.abs(small.astype(np.int16) - small_next).reshape(len(small), -1)
    per_sample["motion"] = diff.mean(1) / 255
    out = {name: np.asarray(v).reshape(n_shots, per_shot).mean(1) for name, v in per_sample.items()}
    # the shot's middle samples only: detail (edges, text) and optical flow
    detail_at = _middle_samples(n_shots, per_shot, int(cfg["detail_frames_per_shot"]))  # (shots, k)
    flow_at = _middle_samples(n_shots, per_shot, int(cfg["flow_frames_per_shot"]))
    edges = [np.count_nonzero(cv2.Canny(grey[j], 80, 160)) / grey[j].size for j in detail_at.flat]
    text = [text_area_fraction(grey[j]) for j in detail_at.flat]
    grid = int(cfg["layout_grid"])
    if grid > 0:
        layout = np.stack([edge_layout(grey[j], grid) for j in detail_at.flat])
        layout = layout.reshape(*detail_at.shape, -1).mean(1)  # (shots, columns)
        out.update(zip(edge_layout_columns(grid), layout.T, strict=True))
    flow_px, farneback = int(cfg["flow_width_px"]), dict(cfg["farneback"])
    flow = [flow_magnitude(grey[j], cv2.cvtColor(after[j], cv2.COLOR_RGB2GRAY), flow_px, farneback)
            for j in flow_at.flat]  # fmt: skip
    out["edge_density"] = np.reshape(edges, detail_at.shape).mean(1)
    out["text_area"] = np.reshape(text, detail_at.shape).mean(1)
    out["flow"] = np.reshape(flow, flow_at.shape).mean(1)
    return out


#: Column order of the handcrafted features (the edge layout's columns follow).
HANDCRAFTED_COLUMNS = ["shot", "hue_sin", "hue_cos", "saturation", "brightness", "brightness_sd",
                       "colourfulness", "edge_density", "text_area", "face_count", "face_area",
                       "motion", "flow", "duration_s", "position", "cut_rate_per_10s",
                       "loudness_db", "speech_activity", "spectral_centroid_hz",
                       "spectral_flatness", "has_audio"]  # fmt: skip


def _per_shot_mean(
    shots: pd.DataFrame, idx: list[np.ndarray], emb: np.ndarray, prefix: str
) -> pd.DataFrame:
    rows, start = [], 0
    for k, sh in enumerate(shots.itertuples()):
        e = emb[start : start + len(idx[k])].mean(0)
        start += len(idx[k])
        rows.append({"shot": int(sh.shot), **{f"{prefix}_{i}": float(v) for i, v in enumerate(e)}})
    return _float32(pd.DataFrame(rows))


def load_hf_encoder(name: str):
    """``(processor, model)`` of a Hugging Face vision/video model, from a local folder or the cache.

    Never downloads (``local_files_only``): an uncached hub id is a :class:`DataError` telling the
    user to fetch the weights first.
    """
    from transformers import AutoImageProcessor, AutoModel

    local = Path(name).expanduser()
    src = str(local) if local.exists() else name
    try:
        processor = AutoImageProcessor.from_pretrained(src, local_files_only=True)
        model = AutoModel.from_pretrained(src, local_files_only=True).eval()
    except (OSError, ValueError) as exc:
        raise DataError(
            f"could not load the vision encoder {name!r} offline ({str(exc).splitlines()[0]}); "
            "hmllm never downloads at run time: download it once (e.g. `hf download "
            f"{name}`) or save it to a folder and set features.model_name_or_path to that path"
        ) from None
    return processor, model


def hf_encoder(
    path: Path, shots: pd.DataFrame, cfg: dict, cache_dir: Path | None = None
) -> pd.DataFrame:
    """Embeddings of a Hugging Face image or video encoder per shot (``hf_<i>`` columns).

    Image models (ViT, CLIP vision, DINOv2, …) embed each of ``frames_per_shot`` frames, mean-pooled
    over the shot; video models (config with ``num_frames``, e.g. VideoMAE) get the shot's frames
    as one clip. Pooled output when the model has one, else the mean of the last hidden state.
    """
    name = cfg.get("model_name_or_path")
    if not name:
        raise ConfigError(
            "features.model_name_or_path must name a Hugging Face vision model (hub id or folder)"
        )
    import torch

    processor, model = load_hf_encoder(str(name))
    torch.manual_seed(int(cfg.get("seed", 0)))
    clip_len = getattr(model.config, "num_frames", None)
    per_shot = int(clip_len or cfg["frames_per_shot"])
    idx = shot_frame_indices(shots, per_shot)
    frames = sample_frames(path, np.concatenate(idx))
    batch = int(cfg.get("batch_size", 16))
    outs = []
    with torch.no_grad():
        if clip_len:  # video model: one clip (list of frames) per shot
            clips = [list(frames[k * per_shot : (k + 1) * per_shot]) for k in range(len(idx))]
            chunks = [clips[i : i + batch] for i in range(0, len(clips), batch)]
            idx = [np.zeros(1, int)] * len(clips)  # one embedding per shot
        else:
            chunks = [list(frames[i : i + batch]) for i in range(0, len(frames), batch)]
        for chunk in chunks:
            inputs = processor(chunk, return_tensors="pt")
            out = model(**inputs)
            pooled = getattr(out, "pooler_output", None)
            outs.append((pooled if pooled is not None else out.last_hidden_state.mean(1)).float())
    return _per_shot_mean(shots, idx, torch.cat(outs).numpy(), "hf")


def cnn_encoder(
    path: Path, shots: pd.DataFrame, cfg: dict, cache_dir: Path | None = None
) -> pd.DataFrame:
    """Embeddings of the small from-scratch CNN per shot (``cnn_<i>`` columns).

    Uses ``cfg["weights"]`` when set (``hmllm video`` trains one encoder on the whole study first);
    otherwise trains on this video's own frames (seeded, cached under ``cache_dir/cnn``).
    """
    from hmllm.video import cnn

    per_shot = int(cfg["frames_per_shot"])
    idx = shot_frame_indices(shots, per_shot)
    frames = sample_frames(
        path, np.concatenate(idx), size=(int(cfg["width_px"]), int(cfg["height_px"]))
    )
    if cfg.get("weights"):
        model = cnn.load_weights(cfg["weights"])
    else:
        groups = np.split(frames, np.cumsum([len(i) for i in idx])[:-1])
        got = cnn.load_or_train(groups, cfg, cache_dir)
        model = cnn.load_weights(got) if isinstance(got, Path) else got
    return _per_shot_mean(shots, idx, cnn.embed(model, frames), "cnn")


#: Bumped when an extractor's output changes, so caches written by older code are not reused.
EXTRACTOR_VERSION = {"handcrafted": 6, "cnn": 1, "hf": 1}

FeatureExtractor = Callable[[Path, pd.DataFrame, dict, Path | None], pd.DataFrame]

FEATURE_EXTRACTORS: dict[str, FeatureExtractor] = {
    "handcrafted": handcrafted,
    "cnn": cnn_encoder,
    "hf": hf_encoder,
}


#: Feature settings that change how fast features are computed, never their values: left out of
#: the cache key, so changing them reuses the cache.
SPEED_ONLY_KEYS = frozenset({"threads", "decode_batches", "opencv_threads"})


def config_hash(cfg: dict) -> str:
    """Short stable hash of a feature config (part of the cache key; speed-only keys left out)."""
    kept = {k: v for k, v in cfg.items() if k not in SPEED_ONLY_KEYS}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:12]


def transcript_features(path: Path, shots: pd.DataFrame, cfg: dict) -> pd.DataFrame | None:
    """``has_transcript`` + ``txt_<i>`` sentence embeddings per shot, or ``None`` without a sidecar."""
    from hmllm.video.transcript import embed_texts, shot_transcripts, sidecar

    if sidecar(path) is None:
        return None
    texts = shot_transcripts(path, shots)
    df = pd.DataFrame({"shot": shots["shot"].astype(int).to_numpy(),
                       "has_transcript": [float(bool(t.strip())) for t in texts]})  # fmt: skip
    emb = embed_texts(texts, cfg.get("text_encoder"))
    if emb is not None:
        df = pd.concat([df, pd.DataFrame(emb, columns=[f"txt_{i}" for i in range(emb.shape[1])])],
                       axis=1)  # fmt: skip
    return _float32(df)


def shot_features(path: str | Path, shots: pd.DataFrame, cfg_features: dict, cache_dir: str | Path | None,
                  *, video_sha256: str | None = None) -> pd.DataFrame:  # fmt: skip
    """Features of each shot with the configured extractor, cached by content hash.

    Parameters
    ----------
    path
        The video.
    shots
        Shot table of :func:`hmllm.video.detect_shots` (``shot, onset_s, offset_s, onset_frame,
        offset_frame``; an ``ad_id`` column is ignored).
    cfg_features
        The ``features`` config group as a dict; ``name`` picks the extractor of
        :data:`FEATURE_EXTRACTORS`, ``transcript`` adds sidecar-subtitle embeddings.
    cache_dir
        Cache root (``paths.cache``), or ``None`` for no caching. Results go to
        ``<cache_dir>/features/<sha256[:16]>-<name>-<config_hash>-<shots_hash>.parquet``.
    video_sha256
        The file's hash if already known (saves re-reading it).

    Returns
    -------
    pandas.DataFrame
        ``shot`` (int) plus float32 feature columns, one row per shot in shot order.
    """
    from hmllm.video.probe import file_sha256

    cfg_features = dict(cfg_features)
    name = cfg_features.get("name", "handcrafted")
    if name not in FEATURE_EXTRACTORS:
        raise ConfigError(
            f"features.name must be one of {sorted(FEATURE_EXTRACTORS)}, got {name!r}"
        )
    missing = {"shot", "onset_s", "offset_s", "onset_frame", "offset_frame"} - set(shots.columns)
    if missing or shots.empty:
        raise DataError(f"shot table for {Path(path).name} lacks columns {sorted(missing)} or rows; "
                        "pass the output of hmllm.video.detect_shots")  # fmt: skip
    path = Path(path)
    cache_file = None
    if cache_dir is not None:
        sha = video_sha256 or file_sha256(path)
        key_cols = ["onset_frame", "offset_frame"]
        shots_key = hashlib.sha256(shots[key_cols].to_numpy("int64").tobytes()).hexdigest()[:8]
        sub = (
            path.with_suffix(".srt")
            if path.with_suffix(".srt").is_file()
            else path.with_suffix(".vtt")
        )
        if cfg_features.get("transcript") and sub.is_file():
            shots_key += file_sha256(sub)[:8]
        cache_file = (Path(cache_dir) / "features"
                      / f"{sha[:16]}-{name}-{config_hash({**cfg_features, '_v': EXTRACTOR_VERSION.get(name, 0)})}-{shots_key}.parquet")  # fmt: skip
        if cache_file.is_file():
            return pd.read_parquet(cache_file)
    df = FEATURE_EXTRACTORS[name](
        path, shots, cfg_features, None if cache_dir is None else Path(cache_dir)
    )
    if cfg_features.get("transcript"):
        txt = transcript_features(path, shots, cfg_features)
        if txt is not None:
            df = df.merge(txt, on="shot", how="left")
    if not np.isfinite(df.drop(columns="shot").to_numpy(np.float64)).all():
        raise DataError(f"{path.name}: the {name} features contain NaN/inf; check the video")
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
        df.to_parquet(tmp, index=False)
        tmp.replace(cache_file)
    return df
