"""Tiny generated EEG recordings with known rhythms, artefacts and triggers (no files needed)."""

from __future__ import annotations

import mne
import numpy as np
import pytest

CHANNELS = ("Fp1 Fp2 F7 F3 Fz F4 F8 FC5 FC1 FC2 FC6 T7 C3 Cz C4 T8 TP9 CP5 CP1 CP2 CP6 TP10 "
            "P7 P3 Pz P4 P8 PO9 O1 Oz O2 PO10").split()  # fmt: skip


def make_raw(
    *,
    sfreq: float = 250.0,
    duration_s: float = 24.0,
    onset_s: float = 2.0,
    video_s: float = 20.0,
    engagement: np.ndarray | None = None,
    valence: np.ndarray | None = None,
    bad_channel: str | None = None,
    blinks: bool = False,
    line_uv: float = 0.0,
    annotate: bool = True,
    seed: int = 0,
) -> mne.io.RawArray:
    """A 32-channel recording (V) whose band powers follow per-second ``engagement``/``valence``.

    Engagement scales beta up and alpha/theta down (Pope index rises); positive valence lowers
    left-frontal alpha and raises right-frontal alpha (FAA rises). A shared source gives good
    channels the inter-channel correlation real scalp EEG has (volume conduction).
    """
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * sfreq))
    t = np.arange(n) / sfreq
    n_ch = len(CHANNELS)
    sec = np.clip(((t - onset_s) // 1).astype(int), 0, None)
    eng = (
        np.zeros(n)
        if engagement is None
        else np.asarray(engagement)[np.clip(sec, 0, len(engagement) - 1)]
    )
    val = np.zeros(n) if valence is None else np.asarray(valence)[np.clip(sec, 0, len(valence) - 1)]
    inside = (t >= onset_s) & (t < onset_s + video_s)
    eng = np.where(inside, eng, 0.0)
    val = np.where(inside, val, 0.0)

    def band(lo: float, hi: float, size: int) -> np.ndarray:
        x = rng.standard_normal((size, n))
        return mne.filter.filter_data(x, sfreq, lo, hi, verbose=False)

    # a broadband common source (volume conduction) makes good channels correlate (r ≈ 0.5)
    shared = band(1, 40, 1)[0] * 6.0
    gains = rng.uniform(0.8, 1.25, n_ch)  # electrode impedances differ
    data = np.empty((n_ch, n))
    alpha = band(8, 13, n_ch)
    theta = band(4, 8, n_ch)
    beta = band(13, 30, n_ch)
    pink = np.cumsum(rng.standard_normal((n_ch, n)), axis=1) * 0.02
    pink -= pink.mean(axis=1, keepdims=True)
    for i, ch in enumerate(CHANNELS):
        a_gain = np.exp(-0.5 * eng)
        if ch in ("F3", "F7", "Fp1", "FC5"):
            a_gain = a_gain * np.exp(-0.4 * val)
        if ch in ("F4", "F8", "Fp2", "FC6"):
            a_gain = a_gain * np.exp(0.4 * val)
        data[i] = (
            3 * alpha[i] * a_gain
            + 2 * theta[i] * np.exp(-0.3 * eng)
            + 1.5 * beta[i] * np.exp(0.5 * eng)
            + shared
            + pink[i]
        ) * gains[i]
    data *= 5e-6  # ~10-20 µV scalp EEG
    if blinks:
        for b in np.arange(onset_s + 1.0, duration_s - 1.0, 3.0):
            w = np.exp(-0.5 * ((t - b) / 0.08) ** 2) * 150e-6
            data[CHANNELS.index("Fp1")] += w
            data[CHANNELS.index("Fp2")] += w
            data[CHANNELS.index("F3")] += 0.3 * w
            data[CHANNELS.index("F4")] += 0.3 * w
    if line_uv:
        data += line_uv * 1e-6 * np.sin(2 * np.pi * 50 * t)
    if bad_channel:
        data[CHANNELS.index(bad_channel)] = rng.standard_normal(n) * 200e-6
    info = mne.create_info(list(CHANNELS), sfreq, "eeg")
    raw = mne.io.RawArray(data, info, verbose=False)
    raw.set_montage("colin27_1020", verbose=False)
    if annotate:
        raw.set_annotations(mne.Annotations([onset_s, onset_s + video_s], [0, 0],
                                            ["video_onset", "video_offset"]))  # fmt: skip
    return raw


@pytest.fixture
def eeg_cfg() -> dict:
    """The shipped ``configs/eeg/default.yaml`` as a plain dict."""
    from omegaconf import OmegaConf

    from hmllm.paths import config_dir

    return OmegaConf.to_container(
        OmegaConf.load(config_dir() / "eeg" / "default.yaml"), resolve=True
    )
