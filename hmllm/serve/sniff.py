"""Upload safety: what a file *is* (probed from its bytes by FFmpeg via PyAV) and a safe display name.

The extension and the client's Content-Type are never trusted: the blob is stored without an
extension under its sha256 and opened by FFmpeg, which detects the container from the bytes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from hmllm.errors import DataError

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
_MAX_NAME_CHARS = 120  # display names longer than this are cut (keeps tables and paths sane)


class UnsupportedMedia(DataError):
    """The bytes are not a video in an accepted container/codec (HTTP 415)."""


@dataclass(frozen=True)
class MediaInfo:
    """What FFmpeg found in an upload."""

    container: str  # PyAV/FFmpeg demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    codec: str  # video codec, e.g. "h264"
    duration_s: float
    width_px: int
    height_px: int
    fps: float


def sanitize_filename(name: str | None) -> str:
    r"""Return a display-safe file name: no folders, no control or shell characters.

    ``"../../etc/passwd"`` → ``"passwd"``; ``"C:\\x\\ad.mp4"`` → ``"ad.mp4"``; an empty result
    becomes ``"upload"``. The name is only ever displayed (escaped) — storage uses the sha256.
    """
    name = unicodedata.normalize("NFKC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    if len(name) > _MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        keep = _MAX_NAME_CHARS - len(ext) - 1 if dot and len(ext) <= 8 else _MAX_NAME_CHARS
        name = (stem[:keep] + "." + ext) if dot and len(ext) <= 8 else name[:keep]
    return name or "upload"


def probe_video(
    path: Path,
    *,
    allowed_containers: tuple[str, ...],
    allowed_codecs: tuple[str, ...],
    max_duration_s: float,
) -> MediaInfo:
    """Open ``path`` with FFmpeg and check it is a decodable video in an accepted format.

    Parameters
    ----------
    path : Path
        The uploaded bytes (the name's extension is ignored by design).
    allowed_containers, allowed_codecs : tuple of str
        FFmpeg demuxer names (any alias of the detected one may match) and video codec names.
    max_duration_s : float
        Longest accepted video, s.

    Raises
    ------
    UnsupportedMedia
        Not a media file, no video stream, a container/codec outside the lists, too long, or the
        first frame does not decode.
    """
    import av

    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise UnsupportedMedia(
            f"the upload is not a video FFmpeg can read ({type(exc).__name__}); "
            f"send a video in one of {', '.join(allowed_codecs)}."
        ) from None
    try:
        fmt = container.format.name
        if not set(fmt.split(",")) & set(allowed_containers):
            raise UnsupportedMedia(
                f"container {fmt!r} is not accepted; allowed: {', '.join(allowed_containers)}."
            )
        if not container.streams.video:
            raise UnsupportedMedia(f"the {fmt!r} file has no video stream.")
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        if codec not in allowed_codecs:
            raise UnsupportedMedia(
                f"video codec {codec!r} is not accepted; allowed: {', '.join(allowed_codecs)}."
            )
        if container.duration is not None:
            duration_s = container.duration / 1_000_000  # FFmpeg AV_TIME_BASE is µs
        elif stream.duration is not None and stream.time_base is not None:
            duration_s = float(stream.duration * stream.time_base)
        else:
            duration_s = 0.0
        if duration_s > max_duration_s:
            raise UnsupportedMedia(
                f"the video lasts {duration_s:.1f} s, longer than serve.max_duration_s={max_duration_s:g} s."
            )
        try:
            frame = next(container.decode(stream))
        except (StopIteration, av.error.FFmpegError):
            raise UnsupportedMedia(f"no frame of the {codec!r} stream decodes.") from None
        fps = float(stream.average_rate) if stream.average_rate else 0.0
        return MediaInfo(fmt, codec, duration_s, frame.width, frame.height, fps)
    finally:
        container.close()
