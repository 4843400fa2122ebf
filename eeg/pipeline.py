"""One recording from file to per-second and per-shot indices (read → clean → sync → index)."""

from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
import pandas as pd

from eeg.aggregate import per_shot
from eeg.errors import EEGInputError
from eeg.indices import (
    AROUSAL_INDICES,
    EMOTION_INDICES,
    ENGAGEMENT_INDICES,
    relative_band_powers,
    sliding_band_powers,
)
from eeg.io import read_recording
from eeg.preprocess import preprocess
from eeg.sync import VideoSync, find_video_sync


def _indices(powers: dict, names: list[str], cfg: dict) -> dict[str, np.ndarray]:
    ix = cfg["indices"]
    return {
        "engagement": ENGAGEMENT_INDICES[ix["engagement"]](
            powers, names, ix["engagement_channels"]
        ),
        "valence": EMOTION_INDICES[ix["emotion"]](powers, names, ix["asymmetry_pairs"]),
        "arousal": AROUSAL_INDICES[ix["arousal"]](powers, names, ix["arousal_channels"]),
    }


def baseline_levels(path: str | Path, cfg: dict) -> dict[str, float]:
    """Index levels of the calm-video baseline (mean band powers over its clean windows)."""
    raw = read_recording(path)
    clean, _ = preprocess(raw, cfg["preprocess"])
    w = cfg["windows"]
    _, powers = sliding_band_powers(
        clean.get_data(), clean.info["sfreq"], window_s=w["window_s"], step_s=w["step_s"]
    )
    mean_p = {b: v.mean(0, keepdims=True) for b, v in powers.items()}
    return {k: float(v[0]) for k, v in _indices(mean_p, clean.ch_names, cfg).items()}


def process_recording(path: str | Path, video_duration_s: float, shots: pd.DataFrame, cfg: dict,
                      baseline: dict[str, float] | None, *,
                      qc_png: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict, dict | None]:  # fmt: skip
    """Read one recording and process it with :func:`process_raw` (same arguments and returns)."""
    return process_raw(read_recording(path), video_duration_s, shots, cfg, baseline,
                       name=Path(path).name, qc_png=qc_png)  # fmt: skip


def video_locked(data: np.ndarray, sfreq: float, sync: VideoSync, n_sec: int,
                 out_sfreq: float) -> np.ndarray:  # fmt: skip
    """Resample cleaned EEG onto the video's clock, ``out_sfreq`` samples per second of video.

    Parameters
    ----------
    data
        Cleaned EEG, shape (n_channels, n_samples), V, already low-passed below ``out_sfreq / 2``.
    sfreq
        Its sampling rate, Hz.
    sync
        Where the video sits in the recording (drift-corrected).
    n_sec
        Whole seconds of video to cover.
    out_sfreq
        Output rate, Hz (samples per second of video time).

    Returns
    -------
    np.ndarray
        (n_channels, round(n_sec * out_sfreq)) float32, V; sample k is video time k / out_sfreq
        (linear interpolation between recording samples).
    """
    pos = sync.to_recording_time(np.arange(int(round(n_sec * out_sfreq))) / out_sfreq) * sfreq
    pos = np.clip(pos, 0, data.shape[1] - 1)
    i0 = np.minimum(pos.astype(int), data.shape[1] - 2)
    frac = pos - i0
    return (data[:, i0] * (1 - frac) + data[:, i0 + 1] * frac).astype(np.float32)


def process_raw(raw: mne.io.BaseRaw, video_duration_s: float, shots: pd.DataFrame, cfg: dict,
                baseline: dict[str, float] | None, *, name: str = "recording",
                qc_png: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict, dict | None]:  # fmt: skip
    """Per-second and per-shot indices of one recording, its quality record and ISC input.

    Engagement is Pope's β/(α+θ) divided by the participant's baseline level; valence is frontal
    alpha asymmetry minus the baseline's; arousal is frontal log β/α minus the baseline's. Without a
    baseline (``None``) the raw index is kept and the quality flags say so.

    Parameters
    ----------
    raw
        The recording (V), as :func:`eeg.io.read_recording` returns it.
    video_duration_s
        Length of the ad, s.
    shots
        ``shot, onset_s, offset_s`` of the ad (video time, s).
    cfg
        The ``eeg`` config.
    baseline
        Index levels of the participant's calm-video baseline (:func:`baseline_levels`) or None.
    name
        Shown in errors and on the QC figure.
    qc_png
        Where to write the QC figure (None = no figure).

    Returns
    -------
    per_second, per_shot, quality, locked
        Long tables (contract §2) without the key columns, the quality record, and for the
        inter-subject correlation ``{"data": (n_channels, n) float32 V at eeg.isc.sfreq_hz,
        "ch_names": [...], "valid": (n_sec,) bool}`` — None when ``eeg.isc.enabled`` is false.
    """
    sf = raw.info["sfreq"]
    lo, hi = cfg["expected_sfreq_hz"]
    if not lo <= sf <= hi:
        raise EEGInputError(
            f"{name}: sampling rate {sf} Hz outside the expected {lo}–{hi} Hz (eeg.expected_sfreq_hz)"
        )
    s = cfg["sync"]
    sync = find_video_sync(raw, video_duration_s, onset=s["onset_annotation"], offset=s["offset_annotation"],
                           stim_channel=s["stim_channel"], max_drift=s["max_drift"])  # fmt: skip
    clean, q = preprocess(raw, cfg["preprocess"])
    w = cfg["windows"]
    n_sec = int(np.floor(video_duration_s + 1e-6))
    centres = sync.to_recording_time(np.arange(n_sec) + 0.5)
    data = clean.get_data()
    _, powers = sliding_band_powers(
        data, sf, window_s=w["window_s"], step_s=w["step_s"], centres_s=centres
    )
    names = clean.ch_names
    vals = _indices(powers, names, cfg)
    if baseline:
        vals["engagement"] = vals["engagement"] / baseline["engagement"]
        vals["valence"] = vals["valence"] - baseline["valence"]
        vals["arousal"] = vals["arousal"] - baseline["arousal"]
    else:
        q.flags.append("no_baseline")
    vals.update(relative_band_powers(powers, names))
    # amplitude-based rejection: a window whose peak-to-peak exceeds the limit is invalid
    half = int(round(w["window_s"] * sf / 2))
    limit = float(cfg["preprocess"]["reject_ptp_uv"]) * 1e-6
    valid = np.zeros(n_sec, bool)
    for t, c in enumerate(centres):
        i = int(round(c * sf))
        seg = data[:, max(0, i - half) : i + half]
        valid[t] = bool(seg.size) and float(np.ptp(seg, axis=1).max()) < limit
    keys = np.array(list(vals), dtype=object)
    per_sec = pd.DataFrame({"second": np.tile(np.arange(n_sec), len(keys)),
                            "index": np.repeat(keys, n_sec),
                            "value": np.concatenate([np.asarray(v, float)[:n_sec] for v in vals.values()]),
                            "valid": np.tile(valid, len(keys))})  # fmt: skip
    shots_tab = per_shot(per_sec, shots, min_valid_fraction=float(cfg["min_valid_fraction"]))
    if qc_png is not None:
        from eeg.qc import plot_recording

        plot_recording(clean, q.bad_channels, per_sec, shots, title=name, out=qc_png)
    usable = "too_many_bad_channels" not in q.flags
    quality = {"usable": usable, "flags": ";".join(q.flags),
               "bad_channels": ",".join(f"{k}:{v}" for k, v in q.bad_channels.items()),
               "n_bad_channels": len(q.bad_channels), "n_blinks": q.n_blinks,
               "rejected_s": float((~valid).sum()), "duration_s": float(n_sec),
               "onset_s": sync.onset_s, "drift_ppm": (sync.drift - 1) * 1e6, "sfreq_hz": sf}  # fmt: skip
    locked = None
    isc_cfg = cfg["isc"]
    if isc_cfg["enabled"] and usable:
        p = cfg["preprocess"]
        stop_hz = float(p["h_freq_hz"]) + float(p["h_trans_bandwidth_hz"])  # FIR stop-band edge
        if float(isc_cfg["sfreq_hz"]) < 2 * stop_hz:
            raise EEGInputError(
                f"eeg.isc.sfreq_hz ({isc_cfg['sfreq_hz']}) must be at least twice the low-pass stop "
                f"edge ({stop_hz} Hz: eeg.preprocess.h_freq_hz + h_trans_bandwidth_hz) to avoid aliasing"
            )
        locked = {"data": video_locked(data, sf, sync, n_sec, float(isc_cfg["sfreq_hz"])),
                  "ch_names": list(names), "valid": valid}  # fmt: skip
    return per_sec, shots_tab, quality, locked
