"""Probe and validate a video file before anything decodes it."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import av

from hmllm.errors import DataError


@dataclass(frozen=True)
class VideoInfo:
    """What a video is: container facts, all times in seconds, sizes in pixels."""

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


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (the cache key of everything derived from it)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def probe(
    path: str | Path, *, max_pixels: int = 3840 * 2160, max_duration_s: float = 600.0
) -> VideoInfo:
    """Open ``path`` with FFmpeg (PyAV) and describe its video stream.

    Parameters
    ----------
    path
        A video file.
    max_pixels
        Largest frame area accepted (width × height, pixels).
    max_duration_s
        Longest video accepted, seconds.

    Raises
    ------
    DataError
        Not a file, not a video, no video stream, zero length, undecodable first frame, or over the
        size limits — the message names the file and what to do.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes); re-export the ad")
    try:
        container = av.open(str(path))
    except (av.error.InvalidDataError, av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path.name}: not a readable video ({exc}); export it as an mp4 (H.264)"
        ) from None
    with container:
        if not container.streams.video:
            raise DataError(f"{path.name}: the file has no video stream")
        vs = container.streams.video[0]
        ctx = vs.codec_context
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        if width <= 0 or height <= 0:
            raise DataError(f"{path.name}: the video stream has no frame size")
        if width * height > max_pixels:
            raise DataError(
                f"{path.name}: {width}x{height} exceeds the {max_pixels} pixel limit; downscale it "
                "(e.g. to 1920x1080) or raise video.max_pixels"
            )
        rate = vs.average_rate or vs.guessed_rate
        fps = float(rate) if rate else 0.0
        duration = 0.0
        if vs.duration is not None and vs.time_base is not None:
            duration = float(vs.duration * vs.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        # decode to check the stream really plays and to count frames / detect VFR
        pts = []
        try:
            for frame in container.decode(video=0):
                if frame.pts is not None:
                    pts.append(float(frame.pts * frame.time_base))
                if len(pts) > 100_000:
                    break
        except (av.error.InvalidDataError, av.error.FFmpegError) as exc:
            if not pts:
                raise DataError(
                    f"{path.name}: the video stream is corrupt ({exc}); re-export it"
                ) from None
        if not pts:
            raise DataError(
                f"{path.name}: no decodable video frame (zero-length or corrupt stream)"
            )
        n_frames = len(pts)
        if duration <= 0:
            duration = (max(pts) - min(pts)) + (1 / fps if fps else 0)
        if fps <= 0:
            fps = n_frames / duration if duration > 0 else 0.0
        steps = [b - a for a, b in zip(sorted(pts), sorted(pts)[1:], strict=False)]
        vfr = bool(steps) and (max(steps) - min(steps)) > 0.5 / max(fps, 1e-9)
        rotation = 0
        try:
            rotation = int(getattr(vs, "side_data", {}).get("DISPLAYMATRIX", 0) or 0)
        except (AttributeError, TypeError, ValueError):
            rotation = 0
        if duration > max_duration_s:
            raise DataError(
                f"{path.name}: {duration:.0f} s is longer than the {max_duration_s:.0f} s limit"
            )
        return VideoInfo(str(path), str(ctx.name), width, height, fps, n_frames, float(duration),
                         rotation, bool(container.streams.audio), vfr, file_sha256(path))  # fmt: skip
