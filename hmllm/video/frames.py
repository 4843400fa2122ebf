"""Frame access with decord: batched sampling (uniform or per shot), keyframes and thumbnails."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from hmllm.errors import ConfigError, DataError


def _reader(path: Path, size: tuple[int, int] | None = None):
    import decord

    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        if size:
            return decord.VideoReader(str(path), width=size[0], height=size[1], num_threads=1)
        return decord.VideoReader(str(path), num_threads=1)
    except (decord.DECORDError, RuntimeError) as exc:  # decord raises RuntimeError on bad files
        raise DataError(
            f"{path.name}: decord cannot open the video ({str(exc).splitlines()[0]}); "
            "re-export it as an mp4 (H.264)"
        ) from None


@functools.lru_cache(maxsize=64)
def _geometry(path: str, mtime_ns: int, size_b: int) -> tuple[int, int, int]:
    """Coded (width, height) in pixels and display rotation (degrees) from the first frame.

    Cached per file version (path, mtime, size): the extractors ask for it several times per ad.
    """
    import av

    try:
        with av.open(path) as c:
            frame = next(c.decode(video=0))
            rot = int(round(getattr(frame, "rotation", 0) or 0)) % 360
            return frame.width, frame.height, rot
    except (av.error.FFmpegError, StopIteration, IndexError):
        raise DataError(f"{Path(path).name}: no decodable video frame; re-export the ad") from None


def _file_geometry(path: Path) -> tuple[int, int, int]:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    st = path.stat()
    return _geometry(str(path), st.st_mtime_ns, st.st_size)


def _rotated(path: Path) -> bool:
    """Whether the first frame carries a display rotation (decord's own scaler mis-rotates those)."""
    try:
        return bool(_file_geometry(path)[2])
    except (DataError, OSError):
        return False


def _sample_pyav(path: Path, idx: np.ndarray) -> np.ndarray:
    """Fallback decoder (PyAV, sequential) for streams decord cannot copy out; rotation applied."""
    import av

    wanted = set(int(i) for i in idx)
    got: dict[int, np.ndarray] = {}
    try:
        with av.open(str(path)) as c:
            for k, frame in enumerate(c.decode(video=0)):
                if k in wanted:
                    arr = frame.to_ndarray(format="rgb24")
                    rot = int(round(getattr(frame, "rotation", 0) or 0)) % 360
                    got[k] = np.ascontiguousarray(np.rot90(arr, rot // 90)) if rot else arr
                if k >= max(wanted):
                    break
    except av.error.FFmpegError as exc:
        if not got:
            raise DataError(f"{path.name}: frames could not be decoded ({exc}); the stream is "
                            "probably truncated or corrupt — re-export the ad") from None  # fmt: skip
    last = max(got) if got else None
    if last is None:
        raise DataError(f"{path.name}: no decodable frame; re-export the ad")
    return np.stack([got.get(int(i), got[last]) for i in idx])


def video_size(path: str | Path) -> tuple[int, int]:
    """Displayed (width, height) of a video in pixels, rotation applied (one frame decoded)."""
    w, h, rot = _file_geometry(Path(path))
    return (h, w) if rot in (90, 270) else (w, h)


def display_size(width: int, height: int, short_side_px: int) -> tuple[int, int]:
    """(width, height) scaled so the short side is ``short_side_px`` (even numbers, aspect kept)."""
    s = short_side_px / max(1, min(width, height))
    return max(2, int(round(width * s / 2)) * 2), max(2, int(round(height * s / 2)) * 2)


def shot_frame_indices(shots: pd.DataFrame, per_shot: int) -> list[np.ndarray]:
    """``per_shot`` evenly spaced frame indices inside each shot (centres of equal sub-spans)."""
    if per_shot < 1:
        raise ConfigError(f"frames per shot must be >= 1, got {per_shot}")
    out = []
    for a, b in zip(shots["onset_frame"], shots["offset_frame"], strict=True):
        n = max(1, int(b) - int(a))
        pos = (np.arange(per_shot) + 0.5) / per_shot * n
        out.append(np.clip(int(a) + pos.astype(int), int(a), max(int(a), int(b) - 1)))
    return out


def sample_frames(
    path: str | Path,
    indices=None,
    *,
    n: int | None = None,
    shots: pd.DataFrame | None = None,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Decode frames in one batch; returns ``(N, H, W, 3)`` uint8 RGB (displayed orientation).

    Parameters
    ----------
    path
        The video.
    indices
        Explicit frame indices (0-based). Otherwise ``n`` frames uniformly over the whole video, or
        ``n`` per shot when ``shots`` (columns ``onset_frame, offset_frame``) is given.
    n
        Number of frames (uniform) or frames per shot.
    shots
        Shot table of :func:`hmllm.video.detect_shots`.
    size
        Output ``(width, height)`` in pixels; native size when omitted.

    Notes
    -----
    Uses ``VideoReader.get_batch`` (accurate seeking) — never ``seek`` + ``next``, which returns the
    previous keyframe's frame in decord 0.6. Rotated files and widths under 32 px are decoded at
    native size (decord applies the rotation) and resized with OpenCV: decord's scaler ignores the
    rotation and fails on narrow outputs.
    """
    path = Path(path)
    vr, cv_resize = _open_scaled(path, size)
    if indices is None:
        if n is None or n < 1:
            raise ConfigError("sample_frames needs indices, or n >= 1 (uniform or per shot)")
        if shots is not None:
            indices = np.concatenate(shot_frame_indices(shots, n))
        else:
            indices = ((np.arange(n) + 0.5) / n * len(vr)).astype(int)
    return _get_batch(vr, path, indices, size, cv_resize)


def sample_frame_batches(
    path: str | Path, batches: list, *, size: tuple[int, int] | None = None
) -> Iterator[np.ndarray]:
    """Decode several batches of frames from one decord reader, yielding each as it is decoded.

    Parameters
    ----------
    path
        The video.
    batches
        Frame indices (0-based) of each batch. Batches in time order let decord carry on where
        the previous batch stopped instead of seeking back.
    size
        Output ``(width, height)`` in pixels; native size when omitted.

    Yields
    ------
    numpy.ndarray
        ``(N, H, W, 3)`` uint8 RGB per batch, the frames :func:`sample_frames` returns for them.

    Notes
    -----
    decord (ctypes FFI) releases the GIL while it decodes, so a caller can process one batch on
    another thread while the next is decoded; batches asked for one after another cost what one
    batch of all their frames costs. Ask for the next batch promptly: between batches decord's
    decoding thread busy-waits for work, keeping a core busy (the reader, and that thread, end
    when the generator is exhausted or closed).
    """
    path = Path(path)
    vr, cv_resize = _open_scaled(path, size)
    for indices in batches:
        yield _get_batch(vr, path, indices, size, cv_resize)


def _open_scaled(path: Path, size: tuple[int, int] | None):
    """``(reader, cv_resize)``: a decord reader scaling to ``size`` itself where it can.

    decord's own scaler mis-rotates rotated files and fails on widths under 32 px: those are read
    at native size and resized with OpenCV (``cv_resize``).
    """
    cv_resize = size is not None and (size[0] < 32 or _rotated(path))
    vr = _reader(path, None if cv_resize else size)
    if len(vr) == 0:
        raise DataError(f"{path.name}: decord finds no frames (zero-length video)")
    return vr, cv_resize


def _get_batch(
    vr, path: Path, indices, size: tuple[int, int] | None, cv_resize: bool
) -> np.ndarray:
    """Frames ``indices`` (clipped to the video) from reader ``vr`` as ``(N, H, W, 3)`` uint8 RGB."""
    idx = np.clip(np.asarray(indices, int).reshape(-1), 0, len(vr) - 1)
    try:
        frames = vr.get_batch(list(idx)).asnumpy()
    except Exception:  # noqa: BLE001 - decord raises bare DECORDError/RuntimeError on odd strides
        frames = _sample_pyav(path, idx)  # e.g. widths whose row padding decord cannot copy
        cv_resize = size is not None
    if cv_resize:
        frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
    return frames


def keyframes(path: str | Path, shots: pd.DataFrame, out_dir: str | Path, *,
              thumb_width: int = 160) -> list[Path]:  # fmt: skip
    """Write each shot's middle frame as ``shotNNN.jpg`` plus a thumbnail ``thumb_shotNNN.jpg``.

    Parameters
    ----------
    path
        The video.
    shots
        Shot table (``shot, onset_frame, offset_frame``).
    out_dir
        Folder for the JPEGs (created).
    thumb_width
        Thumbnail width in pixels (height keeps the aspect ratio).

    Returns
    -------
    list of Path
        The full-size keyframe paths, one per shot, in shot order.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    mids = ((shots["onset_frame"].to_numpy() + shots["offset_frame"].to_numpy()) // 2).astype(int)
    frames = sample_frames(path, mids)
    paths = []
    for k, frame in zip(shots["shot"], frames, strict=True):
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        p = out_dir / f"shot{int(k):03d}.jpg"
        cv2.imwrite(str(p), bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
        h = max(1, int(round(bgr.shape[0] * thumb_width / bgr.shape[1])))
        thumb = cv2.resize(bgr, (thumb_width, h), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(out_dir / f"thumb_shot{int(k):03d}.jpg"), thumb,
                    [cv2.IMWRITE_JPEG_QUALITY, 85])  # fmt: skip
        paths.append(p)
    return paths
