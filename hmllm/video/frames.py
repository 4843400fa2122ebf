"""Frame access with decord: batched sampling, per-shot keyframes and thumbnails."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from hmllm.errors import DataError


def _reader(path: Path, size: tuple[int, int] | None = None):
    import decord

    try:
        if size:
            return decord.VideoReader(str(path), width=size[0], height=size[1], num_threads=1)
        return decord.VideoReader(str(path), num_threads=1)
    except decord.DECORDError as exc:
        raise DataError(f"{path.name}: decord cannot open the video ({exc})") from None


def shot_frame_indices(shots: pd.DataFrame, per_shot: int) -> list[np.ndarray]:
    """``per_shot`` evenly spaced frame indices inside each shot (avoiding its first/last frame)."""
    out = []
    for a, b in zip(shots["onset_frame"], shots["offset_frame"], strict=True):
        n = max(1, int(b) - int(a))
        pos = (np.arange(per_shot) + 0.5) / per_shot * n
        out.append(np.clip(int(a) + pos.astype(int), int(a), int(b) - 1))
    return out


def sample_frames(path: str | Path, indices, *, size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode frames at ``indices`` in one batch; returns (N, H, W, 3) uint8 RGB.

    Uses ``VideoReader.get_batch`` (accurate seeking), never ``seek`` + ``next``, which returns the
    previous keyframe's frame in decord 0.6.
    """
    vr = _reader(Path(path), size)
    idx = np.clip(np.asarray(indices, int), 0, len(vr) - 1)
    return vr.get_batch(list(idx)).asnumpy()


def keyframes(path: str | Path, shots: pd.DataFrame, out_dir: str | Path, *,
              thumb_width: int = 160) -> list[Path]:  # fmt: skip
    """Write each shot's middle frame as ``shotNNN.jpg`` and a thumbnail ``thumb_shotNNN.jpg``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    mids = ((shots["onset_frame"] + shots["offset_frame"]) // 2).to_numpy()
    frames = sample_frames(path, mids)
    paths = []
    for k, frame in zip(shots["shot"], frames, strict=True):
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        p = out_dir / f"shot{int(k):03d}.jpg"
        cv2.imwrite(str(p), bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
        h = int(round(bgr.shape[0] * thumb_width / bgr.shape[1]))
        cv2.imwrite(str(out_dir / f"thumb_shot{int(k):03d}.jpg"), cv2.resize(bgr, (thumb_width, h),
                    interpolation=cv2.INTER_AREA), [cv2.IMWRITE_JPEG_QUALITY, 85])  # fmt: skip
        paths.append(p)
    return paths
