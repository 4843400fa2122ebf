"""Simulate one EEG recording (32-channel 10–20, Volts) whose rhythms follow the latent response.

Per channel: a 1/f background plus theta (4–8 Hz), alpha (8–13 Hz), beta (13–30 Hz) and gamma
(30–45 Hz) band-limited noise, each amplitude-modulated by the latent of that moment:
engagement raises beta and lowers alpha and theta (so Pope's β/(α+θ) tracks it); positive valence
lowers left-frontal and raises right-frontal alpha (so frontal alpha asymmetry tracks it); arousal
raises gamma. Artefacts a pipeline must handle: 50 Hz line noise, blinks in the frontal channels,
slow drift, and sometimes one flat or noisy channel. Written to BIDS with mne-bids.
"""

from __future__ import annotations

import datetime as dt

import mne
import numpy as np

from hmllm.synth.world import GRID_HZ

CHANNELS = ("Fp1 Fp2 F7 F3 Fz F4 F8 FC5 FC1 FC2 FC6 T7 C3 Cz C4 T8 TP9 CP5 CP1 CP2 CP6 TP10 P7 P3 "
            "Pz P4 P8 PO9 O1 Oz O2 PO10").split()  # fmt: skip
LEFT_FRONTAL = ("Fp1", "F3", "F7", "FC5")
RIGHT_FRONTAL = ("Fp2", "F4", "F8", "FC6")
POSTERIOR = ("P7", "P3", "Pz", "P4", "P8", "PO9", "O1", "Oz", "O2", "PO10")
FRONTO_CENTRAL = ("Fz", "FC1", "FC2", "Cz", "F3", "F4", "C3", "C4")
BANDS = {"theta": (4.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0), "gamma": (30.0, 45.0)}
BLINK_WEIGHT = {"Fp1": 1.0, "Fp2": 1.0, "F7": 0.45, "F8": 0.45, "F3": 0.4, "F4": 0.4, "Fz": 0.4,
                "FC5": 0.15, "FC6": 0.15, "FC1": 0.15, "FC2": 0.15}  # fmt: skip


def _band_noise(rng, n_ch: int, n: int, sfreq: float, lo: float, hi: float) -> np.ndarray:
    """Unit-RMS band-limited Gaussian noise, shape (n_ch, n)."""
    spec = np.fft.rfft(rng.standard_normal((n_ch, n)), axis=1)
    f = np.fft.rfftfreq(n, 1 / sfreq)
    spec[:, (f < lo) | (f > hi)] = 0
    x = np.fft.irfft(spec, n, axis=1)
    return x / (x.std(axis=1, keepdims=True) + 1e-12)


def _pink(rng, n_ch: int, n: int, sfreq: float) -> np.ndarray:
    """Unit-RMS 1/f noise above 0.5 Hz, shape (n_ch, n)."""
    spec = np.fft.rfft(rng.standard_normal((n_ch, n)), axis=1)
    f = np.fft.rfftfreq(n, 1 / sfreq)
    spec[:, 1:] /= np.sqrt(np.maximum(f[1:], 0.5))
    spec[:, 0] = 0
    x = np.fft.irfft(spec, n, axis=1)
    return x / (x.std(axis=1, keepdims=True) + 1e-12)


def latent_z_on_recording(series: dict, e: dict, s: dict, times_rec: np.ndarray, onset_s: float,
                          drift: float) -> dict[str, np.ndarray]:  # fmt: skip
    """Latent z of engagement, valence, arousal at each recording sample (0 outside the video)."""
    lat = s["latent"]
    z_en = (series["engagement"] - lat["engagement_mean"]) / lat["engagement_sd"]
    z_va = series["valence"] / lat["valence_sd"]
    grid_t = np.arange(len(z_en)) / GRID_HZ
    t_video = (times_rec - onset_s) / (1 + drift)
    inside = (t_video >= 0) & (t_video <= grid_t[-1] + 1 / GRID_HZ)
    out = {}
    for name, z, rest in (("engagement", z_en, e["engagement"][0]),
                          ("valence", z_va, e["valence"][0])):  # fmt: skip
        out[name] = np.where(inside, np.interp(t_video, grid_t, z), rest)
    out["arousal"] = 0.5 * out["engagement"] + 0.5 * np.abs(out["valence"]) - 0.4
    return out


def _mixing_matrix(sigma_m: float) -> np.ndarray:
    """Volume conduction: each electrode sees nearby sources, weighted by a Gaussian of distance."""
    pos = mne.channels.make_standard_montage("colin27_1020").get_positions()["ch_pos"]
    xyz = np.array([pos[c] for c in CHANNELS])
    d2 = ((xyz[:, None, :] - xyz[None, :, :]) ** 2).sum(-1)
    w = np.exp(-d2 / (2 * sigma_m**2))
    return w / np.sqrt((w**2).sum(1, keepdims=True))


def simulate_eeg(z: dict[str, np.ndarray], sfreq: float, p: dict, rng) -> tuple[np.ndarray, dict]:
    """EEG in Volts, shape (32, n), from latent z at each sample; returns data and artefact info.

    ``p`` is the ``synth.eeg`` config (amplitudes in microvolts, gains in log-amplitude per z).
    """
    n = len(z["engagement"])
    n_ch = len(CHANNELS)
    idx = {c: i for i, c in enumerate(CHANNELS)}
    data = p["background_uv"] * _pink(rng, n_ch, n, sfreq)
    w_alpha = np.full(n_ch, 0.55)
    w_alpha[[idx[c] for c in POSTERIOR]] = 1.0
    w_theta = np.full(n_ch, 0.5)
    w_theta[[idx[c] for c in FRONTO_CENTRAL]] = 1.0
    w_beta = np.full(n_ch, 0.6)
    w_beta[[idx[c] for c in FRONTO_CENTRAL]] = 1.0
    g_en, g_va = p["engagement_gain"], p["valence_gain"]
    env = {
        "theta": p["theta_uv"] * np.exp(-0.6 * g_en * z["engagement"]),
        "alpha": p["alpha_uv"] * np.exp(-g_en * z["engagement"]),
        "beta": p["beta_uv"] * np.exp(g_en * z["engagement"]),
        "gamma": 0.8 * np.exp(p["arousal_gain"] * z["arousal"]),
    }
    weights = {"theta": w_theta, "alpha": w_alpha, "beta": w_beta, "gamma": np.full(n_ch, 0.7)}
    for band, (lo, hi) in BANDS.items():
        comp = (
            _band_noise(rng, n_ch, n, sfreq, lo, hi) * weights[band][:, None] * env[band][None, :]
        )
        if band == "alpha":  # frontal alpha asymmetry follows valence
            left = [idx[c] for c in LEFT_FRONTAL]
            right = [idx[c] for c in RIGHT_FRONTAL]
            comp[left] *= np.exp(-g_va * z["valence"])[None, :]
            comp[right] *= np.exp(g_va * z["valence"])[None, :]
        data += comp
    data = _mixing_matrix(p["conduction_sigma_m"]) @ data
    t = np.arange(n) / sfreq
    # mains interference, stronger on a few channels (poor contact)
    phase = rng.uniform(0, 2 * np.pi, n_ch)
    amp = p["line_noise_uv"] * rng.uniform(0.5, 1.5, n_ch)
    data += amp[:, None] * np.sin(2 * np.pi * p["line_noise_hz"] * t[None, :] + phase[:, None])
    # slow drift: a smoothed random walk per channel
    walk = np.cumsum(rng.standard_normal((n_ch, n)), axis=1)
    walk -= walk.mean(axis=1, keepdims=True)
    data += p["drift_uv"] * walk / (np.abs(walk).max(axis=1, keepdims=True) + 1e-12)
    # blinks: a 0.3 s bump, largest at Fp1/Fp2
    blinks = []
    tb = rng.uniform(0.5, 2.0)
    while tb < t[-1] - 0.5:
        blinks.append(round(float(tb), 3))
        tb += rng.uniform(*p["blink_interval_s"])
    shape_t = np.arange(int(0.4 * sfreq)) / sfreq
    bump = np.exp(-0.5 * ((shape_t - 0.15) / 0.05) ** 2)
    for b in blinks:
        i0 = int(b * sfreq)
        seg = slice(i0, min(n, i0 + len(bump)))
        for ch, w in BLINK_WEIGHT.items():
            data[idx[ch], seg] += p["blink_uv"] * w * bump[: seg.stop - seg.start]
    bad = {}
    if rng.random() < p["bad_channel_prob"]:
        ch = str(rng.choice([c for c in CHANNELS if c not in BLINK_WEIGHT]))
        kind = str(rng.choice(["flat", "noisy"]))
        if kind == "flat":
            data[idx[ch]] = rng.standard_normal(n) * 0.01
        else:
            data[idx[ch]] += 60.0 * rng.standard_normal(n)
        bad = {ch: kind}
    return data * 1e-6, {"blinks_s": blinks, "bad_channels": bad}


def to_raw(data_v: np.ndarray, sfreq: float, onset_s: float | None, offset_s: float | None,
           meas_date: dt.datetime) -> mne.io.RawArray:  # fmt: skip
    """Wrap simulated data as an MNE Raw with montage, line frequency and video annotations."""
    info = mne.create_info(list(CHANNELS), sfreq, ch_types="eeg", verbose=False)
    raw = mne.io.RawArray(data_v, info, verbose=False)
    raw.set_montage("colin27_1020", verbose=False)  # MNE 1.13 name of standard_1020
    raw.set_meas_date(meas_date)
    raw.info["line_freq"] = 50.0
    onsets, descs = [], []
    if onset_s is not None:
        onsets.append(onset_s)
        descs.append("video_onset")
    if offset_s is not None:
        onsets.append(offset_s)
        descs.append("video_offset")
    if onsets:
        raw.set_annotations(
            mne.Annotations(onsets, [0.0] * len(onsets), descs, orig_time=meas_date)
        )
    return raw
