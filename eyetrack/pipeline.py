"""One gaze recording → per-second and per-shot metrics (EMR first) and its fixations on the video.

EMR (eye-movement ratio, default ``emr_method: on_video_time``) is the share of the time window in
which the gaze is on the video — blinks and lost tracking count as not on the video, as in a
viewer who looked away. ``on_video`` is the same share among valid samples only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eyetrack.errors import GazeInputError
from eyetrack.events import DETECTORS
from eyetrack.geometry import px_to_deg, screen_to_video
from eyetrack.io import GazeRecording


def video_time(rec: GazeRecording, duration_s: float, onset: str, offset: str, max_drift: float) -> np.ndarray:
    """Each sample's time on the video clock (s); raises when the onset message is missing."""
    if onset not in rec.messages:
        raise GazeInputError(f"{rec.source}: no {onset!r} message; the gaze cannot be aligned to the ad")
    t_on = rec.messages[onset]
    drift = 1.0
    if offset in rec.messages:
        measured = (rec.messages[offset] - t_on) / duration_s
        if abs(measured - 1) > max_drift:
            raise GazeInputError(f"{rec.source}: {onset}/{offset} are {rec.messages[offset] - t_on:.2f} s apart, the ad lasts "
                                 f"{duration_s:.2f} s — triggers not synchronised")
        drift = measured
    if rec.times_s[-1] < t_on + duration_s * drift - 0.5:
        raise GazeInputError(f"{rec.source}: the recording stops {t_on + duration_s * drift - rec.times_s[-1]:.1f} s before the ad ends")
    return (rec.times_s - t_on) / drift


def _window_metrics(sel: np.ndarray, on: np.ndarray, valid: np.ndarray, u, v, pupil, fix: pd.DataFrame,
                    lo: float, hi: float, geometry: dict) -> dict[str, float]:  # fmt: skip
    n = int(sel.sum())
    if n == 0:
        return {}
    on_s, val_s = on[sel], valid[sel]
    out = {"emr": float(on_s.mean()), "on_video": float(on_s.sum() / max(val_s.sum(), 1)),
           "data_loss": float(1 - val_s.mean())}  # fmt: skip
    f = fix[(fix["onset_s"] < hi) & (fix["offset_s"] > lo)]
    out["fixation_count"] = float(len(f))
    out["fixation_dur_s"] = float((f["offset_s"] - f["onset_s"]).mean()) if len(f) else np.nan
    if on_s.sum() > 2:
        w = geometry["video_rect_px"][2]
        sd = np.sqrt(np.nanvar(u[sel][on_s]) + np.nanvar(v[sel][on_s] * geometry["video_rect_px"][3] / w))
        out["dispersion_deg"] = float(px_to_deg(sd * w, geometry))
    else:
        out["dispersion_deg"] = np.nan
    p = pupil[sel][val_s]
    out["pupil"] = float(np.nanmean(p)) if p.size and np.isfinite(p).any() else np.nan
    return out


def process_gaze(rec: GazeRecording, duration_s: float, shots: pd.DataFrame, cfg: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """Per-second and per-shot metrics, fixations on the video, and a quality record."""
    s = cfg["sync"]
    tv = video_time(rec, duration_s, s["onset_message"], s["offset_message"], s["max_drift"])
    g = rec.geometry
    u, v, on = screen_to_video(rec.x_px, rec.y_px, g["video_rect_px"])
    on &= rec.valid
    fix = rec.events[rec.events["kind"] == "fixation"].copy() if len(rec.events) else pd.DataFrame()
    source = "tracker"
    if not len(fix) or cfg["events"]["detector"] != "tracker":
        det = cfg["events"]["detector"] if cfg["events"]["detector"] != "tracker" else "ivt"
        params = dict(cfg["events"][det])
        ok = rec.valid
        if ok.sum() < 10:
            fix = pd.DataFrame(columns=["kind", "onset_s", "offset_s"])
        else:
            fix = DETECTORS[det](rec.times_s[ok], rec.x_px[ok], rec.y_px[ok], g, **params)
        source = det
    # fixation positions and video times
    t_on = rec.messages[s["onset_message"]]
    drift = (tv[-1] - tv[0]) and ((rec.times_s[-1] - rec.times_s[0]) / (tv[-1] - tv[0]))
    fx = []
    for f in fix.itertuples():
        m = (rec.times_s >= f.onset_s) & (rec.times_s < f.offset_s) & rec.valid
        if m.sum() == 0:
            continue
        fx.append({"onset_s": (f.onset_s - t_on) / drift, "offset_s": (f.offset_s - t_on) / drift,
                   "x": float(np.nanmedian(u[m])), "y": float(np.nanmedian(v[m])),
                   "x_px": float(np.nanmedian(rec.x_px[m])), "y_px": float(np.nanmedian(rec.y_px[m]))})  # fmt: skip
    fixv = pd.DataFrame(fx, columns=["onset_s", "offset_s", "x", "y", "x_px", "y_px"])
    fixv["on_video"] = fixv["x"].between(0, 1) & fixv["y"].between(0, 1)
    inside = (tv >= 0) & (tv < duration_s)
    n_sec = int(np.floor(duration_s + 1e-6))
    sec_rows = []
    for sec in range(n_sec):
        sel = inside & (tv >= sec) & (tv < sec + 1)
        m = _window_metrics(sel, on, rec.valid, u, v, rec.pupil, fixv, sec, sec + 1, g)
        sec_rows += [{"second": sec, "index": k, "value": val, "valid": bool(m["data_loss"] < cfg["max_loss_per_window"])}
                     for k, val in m.items()]  # fmt: skip
    shot_rows = []
    for sh in shots.itertuples():
        sel = inside & (tv >= sh.onset_s) & (tv < sh.offset_s)
        m = _window_metrics(sel, on, rec.valid, u, v, rec.pupil, fixv, sh.onset_s, sh.offset_s, g)
        if not m:
            continue
        good = m["data_loss"] < cfg["max_loss_per_window"] or cfg["emr_counts_loss_as_off"]
        shot_rows += [{"shot": int(sh.shot), "index": k, "value": val if good else np.nan,
                       "valid_fraction": 1 - m["data_loss"], "missing": not good} for k, val in m.items()]  # fmt: skip
    if len(fixv):
        fixv["shot"] = np.clip(np.searchsorted(shots["onset_s"].to_numpy(), fixv["onset_s"].to_numpy(), side="right") - 1, 0, len(shots) - 1)
        fixv = fixv[(fixv["onset_s"] >= 0) & (fixv["onset_s"] < duration_s)]
    loss = float(1 - rec.valid[inside].mean()) if inside.any() else 1.0
    sw, sh_ = g["screen_width_px"], g["screen_height_px"]
    with np.errstate(invalid="ignore"):
        far = float(np.mean((np.abs(rec.x_px[inside] - sw / 2) > sw) | (np.abs(rec.y_px[inside] - sh_ / 2) > sh_)))
    flags = []
    if loss > cfg["max_data_loss"]:
        flags.append("data_loss")
    if far > cfg["max_far_offscreen"]:
        flags.append("gaze_far_offscreen")
    quality = {"usable": not flags, "flags": ";".join(flags), "data_loss": loss, "far_offscreen": far,
               "sfreq_hz": rec.sfreq_hz, "event_source": source, "n_fixations": int(len(fixv))}  # fmt: skip
    return pd.DataFrame(sec_rows), pd.DataFrame(shot_rows), fixv, quality
