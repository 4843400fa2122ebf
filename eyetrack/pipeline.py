"""One gaze recording → per-second and per-shot metrics (EMR first) and its fixations on the video.

EMR (eye-movement ratio) is computed by a method of :data:`EMR_METHODS` (``eyetrack.emr_method``):
``on_video_time`` (default) is the share of the window's time in which the gaze is on the video —
blinks and lost tracking count as not on the video, as for a viewer who looked away;
``on_video_valid`` is the same share among valid samples only; ``fixation_time`` is the share of
the window covered by fixations that land on the video. All metrics are vectorised over windows
with ``np.bincount`` (one pass over the samples; ~0.1 s per recording budget).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from eyetrack.aoi import aoi_hits
from eyetrack.errors import GazeInputError
from eyetrack.events import DETECTORS
from eyetrack.geometry import px_to_deg, screen_to_video
from eyetrack.io import GazeRecording

EMR_METHODS: dict[str, Callable[[dict], np.ndarray]] = {
    "on_video_time": lambda w: w["n_on"] / np.maximum(w["n"], 1),
    "on_video_valid": lambda w: w["n_on"] / np.maximum(w["n_valid"], 1),
    "fixation_time": lambda w: np.clip(w["fix_on_video_s"] / np.maximum(w["dur_s"], 1e-9), 0, 1),
}


def video_time(
    rec: GazeRecording, duration_s: float, onset: str, offset: str, max_drift: float
) -> tuple[np.ndarray, float, float]:
    """Each sample's time on the video clock (s), plus the onset (s) and clock ratio used.

    The onset message is required; when the offset message exists the recording clock is
    rescaled so the two messages span the ad's duration (drift correction, like the EEG side).
    """
    if onset not in rec.messages:
        raise GazeInputError(f"{rec.source}: no {onset!r} message; the gaze cannot be aligned to the ad "
                             "(set eyetrack.sync.onset_message to the file's marker)")  # fmt: skip
    t_on = rec.messages[onset]
    drift = 1.0
    if offset in rec.messages:
        measured = (rec.messages[offset] - t_on) / duration_s
        if abs(measured - 1) > max_drift:
            raise GazeInputError(f"{rec.source}: {onset}/{offset} are {rec.messages[offset] - t_on:.2f} s apart, the ad lasts "
                                 f"{duration_s:.2f} s — triggers not synchronised (or wrong ad)")  # fmt: skip
        drift = measured
    if rec.times_s[-1] < t_on + duration_s * drift - 0.5:
        raise GazeInputError(
            f"{rec.source}: the recording stops {t_on + duration_s * drift - rec.times_s[-1]:.1f} s before the ad ends"
        )
    return (rec.times_s - t_on) / drift, t_on, drift


def window_index(t: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Index of the window [lo, hi) holding each time (windows sorted, disjoint); -1 if none."""
    if len(lo) == 0:
        return np.full(len(t), -1)
    j = np.searchsorted(lo, t, side="right") - 1
    ok = (j >= 0) & (t < hi[np.clip(j, 0, None)])
    return np.where(ok, j, -1)


def detect_fixations(rec: GazeRecording, cfg: dict) -> tuple[pd.DataFrame, str]:
    """Fixations (recording clock): the tracker's own when present and asked for, else I-VT/I-DT."""
    det = cfg["events"]["detector"]
    ev = rec.events
    if det == "tracker" and len(ev) and (ev["kind"] == "fixation").any():
        return ev[ev["kind"] == "fixation"][["onset_s", "offset_s"]].reset_index(
            drop=True
        ), "tracker"
    det = "ivt" if det == "tracker" else det
    if det not in DETECTORS:
        raise GazeInputError(
            f"eyetrack.events.detector={det!r} is unknown; use tracker, {', '.join(DETECTORS)}"
        )
    ok = rec.valid
    if ok.sum() < 10:
        return pd.DataFrame(columns=["onset_s", "offset_s"], dtype=float), det
    fix = DETECTORS[det](
        rec.times_s[ok], rec.x_px[ok], rec.y_px[ok], rec.geometry, **dict(cfg["events"][det])
    )
    return fix[["onset_s", "offset_s"]], det


def fixation_positions(
    rec: GazeRecording, fix: pd.DataFrame, u: np.ndarray, v: np.ndarray
) -> pd.DataFrame:
    """Median position of each fixation's valid samples, in video coords and screen px."""
    on = fix["onset_s"].to_numpy(float)
    off = fix["offset_s"].to_numpy(float)
    order = np.argsort(on)
    on, off = on[order], off[order]
    j = window_index(rec.times_s, on, np.maximum(off, on + 1e-9))
    m = (j >= 0) & rec.valid
    df = pd.DataFrame({"j": j[m], "x": u[m], "y": v[m], "x_px": rec.x_px[m], "y_px": rec.y_px[m]})
    med = df.groupby("j").median()
    out = pd.DataFrame({"onset_s": on[med.index], "offset_s": off[med.index]})
    for c in ("x", "y", "x_px", "y_px"):
        out[c] = med[c].to_numpy()
    return out


def window_metrics(lo: np.ndarray, hi: np.ndarray, tv: np.ndarray, on: np.ndarray, rec: GazeRecording,
                   u: np.ndarray, v: np.ndarray, fixv: pd.DataFrame, hits: dict[str, np.ndarray],
                   emr_method: str) -> dict[str, np.ndarray]:  # fmt: skip
    """Every gaze index for the windows [lo, hi) of the video clock (arrays of len(lo))."""
    g = rec.geometry
    nw = len(lo)
    j = window_index(tv, lo, hi)
    m = j >= 0
    jj = j[m]

    def count(w: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(jj, weights=None if w is None else w[m].astype(float), minlength=nw)[:nw]

    w = {"n": count(), "n_on": count(on), "n_valid": count(rec.valid), "dur_s": hi - lo}
    # gaze spread of on-video samples (video widths, y rescaled to the same unit) → degrees
    aspect = g["video_rect_px"][3] / g["video_rect_px"][2]
    uu = np.where(on, u, 0.0)
    vv = np.where(on, v * aspect, 0.0)
    n_on = np.maximum(w["n_on"], 1)
    var = (count(uu * uu) / n_on - (count(uu) / n_on) ** 2) + (
        count(vv * vv) / n_on - (count(vv) / n_on) ** 2
    )
    disp = px_to_deg(np.sqrt(np.clip(var, 0, None)) * g["video_rect_px"][2], g)
    pup_ok = rec.valid & np.isfinite(rec.pupil)
    n_pup = count(pup_ok)
    pupil = count(np.where(pup_ok, rec.pupil, 0.0)) / np.maximum(n_pup, 1)
    # fixations overlapping each window (fixations are disjoint, so both ends are sorted)
    fo, ff = fixv["onset_s"].to_numpy(float), fixv["offset_s"].to_numpy(float)
    a = np.searchsorted(ff, lo, side="right")
    b = np.searchsorted(fo, hi, side="left")
    n_fix = np.clip(b - a, 0, None)
    csum = np.r_[0.0, np.cumsum(ff - fo)]
    fix_dur = (csum[np.maximum(b, a)] - csum[a]) / np.maximum(n_fix, 1)
    # time covered by on-video fixations inside each window (for EMR method fixation_time)
    cov = np.zeros(nw)
    onv = fixv["on_video"].to_numpy(bool)
    for k in range(len(fo)):  # one fixation spans few windows; loop over fixations, not samples
        if onv[k]:
            s, e = np.searchsorted(hi, fo[k], side="right"), np.searchsorted(lo, ff[k], side="left")
            for i in range(s, e):
                cov[i] += max(0.0, min(ff[k], hi[i]) - max(fo[k], lo[i]))
    w["fix_on_video_s"] = cov
    # saccade amplitude ≈ distance between consecutive fixation centres (deg), at the saccade's onset
    amp = px_to_deg(
        np.hypot(np.diff(fixv["x_px"].to_numpy(float)), np.diff(fixv["y_px"].to_numpy(float))), g
    )
    sj = window_index(ff[:-1], lo, hi) if len(ff) > 1 else np.zeros(0, int)
    sm = sj >= 0
    n_sac = np.bincount(sj[sm], minlength=nw)[:nw]
    sac = np.bincount(sj[sm], weights=amp[sm], minlength=nw)[:nw] / np.maximum(n_sac, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "emr": EMR_METHODS[emr_method](w),
            "on_video": np.where(w["n_valid"] > 0, w["n_on"] / np.maximum(w["n_valid"], 1), np.nan),
            "data_loss": 1 - w["n_valid"] / np.maximum(w["n"], 1),
            "fixation_count": n_fix.astype(float),
            "fixation_dur_s": np.where(n_fix > 0, fix_dur, np.nan),
            "saccade_amp_deg": np.where(n_sac > 0, sac, np.nan),
            "dispersion_deg": np.where(w["n_on"] > 2, disp, np.nan),
            "pupil": np.where(n_pup > 0, pupil, np.nan),
        }
    for name, hit in hits.items():  # dwell time in s: samples in the AOI × sample period
        out[f"aoi_{name}_dwell"] = count(hit & on) / max(rec.sfreq_hz, 1e-9)
    out["_n"] = w["n"]
    return out


def _long(
    key: str, keys: np.ndarray, metrics: dict[str, np.ndarray], extra: dict[str, np.ndarray]
) -> pd.DataFrame:
    names = [k for k in metrics if not k.startswith("_")]
    sel = metrics["_n"] > 0
    n = int(sel.sum())
    df = pd.DataFrame({key: np.tile(keys[sel], len(names)), "index": np.repeat(names, n),
                       "value": np.concatenate([metrics[k][sel] for k in names]).astype(np.float64)})  # fmt: skip
    for c, val in extra.items():
        df[c] = np.tile(val[sel], len(names))
    return df


def process_gaze(rec: GazeRecording, duration_s: float, shots: pd.DataFrame, cfg: dict,
                 aois: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:  # fmt: skip
    """Process one recording: metrics, fixations and quality.

    Per-second and per-shot metrics (long tables of contracts §2), fixations on the video
    clock with video coordinates and shot, and a quality record for one recording.
    """
    if cfg["emr_method"] not in EMR_METHODS:
        raise GazeInputError(
            f"eyetrack.emr_method={cfg['emr_method']!r} is unknown; use one of {sorted(EMR_METHODS)}"
        )
    s = cfg["sync"]
    tv, t_on, drift = video_time(
        rec, duration_s, s["onset_message"], s["offset_message"], s["max_drift"]
    )
    g = rec.geometry
    u, v, on = screen_to_video(rec.x_px, rec.y_px, g["video_rect_px"])
    on &= rec.valid
    fix, source = detect_fixations(rec, cfg)
    fixv = fixation_positions(rec, fix, u, v)
    fixv["onset_s"] = (fixv["onset_s"] - t_on) / drift
    fixv["offset_s"] = (fixv["offset_s"] - t_on) / drift
    fixv["on_video"] = fixv["x"].between(0, 1) & fixv["y"].between(0, 1)
    hits = aoi_hits(aois, tv, u, v) if aois is not None and len(aois) else {}
    inside = (tv >= 0) & (tv < duration_s)
    max_loss = cfg["max_loss_per_window"]
    # per second
    n_sec = int(np.floor(duration_s + 1e-6))
    sec_lo = np.arange(n_sec, dtype=float)
    ms = window_metrics(sec_lo, sec_lo + 1, tv, on, rec, u, v, fixv, hits, cfg["emr_method"])
    sec = _long("second", np.arange(n_sec), ms, {"valid": ms["data_loss"] < max_loss})
    # per shot
    lo, hi = (
        shots["onset_s"].to_numpy(float),
        np.minimum(shots["offset_s"].to_numpy(float), duration_s),
    )
    mt = window_metrics(lo, hi, tv, on, rec, u, v, fixv, hits, cfg["emr_method"])
    missing = mt["data_loss"] >= max_loss
    valid_fraction = 1 - mt["data_loss"]
    if cfg["emr_counts_loss_as_off"]:  # EMR stays defined: lost gaze means not looking at the ad
        keep_emr = mt["emr"].copy()
    for k in mt:
        if not k.startswith("_"):
            mt[k] = np.where(missing, np.nan, mt[k])
    if cfg["emr_counts_loss_as_off"]:
        mt["emr"] = keep_emr
    shot = _long(
        "shot",
        shots["shot"].to_numpy(int),
        mt,
        {"valid_fraction": valid_fraction, "missing": missing},
    )
    if cfg["emr_counts_loss_as_off"] and len(shot):
        shot.loc[shot["index"] == "emr", "missing"] = False
    fixv = fixv[(fixv["onset_s"] >= 0) & (fixv["onset_s"] < duration_s)].reset_index(drop=True)
    fixv["shot"] = np.clip(
        np.searchsorted(lo, fixv["onset_s"].to_numpy(), side="right") - 1, 0, max(len(lo) - 1, 0)
    )
    loss = float(1 - rec.valid[inside].mean()) if inside.any() else 1.0
    sw, sh_ = g["screen_width_px"], g["screen_height_px"]
    with np.errstate(invalid="ignore"):
        far = (
            float(
                np.mean(
                    (np.abs(rec.x_px[inside] - sw / 2) > sw)
                    | (np.abs(rec.y_px[inside] - sh_ / 2) > sh_)
                )
            )
            if inside.any()
            else 0.0
        )
    flags = []
    if loss > cfg["max_data_loss"]:
        flags.append("data_loss")
    if far > cfg["max_far_offscreen"]:
        flags.append("gaze_far_offscreen")
    quality = {"usable": not flags, "flags": ";".join(flags), "data_loss": loss, "far_offscreen": far,
               "sfreq_hz": rec.sfreq_hz, "event_source": source, "n_fixations": int(len(fixv)),
               "pupil_note": "pupil is luminance-confounded; compare within shot only"}  # fmt: skip
    return (
        sec,
        shot,
        fixv[["onset_s", "offset_s", "x", "y", "x_px", "y_px", "on_video", "shot"]],
        quality,
    )
