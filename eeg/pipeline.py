"""One recording from file to per-second and per-shot indices (read → clean → sync → index)."""

from __future__ import annotations

from pathlib import Path

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
from eeg.sync import find_video_sync


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
                      qc_png: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:  # fmt: skip
    """Per-second and per-shot indices of one recording, plus its quality record.

    Engagement is Pope's β/(α+θ) divided by the participant's baseline level; valence is frontal
    alpha asymmetry minus the baseline's; arousal is frontal log β/α minus the baseline's. Without a
    baseline (``None``) the raw index is kept and the quality flags say so.
    """
    raw = read_recording(path)
    name = Path(path).name
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
    valid = []
    for c in centres:
        i = int(round(c * sf))
        seg = data[:, max(0, i - half) : i + half]
        valid.append(bool(seg.size) and float(np.ptp(seg, axis=1).max()) < limit)
    valid = np.array(valid)
    per_sec = pd.DataFrame([{"second": t, "index": k, "value": float(v[t]), "valid": bool(valid[t])}
                            for k, v in vals.items() for t in range(n_sec)])  # fmt: skip
    shots_tab = per_shot(per_sec, shots, min_valid_fraction=float(cfg["min_valid_fraction"]))
    if qc_png is not None:
        from eeg.qc import plot_recording

        plot_recording(clean, q.bad_channels, per_sec, shots, title=name, out=qc_png)
    quality = {"usable": "too_many_bad_channels" not in q.flags, "flags": ";".join(q.flags),
               "bad_channels": ",".join(f"{k}:{v}" for k, v in q.bad_channels.items()),
               "n_bad_channels": len(q.bad_channels), "n_blinks": q.n_blinks,
               "rejected_s": float((~valid).sum()), "duration_s": float(n_sec),
               "onset_s": sync.onset_s, "drift_ppm": (sync.drift - 1) * 1e6, "sfreq_hz": sf}  # fmt: skip
    return per_sec, shots_tab, quality
