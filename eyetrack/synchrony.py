"""Attentional synchrony across viewers of the same ad: how much their gaze clusters per shot."""

from __future__ import annotations

import numpy as np
import pandas as pd


def dispersion(fix: pd.DataFrame, *, radius: float = 0.1, min_viewers: int = 2) -> pd.DataFrame:
    """Per (ad, shot), the spread of viewers' gaze positions on the video.

    Each viewer's position in a shot is the duration-weighted mean of their on-video fixations
    (video coords, 0–1, y rescaled is not needed as both axes are fractions of the frame).
    Returns a long table ``ad_id, shot, index, value, n_viewers`` with ``gaze_dispersion`` (root
    of the summed x/y variances across viewers, in video-frame fractions; lower = more synchronous)
    and ``gaze_cluster_share`` (share of viewers within ``radius`` of the viewers' median point).
    """
    cols = ["ad_id", "shot", "index", "value", "n_viewers"]
    f = fix[fix["on_video"]].assign(w=lambda d: (d["offset_s"] - d["onset_s"]).clip(lower=1e-6))
    if f.empty:
        return pd.DataFrame(columns=cols)
    f = f.assign(wx=f["x"] * f["w"], wy=f["y"] * f["w"])
    per = f.groupby(["ad_id", "shot", "participant_id"])[["wx", "wy", "w"]].sum()
    per["x"], per["y"] = per["wx"] / per["w"], per["wy"] / per["w"]
    rows = []
    for (ad, shot), g in per.groupby(level=["ad_id", "shot"]):
        if len(g) < min_viewers:
            continue
        disp = float(np.sqrt(g["x"].var(ddof=0) + g["y"].var(ddof=0)))
        share = float(
            (np.hypot(g["x"] - g["x"].median(), g["y"] - g["y"].median()) <= radius).mean()
        )
        rows += [
            (ad, int(shot), "gaze_dispersion", disp, len(g)),
            (ad, int(shot), "gaze_cluster_share", share, len(g)),
        ]
    return pd.DataFrame(rows, columns=cols)
