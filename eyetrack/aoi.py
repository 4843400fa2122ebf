"""Areas of interest on the video, static or moving (boxes given at keyframes, interpolated per time).

Open eye-tracking libraries handle static screen AOIs only; ads need boxes that follow a logo,
product or call-to-action through the shot, so this is hand-written (plain linear interpolation).
AOI tables have columns ``ad_id, name, time_s, x0, y0, x1, y1`` — times on the video clock (s),
coordinates normalised to the video (0–1 across / down). A name with a single keyframe is static.
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
    bad = df[(df["x1"] <= df["x0"]) | (df["y1"] <= df["y0"])]
    if len(bad):
        raise GazeInputError(
            f"{path.name}: AOI box with x1<=x0 or y1<=y0 at row {int(bad.index[0])} ({bad.iloc[0]['name']})"
        )
    return df


def boxes_at(keyframes: pd.DataFrame, times_s: np.ndarray) -> np.ndarray:
    """One AOI's box ``(len(times_s), 4)`` as x0, y0, x1, y1 at each time (video coords).

    Linearly interpolated between keyframes and held constant before the first / after the last one.
    """
    k = keyframes.sort_values("time_s")
    t = np.asarray(times_s, float)
    return np.column_stack(
        [
            np.interp(t, k["time_s"].to_numpy(float), k[c].to_numpy(float))
            for c in ("x0", "y0", "x1", "y1")
        ]
    )


def aoi_hits(
    aois: pd.DataFrame, times_s: np.ndarray, x: np.ndarray, y: np.ndarray
) -> dict[str, np.ndarray]:
    """For each AOI name, whether each gaze sample (video time s, video coords x/y in 0–1) is inside it."""
    out = {}
    with np.errstate(invalid="ignore"):
        for name, k in aois.groupby("name", sort=True):
            b = boxes_at(k, times_s)
            out[str(name)] = (x >= b[:, 0]) & (x <= b[:, 2]) & (y >= b[:, 1]) & (y <= b[:, 3])
    return out
