"""Gaze heatmaps: duration-weighted fixation density on a grid over the video frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter


def fixation_map(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, *,
                 shape: tuple[int, int] = (18, 32), sigma_frac: float = 0.05) -> np.ndarray:  # fmt: skip
    """Density of fixations at video coordinates (x, y in 0–1) on an (H, W) grid, summing to 1.

    ``sigma_frac`` is the Gaussian blur as a fraction of the video width (≈ 1° of visual angle for a
    typical viewing set-up). Off-video fixations are ignored; no fixation gives a uniform map.
    """
    h, w = shape
    x, y = np.asarray(x, float), np.asarray(y, float)
    wts = np.ones_like(x) if weights is None else np.asarray(weights, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x >= 0) & (x <= 1) & (y >= 0) & (y <= 1)
    grid = np.zeros(shape)
    if ok.any():
        ix = np.clip((x[ok] * w).astype(int), 0, w - 1)
        iy = np.clip((y[ok] * h).astype(int), 0, h - 1)
        np.add.at(grid, (iy, ix), wts[ok])
        grid = gaussian_filter(grid, sigma=sigma_frac * w, mode="constant")
    total = grid.sum()
    return (grid / total) if total > 0 else np.full(shape, 1.0 / (h * w))


def overlay_png(
    density: np.ndarray, keyframe_rgb: np.ndarray, path: str | Path, *, alpha: float = 0.55
) -> Path:
    """Write the heatmap over a keyframe as PNG (jet-like colour map, transparent where cold)."""
    import cv2

    h, w = keyframe_rgb.shape[:2]
    d = cv2.resize(density.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    d = np.clip(d / (d.max() + 1e-12), 0, 1)
    colour = cv2.applyColorMap((d * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    a = (alpha * d)[..., None]
    out = (keyframe_rgb * (1 - a) + colour * a).astype(np.uint8)
    path = Path(path)
    cv2.imwrite(str(path), cv2.cvtColor(out, cv2.COLOR_RGB2BGR))
    return path
