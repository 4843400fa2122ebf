"""BIDS eye-tracking (physio, ``PhysioType: "eyetrack"``) reader and writer.

BIDS 1.10 stores gaze as ``<matches>_recording-<label>_physio.tsv.gz`` — headerless, its column
names in the ``Columns`` list of the ``_physio.json`` sidecar (``timestamp, x_coordinate,
y_coordinate[, pupil_size]`` first) — with the device's messages and events (fixations,
saccades, blinks) in ``_physioevents.tsv.gz`` + ``.json`` (``onset`` on the clock named by
``OnsetSource``). Screen geometry is the ``StimulusPresentation`` object of the task's
``<matches>_events.json`` (``ScreenSize`` and ``ScreenDistance`` in metres, ``ScreenResolution``
in pixels, ``ScreenOrigin``); BEP020 drafts put the same keys at the top of the physio sidecar,
and both places are read. Where the video sat on the screen is not a BIDS field: the sidecar
must add ``video_rect_px`` (``[x0, y0, width, height]``, screen px), as our own gaze sidecars do.

:func:`read_bids_physio` returns the same :class:`~eyetrack.io.GazeRecording` as the other
readers (seconds from the first sample, screen pixels from the top-left corner, NaN where
invalid); :func:`write_bids_physio` writes one (tests, and converting a lab's files to BIDS).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from eyetrack.errors import GazeInputError
from eyetrack.io import GazeRecording

PHYSIO_SUFFIX = "_physio.tsv.gz"
REQUIRED_COLUMNS = ("timestamp", "x_coordinate", "y_coordinate")
TIME_UNITS_S = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ns": 1e-9}
PIXEL_UNITS = ("pixel", "pixels", "px")
# A screen edge or viewing distance above this is a value given in cm or mm instead of the
# metres BIDS prescribes (no lab screen is 10 m wide); it is rejected, not guessed.
MAX_PLAUSIBLE_M = 10.0
EVENT_KINDS = ("fixation", "saccade", "blink")


def _stem(path: Path) -> str:
    if not path.name.endswith(PHYSIO_SUFFIX):
        raise GazeInputError(f"{path.name}: a BIDS eye-tracking file must end in {PHYSIO_SUFFIX}")
    return path.name[: -len(PHYSIO_SUFFIX)]


def _load_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise GazeInputError(f"{path.name}: {what} is missing; BIDS requires it next to the data")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GazeInputError(f"{path.name}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise GazeInputError(f"{path.name}: must hold a JSON object, got {type(meta).__name__}")
    return meta


def _unit_s(meta: dict, column: str, side: str) -> float:
    units = (meta.get(column) or {}).get("Units") if isinstance(meta.get(column), dict) else None
    if units not in TIME_UNITS_S:
        raise GazeInputError(
            f"{side}: {column}.Units is {units!r}; give the unit of the {column!r} column as one "
            f'of {sorted(TIME_UNITS_S)} (e.g. "{column}": {{"Units": "ms"}})'
        )
    return TIME_UNITS_S[units]


def _events_json(path: Path, stem: str) -> dict:
    """The task's ``<matches>_events.json`` (``_recording-<label>`` dropped), when present."""
    matches = "_".join(p for p in stem.split("_") if not p.startswith("recording-"))
    side = path.parent / f"{matches}_events.json"
    return _load_json(side, "events sidecar") if side.is_file() else {}


def screen_geometry(meta: dict, events_meta: dict, side: str) -> dict:
    """Our geometry keys (px, cm) from BIDS screen metadata (px, m), plus ``screen_origin``.

    Looked up in the physio sidecar (top level, then its ``StimulusPresentation``), then in the
    events sidecar's ``StimulusPresentation``; ``"n/a"`` counts as absent.
    """
    sources = [meta, meta.get("StimulusPresentation") or {},
               events_meta.get("StimulusPresentation") or {}]  # fmt: skip

    def get(key: str):
        for s in sources:
            if s.get(key) not in (None, "n/a"):
                return s[key]
        return None

    size, res, dist = get("ScreenSize"), get("ScreenResolution"), get("ScreenDistance")
    missing = [k for k, v in (("ScreenSize", size), ("ScreenResolution", res),
                              ("ScreenDistance", dist)) if v is None]  # fmt: skip
    if missing:
        raise GazeInputError(
            f"{side}: screen geometry missing {missing}; give them under StimulusPresentation "
            "in the task's _events.json (ScreenSize [w, h] in m, ScreenResolution [w, h] in px, "
            "ScreenDistance in m)"
        )
    if not (isinstance(size, list) and len(size) == 2 and isinstance(res, list) and len(res) == 2):
        raise GazeInputError(
            f"{side}: ScreenSize and ScreenResolution must be [width, height], got {size} and {res}"
        )
    dist_m = float(np.linalg.norm(dist)) if isinstance(dist, list) else float(dist)
    if max(*size, dist_m) > MAX_PLAUSIBLE_M or min(*size, dist_m) <= 0:
        raise GazeInputError(
            f"{side}: ScreenSize {size} / ScreenDistance {dist} are not plausible metres; "
            "BIDS gives them in m (a 52 cm wide screen is 0.52)"
        )
    rect = get("video_rect_px")
    if rect is None or len(rect) != 4:
        raise GazeInputError(
            f'{side}: no "video_rect_px" (got {rect!r}); add "video_rect_px": [x0, y0, width, '
            "height], the screen pixels where the video was shown (not a BIDS field)"
        )
    origin = get("ScreenOrigin") or ["top", "left"]
    return {"screen_width_px": int(res[0]), "screen_height_px": int(res[1]),
            "screen_width_cm": round(100 * float(size[0]), 9),
            "screen_height_cm": round(100 * float(size[1]), 9), "distance_cm": round(100 * dist_m, 9), "video_rect_px": [float(v) for v in rect],
            "screen_origin": [str(o) for o in origin]}  # fmt: skip


def _to_top_left(x: np.ndarray, y: np.ndarray, origin: list[str], w: int, h: int, side: str):
    """Gaze in BIDS ``ScreenOrigin`` coordinates → px from the top-left corner, y down.

    ``bottom``/``center`` origins are taken as y pointing up (PsychoPy's convention).
    """
    words = {o.lower() for o in origin}
    vert = "top" if "top" in words else "bottom" if "bottom" in words else "center"
    horiz = "left" if "left" in words else "right" if "right" in words else "center"
    if horiz == "right" or not words <= {"top", "bottom", "left", "right", "center"}:
        raise GazeInputError(
            f"{side}: ScreenOrigin {origin} is not supported; use [top, left], [bottom, left] "
            "or [center, center]"
        )
    if horiz == "center":
        x = x + w / 2
    if vert == "bottom":
        y = h - y
    elif vert == "center":
        y = h / 2 - y
    return x, y


def _read_table(path: Path, columns: list[str], side: str) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, sep="\t", header=None, na_values=["n/a"], keep_default_na=True,
                         compression="gzip", low_memory=False)  # fmt: skip
    except (OSError, EOFError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise GazeInputError(f"{path.name}: not a readable gzip TSV ({exc})") from None
    except pd.errors.EmptyDataError:
        raise GazeInputError(f"{path.name}: empty file") from None
    if df.shape[1] != len(columns):
        raise GazeInputError(
            f"{path.name}: {df.shape[1]} columns but {side} lists {len(columns)} in Columns "
            f"({columns}); make Columns name every column in order"
        )
    df.columns = columns
    return df


def read_physioevents(path: Path, stem: str, t0_raw: float, time_col: str, time_unit: float,
                      sfreq_hz: float) -> tuple[dict[str, float], pd.DataFrame]:  # fmt: skip
    """Messages (name → s) and events (``kind, onset_s, offset_s``) from ``_physioevents``.

    ``onset`` is on the clock of the physio column named by ``OnsetSource`` (its ``Units``), or a
    row index into the physio file when ``OnsetSource`` is ``"n/a"``; ``duration`` uses its own
    ``Units`` in the events sidecar when given, else the onset's unit. Times are returned in s
    from the first physio sample. No events file gives no messages and no events.
    """
    data = path.parent / f"{stem}_physioevents.tsv.gz"
    empty = pd.DataFrame(columns=["kind", "onset_s", "offset_s"])
    if not data.is_file():
        return {}, empty
    side = data.parent / f"{stem}_physioevents.json"
    meta = _load_json(side, "events sidecar")
    cols = meta.get("Columns")
    if not isinstance(cols, list) or "onset" not in cols:
        raise GazeInputError(
            f"{side.name}: Columns must list the file's columns with 'onset' first, got {cols!r}"
        )
    source = meta.get("OnsetSource")
    if source is None:
        raise GazeInputError(
            f'{side.name}: OnsetSource is missing; set it to the physio time column ("timestamp") '
            'or "n/a" when onset is a sample index'
        )
    df = _read_table(data, cols, side.name)
    onset = pd.to_numeric(df["onset"], errors="coerce").to_numpy(float)
    if np.isnan(onset).any():
        raise GazeInputError(
            f"{data.name}: non-numeric onset at row {int(np.argmax(np.isnan(onset)))}"
        )
    if source == "n/a":
        onset_s, unit = onset / sfreq_hz, 1.0 / sfreq_hz
    elif source == time_col:
        onset_s, unit = (onset - t0_raw) * time_unit, time_unit
    else:
        raise GazeInputError(
            f"{side.name}: OnsetSource {source!r} is not the physio time column {time_col!r} nor 'n/a'"
        )
    messages: dict[str, float] = {}
    if "message" in df.columns:
        for t, m in zip(onset_s, df["message"], strict=True):
            if isinstance(m, str) and m.strip():
                messages.setdefault(m.strip(), float(t))
    rows = []
    if "trial_type" in df.columns:
        dur_unit = (
            _unit_s(meta, "duration", side.name)
            if isinstance(meta.get("duration"), dict) and "Units" in meta["duration"]
            else unit
        )
        dur = (
            pd.to_numeric(df["duration"], errors="coerce").to_numpy(float) * dur_unit
            if "duration" in df.columns
            else np.full(len(df), np.nan)
        )
        kind = df["trial_type"].astype(str).str.lower().to_numpy()
        keep = np.isin(kind, EVENT_KINDS) & np.isfinite(dur)
        rows = pd.DataFrame({"kind": kind[keep], "onset_s": onset_s[keep],
                             "offset_s": onset_s[keep] + dur[keep]})  # fmt: skip
        return messages, rows.sort_values("onset_s", kind="stable").reset_index(drop=True)
    return messages, empty


def read_bids_physio(path: str | Path) -> GazeRecording:
    """Read a BIDS eye-tracking ``*_physio.tsv.gz`` with its sidecars.

    Returns
    -------
    GazeRecording
        ``times_s`` in s from the first sample (``timestamp`` scaled by its ``Units``);
        ``x_px``/``y_px`` in screen px from the top-left corner (NaN where ``n/a``);
        ``pupil`` in the units of ``pupil_size.Units`` (NaN when absent); ``sfreq_hz`` the
        sidecar's ``SamplingFrequency`` (checked against the samples by ``read_gaze``);
        ``messages``/``events`` from ``_physioevents``; ``geometry`` our keys (px, cm, distance
        in cm) plus ``sfreq_hz``, ``recorded_eye``, ``start_time_s``, ``pupil_units``.
    """
    path = Path(path)
    stem = _stem(path)
    side = path.parent / f"{stem}_physio.json"
    meta = _load_json(side, f"sidecar {side.name}")
    if meta.get("PhysioType", "eyetrack") != "eyetrack":
        raise GazeInputError(
            f'{side.name}: PhysioType is {meta["PhysioType"]!r}; gaze files need "eyetrack"'
        )
    cols = meta.get("Columns")
    if not isinstance(cols, list) or not cols:
        raise GazeInputError(
            f"{side.name}: Columns is missing; BIDS .tsv.gz files have no header, so the sidecar "
            f"must list the column names in order (starting {list(REQUIRED_COLUMNS)})"
        )
    absent = [c for c in REQUIRED_COLUMNS if c not in cols]
    if absent:
        raise GazeInputError(
            f"{side.name}: Columns {cols} lacks {absent}; eye-tracking physio files need "
            f"{list(REQUIRED_COLUMNS)}"
        )
    sfreq = meta.get("SamplingFrequency")
    if not isinstance(sfreq, int | float) or sfreq <= 0:
        raise GazeInputError(
            f"{side.name}: SamplingFrequency must be a positive number in Hz, got {sfreq!r}"
        )
    system = meta.get("SampleCoordinateSystem")
    if system != "gaze-on-screen":
        raise GazeInputError(
            f'{side.name}: SampleCoordinateSystem is {system!r}; only "gaze-on-screen" '
            "(screen pixels) can be mapped onto the video"
        )
    for c in ("x_coordinate", "y_coordinate"):
        u = (meta.get(c) or {}).get("Units") if isinstance(meta.get(c), dict) else None
        if str(u).lower() not in PIXEL_UNITS:
            raise GazeInputError(
                f'{side.name}: {c}.Units is {u!r}; BIDS requires it, and it must be "pixel"'
            )
    unit = _unit_s(meta, "timestamp", side.name)
    geometry = screen_geometry(meta, _events_json(path, stem), side.name)
    df = _read_table(path, cols, side.name)
    t_raw = pd.to_numeric(df["timestamp"], errors="coerce").to_numpy(float)
    if np.isnan(t_raw).any():
        row = int(np.argmax(np.isnan(t_raw)))
        raise GazeInputError(
            f"{path.name}: non-numeric timestamp at row {row} ({df['timestamp'].iloc[row]!r}); "
            "a .tsv.gz must not have a header line"
        )
    x = pd.to_numeric(df["x_coordinate"], errors="coerce").to_numpy(float)
    y = pd.to_numeric(df["y_coordinate"], errors="coerce").to_numpy(float)
    x, y = _to_top_left(x, y, geometry.pop("screen_origin"), geometry["screen_width_px"],
                        geometry["screen_height_px"], side.name)  # fmt: skip
    pupil = (
        pd.to_numeric(df["pupil_size"], errors="coerce").to_numpy(float)
        if "pupil_size" in df.columns
        else np.full(len(df), np.nan)
    )
    valid = np.isfinite(x) & np.isfinite(y)
    t0 = t_raw[0]
    messages, events = read_physioevents(path, stem, t0, "timestamp", unit, float(sfreq))
    geometry |= {"sfreq_hz": float(sfreq), "recorded_eye": meta.get("RecordedEye"),
                 "start_time_s": meta.get("StartTime"),
                 "pupil_units": (meta.get("pupil_size") or {}).get("Units")}  # fmt: skip
    return GazeRecording((t_raw - t0) * unit, x, y, pupil, valid, float(sfreq), messages, events,
                         geometry, source=path.name)  # fmt: skip


def write_bids_physio(rec: GazeRecording, path: str | Path, *, recorded_eye: str = "left",
                      timestamp_unit: str = "ms", start_time_s: float = 0.0,
                      pupil_units: str = "arbitrary") -> Path:  # fmt: skip
    """Write ``rec`` as BIDS eye-tracking physio + physioevents files (gzip, no header).

    ``path`` must end in ``_physio.tsv.gz``. Timestamps are ``rec.times_s`` in
    ``timestamp_unit``; gaze in screen px from the top-left (``n/a`` where invalid). Screen
    geometry goes into the physio sidecar's ``StimulusPresentation`` (m, px) with
    ``video_rect_px``; messages and events go to ``_physioevents`` with ``OnsetSource:
    "timestamp"`` and durations in s. Files are byte-identical for identical input.
    """
    path = Path(path)
    stem = _stem(path)
    if timestamp_unit not in TIME_UNITS_S:
        raise GazeInputError(
            f"timestamp_unit={timestamp_unit!r}; use one of {sorted(TIME_UNITS_S)}"
        )
    g = rec.geometry
    scale = 1.0 / TIME_UNITS_S[timestamp_unit]
    ts = rec.times_s * scale
    valid = rec.valid & np.isfinite(rec.x_px) & np.isfinite(rec.y_px)
    data = pd.DataFrame({"timestamp": ts, "x_coordinate": np.where(valid, rec.x_px, np.nan),
                         "y_coordinate": np.where(valid, rec.y_px, np.nan),
                         "pupil_size": np.where(valid, rec.pupil, np.nan)})  # fmt: skip
    gz = {"method": "gzip", "mtime": 0}  # mtime 0: reproducible bytes (caches hash the file)
    data.to_csv(path, sep="\t", header=False, index=False, na_rep="n/a",
                float_format="%.6f", compression=gz)  # fmt: skip
    meta = {
        "Columns": list(data.columns), "PhysioType": "eyetrack",
        "SamplingFrequency": float(g.get("sfreq_hz") or rec.sfreq_hz), "StartTime": float(start_time_s),
        "RecordedEye": recorded_eye, "SampleCoordinateSystem": "gaze-on-screen",
        "Manufacturer": str(g.get("tracker", "n/a")),
        "timestamp": {"Description": "time of the sample on the tracker's clock",
                      "Units": timestamp_unit},
        "x_coordinate": {"Description": "gaze x on the screen from its left edge", "Units": "pixel"},
        "y_coordinate": {"Description": "gaze y on the screen from its top edge", "Units": "pixel"},
        "pupil_size": {"Description": "pupil size (area or diameter) as the tracker reports it",
                       "Units": pupil_units},
        "StimulusPresentation": {
            "ScreenOrigin": ["top", "left"],
            "ScreenResolution": [int(g["screen_width_px"]), int(g["screen_height_px"])],
            "ScreenSize": [g["screen_width_cm"] / 100, g["screen_height_cm"] / 100],
            "ScreenDistance": g["distance_cm"] / 100,
        },
        "video_rect_px": [float(v) for v in g["video_rect_px"]],
    }  # fmt: skip
    (path.parent / f"{stem}_physio.json").write_text(json.dumps(meta, indent=2) + "\n")
    ev = rec.events
    rows = [(t, np.nan, None, name) for name, t in rec.messages.items()]
    rows += [(r.onset_s, r.offset_s - r.onset_s, r.kind, None) for r in ev.itertuples()]
    events = pd.DataFrame(rows, columns=["onset", "duration", "trial_type", "message"])
    events["onset"] = events["onset"].astype(float) * scale
    events = events.sort_values("onset", kind="stable")
    events["duration"] = events["duration"].astype(float)
    events.to_csv(path.parent / f"{stem}_physioevents.tsv.gz", sep="\t", header=False,
                  index=False, na_rep="n/a", float_format="%.6f", compression=gz)  # fmt: skip
    emeta = {"Columns": list(events.columns), "OnsetSource": "timestamp",
             "Description": "Messages and eye-movement events logged by the tracker",
             "duration": {"Units": "s"},
             "trial_type": {"Levels": {k: f"a {k} detected by the tracker" for k in EVENT_KINDS}},
             "message": {"Description": "messages logged by the tracker (video_onset marks the ad)"}}  # fmt: skip
    (path.parent / f"{stem}_physioevents.json").write_text(json.dumps(emeta, indent=2) + "\n")
    return path
