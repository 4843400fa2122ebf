"""Areas of interest on the video, static or moving (boxes given at keyframes, interpolated per time).

Open eye-tracking libraries handle static screen AOIs only; ads need boxes that follow a logo,
product or call-to-action through the shot, so this is hand-written (plain linear interpolation).
AOI tables have columns ``ad_id, name, time_s, x0, y0, x1, y1`` — times on the video clock (s),
coordinates normalised to the video (0–1 across / down). A name with a single keyframe is static.
Two optional columns serve AOIs that come and go (faces found by :mod:`eyetrack.faces`):
``visible`` (bool, default true) — a keyframe with ``visible=false`` marks the time the box
disappears, until the next visible keyframe — and ``track`` (int, default 0) — rows of one name
with different tracks are separate boxes (two faces at once); a gaze sample hits the name when it
is inside any of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from eyetrack.errors import GazeInputError

AOI_COLUMNS = ("ad_id", "name", "time_s", "x0", "y0", "x1", "y1")


def read_aois(path: str | Path) -> pd.DataFrame:
    """Read an AOI keyframe table (CSV, TSV or Parquet) and check its columns and boxes."""
    path = Path(path)
    if not path.is_file():
        raise GazeInputError(
            f"AOI file {path} not found; set eyetrack.aoi_file to a table with {list(AOI_COLUMNS)} or null"
        )
    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
    else:
        df = pd.read_csv(
            path, sep="\t" if path.suffix == ".tsv" else ",", dtype={"ad_id": str, "name": str}
        )
    missing = [c for c in AOI_COLUMNS if c not in df.columns]
    if missing:
        raise GazeInputError(
            f"{path.name}: AOI columns {missing} missing; expected {list(AOI_COLUMNS)}"
        )
    if "visible" in df.columns:
        df["visible"] = df["visible"].astype(str).str.lower().isin(["true", "1", "1.0", "yes"])
    shown = df[df["visible"]] if "visible" in df.columns else df
    bad = shown[(shown["x1"] <= shown["x0"]) | (shown["y1"] <= shown["y0"])]
    if len(bad):
        raise GazeInputError(
            f"{path.name}: AOI box with x1<=x0 or y1<=y0 at row {int(bad.index[0])} ({bad.iloc[0]['name']})"
        )
    return df


def boxes_at(keyframes: pd.DataFrame, times_s: np.ndarray) -> np.ndarray:
    """One AOI track's box ``(len(times_s), 4)`` as x0, y0, x1, y1 at each time (video coords).

    Linearly interpolated between keyframes and held constant before the first / after the last
    one. With a ``visible`` column, the box is NaN (absent) from a ``visible=false`` keyframe to
    the next visible one, and held (not interpolated) up to a keyframe where it disappears.
    """
    k = keyframes.sort_values("time_s", kind="stable")
    t = np.asarray(times_s, float)
    kt = k["time_s"].to_numpy(float)
    box = k[["x0", "y0", "x1", "y1"]].astype(float)
    vis = (
        k["visible"].astype("boolean").fillna(True).to_numpy(bool)
        if "visible" in k.columns
        else np.ones(len(k), bool)
    )
    if vis.all():
        return np.column_stack([np.interp(t, kt, box[c].to_numpy()) for c in box.columns])
    # an invisible keyframe repeats the box before it, so the box is held up to the disappearance
    held = box.to_numpy().copy()
    held[~vis] = np.nan
    held = pd.DataFrame(held).ffill().to_numpy()
    out = np.column_stack([np.interp(t, kt, held[:, i]) for i in range(4)])
    j = np.searchsorted(kt, t, side="right") - 1
    shown = np.where(j >= 0, vis[np.clip(j, 0, None)], vis[0])
    out[~shown] = np.nan
    return out


def aoi_hits(
    aois: pd.DataFrame, times_s: np.ndarray, x: np.ndarray, y: np.ndarray
) -> dict[str, np.ndarray]:
    """For each AOI name, whether each gaze sample (video time s, video coords x/y in 0–1) is inside it.

    A name with several ``track`` values hits when the sample is inside any of its boxes.
    """
    out = {}
    with np.errstate(invalid="ignore"):
        for name, k in aois.groupby("name", sort=True):
            hit = np.zeros(len(np.asarray(times_s)), bool)
            tracks = (
                k.groupby("track", sort=True, dropna=False) if "track" in k.columns else [(0, k)]
            )
            for _, kk in tracks:
                b = boxes_at(kk, times_s)
                hit |= (x >= b[:, 0]) & (x <= b[:, 2]) & (y >= b[:, 1]) & (y <= b[:, 3])
            out[str(name)] = hit
    return out
