"""Screen geometry: pixels ↔ degrees of visual angle, screen pixels → video coordinates."""

from __future__ import annotations

import numpy as np


def px_per_deg(screen_width_px: float, screen_width_cm: float, distance_cm: float) -> float:
    """Pixels per degree of visual angle at the screen centre."""
    cm_per_deg = 2 * distance_cm * np.tan(np.deg2rad(0.5))
    return float(screen_width_px / screen_width_cm * cm_per_deg)


def px_to_deg(dx_px: np.ndarray, geometry: dict) -> np.ndarray:
    """Convert pixel distances to degrees of visual angle (small-angle, at the screen centre)."""
    ppd = px_per_deg(
        geometry["screen_width_px"], geometry["screen_width_cm"], geometry["distance_cm"]
    )
    return np.asarray(dx_px, float) / ppd


def screen_to_video(
    x_px: np.ndarray, y_px: np.ndarray, video_rect_px
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Screen pixels → video coordinates (0–1 across and down the video) and an on-video mask.

    ``video_rect_px`` is ``[x0, y0, width, height]`` of the (letterboxed) video on the screen.
    Missing samples (NaN) are off the video.
    """
    x0, y0, w, h = (float(v) for v in video_rect_px)
    u = (np.asarray(x_px, float) - x0) / w
    v = (np.asarray(y_px, float) - y0) / h
    with np.errstate(invalid="ignore"):
        on = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    return u, v, on
