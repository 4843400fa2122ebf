"""Probe and validate a video file before anything decodes it."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np

from hmllm.errors import DataError

#: Longest run of frames the probe decodes (caps its time on pathological inputs).
_MAX_PROBE_FRAMES = 200_000


@dataclass(frozen=True)
class VideoInfo:
    """What a video is: container facts, times in seconds, sizes in pixels.

    ``width`` and ``height`` are the *displayed* size (after ``rotation_deg`` is applied), which is
    what decord returns and what viewers saw. ``fps`` is the average rate; for a variable-frame-rate
    file (``variable_frame_rate``) frame times come from :func:`frame_times`, not ``frame / fps``.
    """

    path: str
    codec: str
    width: int
    height: int
    fps: float
    n_frames: int
    duration_s: float
    rotation_deg: int
    has_audio: bool
    variable_frame_rate: bool
    sha256: str

    def to_dict(self) -> dict:
        """Plain dict (JSON-serialisable)."""
        return asdict(self)


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (the cache key of everything derived from it)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _open(path: Path):
    if not path.is_file():
        raise DataError(f"{path}: no such file; check the path (ads.tsv 'file' column or CLI arg)")
    if path.stat().st_size == 0:
        raise DataError(f"{path.name}: the file is empty (0 bytes); re-export the ad")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path.name}: not a readable video ({exc}); export it as an mp4 (H.264)"
        ) from None


def _decode_times(path: Path) -> tuple[np.ndarray, int, str, int, int, float, float, bool]:
    """Decode every frame once: presentation times (s), rotation, codec, coded size, rate, duration."""
    container = _open(path)
    with container:
        if not container.streams.video:
            raise DataError(f"{path.name}: the file has no video stream; is it an audio file?")
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        ctx = vs.codec_context
        rate = vs.average_rate or vs.guessed_rate
        fps = float(rate) if rate else 0.0
        duration = 0.0
        if vs.duration is not None and vs.time_base is not None:
            duration = float(vs.duration * vs.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        pts: list[float] = []
        rotation = 0
        try:
            for frame in container.decode(video=0):
                if not pts:
                    rotation = int(round(getattr(frame, "rotation", 0) or 0))
                t = frame.time if frame.time is not None else len(pts) / max(fps, 1e-9)
                pts.append(float(t))
                if len(pts) >= _MAX_PROBE_FRAMES:
                    break
        except av.error.FFmpegError as exc:
            if not pts:
                raise DataError(
                    f"{path.name}: the video stream is corrupt ({exc}); re-export the ad"
                ) from None
        has_audio = bool(container.streams.audio)
        return (np.asarray(pts, float), rotation, str(ctx.name), int(ctx.width or 0),
                int(ctx.height or 0), fps, duration, has_audio)  # fmt: skip


@functools.lru_cache(maxsize=64)
def _probe_cached(path: str, mtime_ns: int, size: int):
    return _decode_times(Path(path))


def frame_times(path: str | Path) -> np.ndarray:
    """Presentation time of every decoded frame, seconds from the first frame (handles VFR)."""
    p = Path(path)
    st = p.stat()
    pts = _probe_cached(str(p.resolve()), st.st_mtime_ns, st.st_size)[0]
    return pts - pts[0] if pts.size else pts


def probe(
    path: str | Path, *, max_pixels: int = 3840 * 2160, max_duration_s: float = 600.0
) -> VideoInfo:
    """Open ``path`` with FFmpeg (PyAV), decode it once and describe its video stream.

    Parameters
    ----------
    path
        A video file (any container/codec FFmpeg reads).
    max_pixels
        Largest frame area accepted (width × height, pixels); config ``video.max_pixels``.
    max_duration_s
        Longest video accepted, seconds; config ``video.max_duration_s``.

    Returns
    -------
    VideoInfo
        Codec, displayed size, average fps, decoded frame count, duration (s), rotation (degrees),
        audio presence, variable-frame-rate flag and the file's SHA-256.

    Raises
    ------
    DataError
        Not a file, empty, not a video, no video stream, no decodable frame (zero-length/corrupt),
        or over the size/duration limits — the message names the file and what to do.
    """
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise DataError(f"{path.name}: the file is empty (0 bytes); re-export the ad")
    if not path.is_file():
        raise DataError(f"{path}: no such file; check the path (ads.tsv 'file' column or CLI arg)")
    # refuse huge frames before decoding a single one
    with _open(path) as container:
        if not container.streams.video:
            raise DataError(f"{path.name}: the file has no video stream; is it an audio file?")
        ctx = container.streams.video[0].codec_context
        if int(ctx.width or 0) * int(ctx.height or 0) > max_pixels:
            raise DataError(
                f"{path.name}: {ctx.width}x{ctx.height} exceeds the video.max_pixels limit "
                f"({max_pixels} pixels); downscale it (e.g. to 1920x1080) or raise video.max_pixels"
            )
    st = path.stat()
    pts, rotation, codec, cw, ch, fps, duration, has_audio = _probe_cached(
        str(path.resolve()), st.st_mtime_ns, st.st_size
    )
    if cw <= 0 or ch <= 0:
        raise DataError(f"{path.name}: the video stream has no frame size; re-export the ad")
    if pts.size == 0:
        raise DataError(
            f"{path.name}: no decodable video frame (zero-length or corrupt stream); re-export it"
        )
    n_frames = int(pts.size)
    span = float(pts.max() - pts.min())
    steps = np.diff(np.sort(pts))
    if fps <= 0:
        fps = (n_frames - 1) / span if span > 0 else 25.0
    if duration <= 0 or duration > span + 5.0 / fps:  # header lies (truncated file): trust frames
        duration = span + 1.0 / fps
    # VFR: frame intervals vary by more than half a nominal frame
    vfr = bool(steps.size) and float(steps.max() - steps.min()) > 0.5 / fps
    if duration > max_duration_s:
        raise DataError(
            f"{path.name}: {duration:.0f} s is longer than the video.max_duration_s limit "
            f"({max_duration_s:.0f} s); trim the ad or raise the limit"
        )
    rotation = rotation % 360
    width, height = (ch, cw) if rotation in (90, 270) else (cw, ch)
    return VideoInfo(str(path), codec, width, height, float(fps), n_frames, float(duration),
                     rotation, has_audio, vfr, file_sha256(path))  # fmt: skip
