"""Read gaze recordings: EyeLink ASC (MNE), Tobii Pro Lab TSV, CSV with declared columns, BIDS.

BIDS eye-tracking physio files are read by :mod:`eyetrack.bids`. Every reader returns a :class:`GazeRecording` in the same units: seconds from the first sample,
screen pixels, a validity mask, the tracker's own events when the file has them, and messages
(``video_onset``/``video_offset``) as times.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from eyetrack.errors import GazeInputError

GEOMETRY_KEYS = ("screen_width_px", "screen_height_px", "screen_width_cm", "screen_height_cm",
                 "distance_cm", "video_rect_px")  # fmt: skip


@dataclass
class GazeRecording:
    """Gaze samples and events of one recording. Times in s, positions in screen px."""

    times_s: np.ndarray
    x_px: np.ndarray
    y_px: np.ndarray
    pupil: np.ndarray
    valid: np.ndarray
    sfreq_hz: float
    messages: dict[str, float] = field(default_factory=dict)
    events: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["kind", "onset_s", "offset_s"])
    )
    geometry: dict = field(default_factory=dict)
    source: str = ""


def read_sidecar(path: Path) -> dict:
    """The JSON sidecar next to a gaze file; checks the screen geometry is complete."""
    side = path.with_suffix(".json")
    if not side.is_file():
        raise GazeInputError(
            f"{path.name}: screen geometry sidecar {side.name} is missing; it must give {list(GEOMETRY_KEYS)}"
        )
    meta = json.loads(side.read_text())
    missing = [k for k in GEOMETRY_KEYS if k not in meta]
    if missing:
        raise GazeInputError(f"{side.name}: screen geometry incomplete, missing {missing}")
    return meta


def _check(rec: GazeRecording, declared_hz: float | None, tolerance: float = 0.05) -> GazeRecording:
    name = rec.source
    t = rec.times_s
    if len(t) < 2:
        raise GazeInputError(f"{name}: fewer than 2 samples")
    if np.any(np.diff(t) < 0):
        raise GazeInputError(
            f"{name}: timestamps go backwards (first at sample {int(np.argmax(np.diff(t) < 0)) + 1}); "
            "export the recording again or sort it"
        )
    measured = 1.0 / np.median(np.diff(t))
    rec.sfreq_hz = float(measured)
    if declared_hz and abs(measured - declared_hz) > tolerance * declared_hz:
        raise GazeInputError(
            f"{name}: samples arrive at {measured:.1f} Hz but the sidecar declares {declared_hz} Hz; "
            "fix sfreq_hz in the sidecar"
        )
    return rec


def read_eyelink_asc(path: Path) -> GazeRecording:
    """EyeLink ASC via MNE's ``read_raw_eyelink`` (samples, fixation/saccade/blink events, messages)."""
    import mne

    try:
        raw = mne.io.read_raw_eyelink(path, verbose=False)
    except Exception as exc:  # noqa: BLE001 - many parser errors for broken files
        raise GazeInputError(
            f"{path.name}: not a readable EyeLink ASC file ({type(exc).__name__}: {exc})"
        ) from None
    picks = {c: i for i, c in enumerate(raw.ch_names)}
    xs = [c for c in raw.ch_names if c.startswith("xpos")]
    if not xs:
        raise GazeInputError(f"{path.name}: no gaze position channels (xpos_*) in the ASC samples")
    eye = xs[0].removeprefix("xpos_")
    data = raw.get_data()
    x, y = data[picks[f"xpos_{eye}"]], data[picks[f"ypos_{eye}"]]
    pupil = data[picks[f"pupil_{eye}"]] if f"pupil_{eye}" in picks else np.full(len(x), np.nan)
    valid = np.isfinite(x) & np.isfinite(y)
    rows, messages = [], {}
    for a in raw.annotations:
        d = a["description"]
        kind = {"fixation": "fixation", "saccade": "saccade", "BAD_blink": "blink"}.get(d)
        if kind:
            rows.append(
                {
                    "kind": kind,
                    "onset_s": float(a["onset"] - raw.first_time),
                    "offset_s": float(a["onset"] - raw.first_time + a["duration"]),
                }
            )
        elif d not in messages:
            messages[d] = float(a["onset"] - raw.first_time)
    rec = GazeRecording(raw.times.copy(), x, y, pupil, valid, raw.info["sfreq"], messages,
                        pd.DataFrame(rows, columns=["kind", "onset_s", "offset_s"]), source=path.name)  # fmt: skip
    return rec


TOBII_COLUMNS = {"time": "Recording timestamp [μs]", "x": "Gaze point X [DACS px]", "y": "Gaze point Y [DACS px]",
                 "pupil": "Pupil diameter left [mm]", "validity": "Validity left", "event": "Event",
                 "movement": "Eye movement type"}  # fmt: skip


def read_tabular(
    path: Path, columns: dict[str, str], *, time_unit_s: float, sep: str
) -> GazeRecording:
    """Gaze from a table with declared column names (Tobii TSV, generic CSV).

    ``columns`` maps ``time, x, y`` (required) and ``pupil, validity, event, movement`` (optional)
    to the file's column names; ``time_unit_s`` is the duration of one time unit (1e-6 for µs).
    """
    try:
        df = pd.read_csv(path, sep=sep, low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise GazeInputError(f"{path.name}: not a readable table ({exc})") from None
    missing = [columns[k] for k in ("time", "x", "y") if columns.get(k) not in df.columns]
    if missing:
        raise GazeInputError(
            f"{path.name}: columns {missing} not found; the file has {list(df.columns)[:12]}. "
            "Declare the right names under eyetrack.columns"
        )
    messages = {}
    ev_col = columns.get("event")
    if ev_col in df.columns:
        ev = df[df[ev_col].notna() & (df[ev_col].astype(str) != "")]
        for t, name in zip(ev[columns["time"]], ev[ev_col].astype(str), strict=True):
            messages.setdefault(name, float(t))
        df = df[df[columns["x"]].notna() | (df[ev_col].isna() | (df[ev_col].astype(str) == ""))]
    t_raw = pd.to_numeric(df[columns["time"]], errors="coerce").to_numpy(float)
    if np.isnan(t_raw).any():
        raise GazeInputError(f"{path.name}: non-numeric timestamps in column {columns['time']!r}")
    t0 = t_raw[0]
    t = (t_raw - t0) * time_unit_s
    messages = {k: (v - t0) * time_unit_s for k, v in messages.items()}
    x = pd.to_numeric(df[columns["x"]], errors="coerce").to_numpy(float)
    y = pd.to_numeric(df[columns["y"]], errors="coerce").to_numpy(float)
    valid = np.isfinite(x) & np.isfinite(y)
    vcol = columns.get("validity")
    if vcol in df.columns:
        valid &= (
            df[vcol].astype(str).str.lower().isin(["valid", "0", "1.0", "true"]).to_numpy()
            | (df[vcol].astype(str) == "Valid").to_numpy()
        )
    pcol = columns.get("pupil")
    pupil = (
        pd.to_numeric(df[pcol], errors="coerce").to_numpy(float)
        if pcol in df.columns
        else np.full(len(t), np.nan)
    )
    events = pd.DataFrame(columns=["kind", "onset_s", "offset_s"])
    mcol = columns.get("movement")
    if mcol in df.columns:
        lab = df[mcol].astype(str).to_numpy()
        fix = lab == "Fixation"
        edges = np.flatnonzero(np.diff(np.r_[0, fix.astype(int), 0]))
        events = pd.DataFrame({"kind": "fixation", "onset_s": t[edges[::2]],
                               "offset_s": t[np.minimum(edges[1::2], len(t) - 1)]})  # fmt: skip
    x = np.where(valid, x, np.nan)
    y = np.where(valid, y, np.nan)
    return GazeRecording(t, x, y, pupil, valid, 0.0, messages, events, source=path.name)


READERS: dict[str, Callable[..., GazeRecording]] = {
    "eyelink_asc": lambda p, cfg: read_eyelink_asc(p),
    "tobii_tsv": lambda p, cfg: read_tabular(p, TOBII_COLUMNS, time_unit_s=1e-6, sep="\t"),
    "csv": lambda p, cfg: read_tabular(
        p, dict(cfg["columns"]), time_unit_s=float(cfg["csv_time_unit_s"]), sep=","
    ),
    "bids_physio": lambda p, cfg: _bids().read_bids_physio(p),
}
# formats whose own metadata gives the screen geometry (no `_eyetrack.json` sidecar needed)
SELF_DESCRIBING = ("bids_physio",)


def _bids():
    from eyetrack import bids  # imports this module, so loaded on first use

    return bids


def guess_format(path: Path) -> str | None:
    """Reader name from the file name: ``*_physio.tsv.gz``, ``.asc``, ``.tsv``, ``.csv``."""
    if path.name.endswith("_physio.tsv.gz"):
        return "bids_physio"
    return {".asc": "eyelink_asc", ".tsv": "tobii_tsv", ".csv": "csv"}.get(path.suffix.lower())


def read_gaze(
    path: str | Path, *, fmt: str | None = None, cfg: dict | None = None
) -> GazeRecording:
    """Read any supported gaze file with its sidecar geometry; validates timing and rate.

    ``fmt`` is a key of :data:`READERS` (default: from the file name, see :func:`guess_format`).
    BIDS physio files carry their geometry in BIDS metadata; the others need the
    ``_eyetrack.json`` sidecar (:func:`read_sidecar`).
    """
    path = Path(path)
    if not path.is_file():
        raise GazeInputError(f"{path}: no such gaze file")
    fmt = fmt or guess_format(path)
    if fmt not in READERS:
        raise GazeInputError(
            f"{path.name}: unknown gaze format {fmt!r}; supported: {sorted(READERS)}"
        )
    geometry = None if fmt in SELF_DESCRIBING else read_sidecar(path)
    rec = READERS[fmt](path, cfg or {"columns": {}, "csv_time_unit_s": 1.0})
    if geometry is not None:
        rec.geometry = geometry
    rec.source = path.name
    return _check(rec, rec.geometry.get("sfreq_hz"))
