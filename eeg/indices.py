"""Sliding-window band powers and the indices built from them (units: V²/Hz, ratios, log-ratios).

Registries (``ENGAGEMENT_INDICES``, ``EMOTION_INDICES``) let configs pick an index by name and tests
iterate over all of them. Each index maps band powers of shape (n_windows, n_channels) per band to
one value per window.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.fft import rfft, rfftfreq
from scipy.signal import get_window

from eeg.errors import EEGInputError

BANDS_HZ = {"delta": (1.0, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0),
            "gamma": (30.0, 45.0)}  # fmt: skip
REGIONS = {
    "frontal": ("Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8"),
    "central": ("FC5", "FC1", "FC2", "FC6", "C3", "Cz", "C4"),
    "temporal": ("T7", "T8", "TP9", "TP10"),
    "parietal": ("CP5", "CP1", "CP2", "CP6", "P7", "P3", "Pz", "P4", "P8"),
    "occipital": ("PO9", "O1", "Oz", "O2", "PO10"),
}


def sliding_band_powers(data: np.ndarray, sfreq: float, *, window_s: float, step_s: float,
                        bands: dict[str, tuple[float, float]] = BANDS_HZ,
                        start_s: float = 0.0, stop_s: float | None = None,
                        centres_s: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:  # fmt: skip
    """Band power per window and channel with Welch's method.

    Parameters
    ----------
    data
        EEG, shape (n_channels, n_samples), Volts.
    sfreq
        Sampling rate, Hz.
    window_s, step_s
        Window length and step, seconds (default config: 2 s windows every 1 s).
    bands
        ``{name: (low, high)}`` band edges, Hz (low inclusive, high exclusive).
    start_s, stop_s
        Range of window starts, seconds from the first sample.
    centres_s
        Explicit window centres (s); overrides the regular grid (used to follow clock drift).

    Returns
    -------
    centres_s, powers
        Window centre times (s) and ``{band: (n_windows, n_channels)}`` band powers (V²).

    Notes
    -----
    Equal to :func:`scipy.signal.welch` on each window (Hann sub-segments of 1 s, half overlap,
    constant detrend, density scaling) with the PSD summed over each band's bins. Computed for all
    windows at once, and a sub-segment shared by overlapping windows is transformed only once.
    """
    if not np.isfinite(sfreq) or sfreq <= 0:
        raise EEGInputError(f"sfreq must be positive and finite (Hz), got {sfreq}")
    win = int(round(window_s * sfreq))
    step = int(round(step_s * sfreq))
    if win < 8 or step < 1:
        raise EEGInputError(
            f"window_s={window_s} / step_s={step_s} are too short for sfreq={sfreq} Hz"
        )
    if data.shape[1] < win:
        raise EEGInputError(
            f"the data ({data.shape[1] / sfreq:.2f} s) is shorter than one {window_s} s window"
        )
    stop = data.shape[1] if stop_s is None else min(data.shape[1], int(round(stop_s * sfreq)))
    if centres_s is not None:
        starts = np.clip(
            np.round(np.asarray(centres_s) * sfreq - win / 2).astype(int), 0, data.shape[1] - win
        )
    else:
        starts = np.arange(int(round(start_s * sfreq)), stop - win + 1, step)
    if len(starts) == 0:
        raise EEGInputError(
            f"the data ({data.shape[1] / sfreq:.2f} s) is shorter than one {window_s} s window"
        )
    nper = min(win, int(round(sfreq)))  # 1 s sub-segments inside the window (Welch averaging)
    powers = _welch_band_powers(data, sfreq, starts, win, nper, bands)
    return (starts + win / 2) / sfreq, powers


def _welch_band_powers(data: np.ndarray, sfreq: float, starts: np.ndarray, win: int, nper: int,
                       bands: dict[str, tuple[float, float]]) -> dict[str, np.ndarray]:  # fmt: skip
    """Welch band powers (V²) of the windows ``data[:, s : s + win]``, ``{band: (W, C)}``."""
    step = nper - nper // 2
    n_seg = (win - nper // 2) // step  # sub-segments per window, as scipy.signal.welch counts them
    seg_starts = starts[:, None] + step * np.arange(n_seg)[None, :]  # (W, S)
    uniq, inv = np.unique(seg_starts, return_inverse=True)
    segs = sliding_window_view(data, nper, axis=-1)[:, uniq]  # (C, U, nper) copy of the needed
    segs = segs - segs.mean(axis=-1, keepdims=True)  # constant detrend per sub-segment
    taper = get_window("hann", nper)
    spec = rfft(segs * taper, axis=-1)
    spec = spec.real**2 + spec.imag**2  # (C, U, F)
    f = rfftfreq(nper, 1 / sfreq)
    # density scaling, one-sided (every bin but DC, and Nyquist for even nper, counts twice),
    # times the bin width, summed over each band's bins: one (F, B) weight matrix
    weight = np.full(len(f), 2.0 * (f[1] - f[0]) / (sfreq * (taper**2).sum()))
    weight[0] /= 2
    if nper % 2 == 0:
        weight[-1] /= 2
    in_band = np.stack([(f >= lo) & (f < hi) for lo, hi in bands.values()], axis=1)  # (F, B)
    per_seg = spec @ (in_band * weight[:, None])  # (C, U, B)
    per_win = per_seg[:, inv.reshape(seg_starts.shape)].mean(axis=2)  # (C, W, B)
    out = {b: np.ascontiguousarray(per_win[:, :, j].T) for j, b in enumerate(bands)}  # (W, C)
    return out


def _pick(names: list[str], wanted) -> list[int]:
    return [names.index(c) for c in wanted if c in names]


def pope_engagement(p: dict[str, np.ndarray], names: list[str], channels) -> np.ndarray:
    """Pope et al. (1995) engagement β / (α + θ), powers averaged over ``channels``."""
    idx = _pick(names, channels)
    if not idx:
        raise EEGInputError(f"none of the engagement channels {list(channels)} are present")
    return p["beta"][:, idx].mean(1) / (p["alpha"][:, idx].mean(1) + p["theta"][:, idx].mean(1))


def theta_alpha_engagement(p: dict[str, np.ndarray], names: list[str], channels) -> np.ndarray:
    """Frontal-midline theta over parietal alpha (an alternative workload/engagement index)."""
    idx = _pick(names, channels)
    if not idx:
        raise EEGInputError(f"none of the engagement channels {list(channels)} are present")
    return p["theta"][:, idx].mean(1) / p["alpha"][:, idx].mean(1)


def frontal_alpha_asymmetry(p: dict[str, np.ndarray], names: list[str], pairs) -> np.ndarray:
    """Frontal alpha asymmetry ln α(right) − ln α(left), averaged over homologous pairs.

    Valence: higher = relatively more left-frontal activity (less left alpha) = approach/positive.
    """
    used = [(left, right) for left, right in pairs if left in names and right in names]
    if not used:
        raise EEGInputError(
            f"frontal alpha asymmetry needs at least one of the pairs {[list(x) for x in pairs]}; "
            f"the recording has {names}"
        )
    vals = [
        np.log(p["alpha"][:, names.index(r)]) - np.log(p["alpha"][:, names.index(left)])
        for left, r in used
    ]
    return np.mean(vals, axis=0)


def beta_alpha_arousal(p: dict[str, np.ndarray], names: list[str], channels) -> np.ndarray:
    """Arousal as frontal β/α (log)."""
    idx = _pick(names, channels)
    if not idx:
        raise EEGInputError(f"none of the arousal channels {list(channels)} are present")
    return np.log(p["beta"][:, idx].mean(1) / p["alpha"][:, idx].mean(1))


ENGAGEMENT_INDICES: dict[str, Callable] = {
    "pope": pope_engagement,
    "theta_alpha": theta_alpha_engagement,
}
EMOTION_INDICES: dict[str, Callable] = {"faa": frontal_alpha_asymmetry}
AROUSAL_INDICES: dict[str, Callable] = {"beta_alpha": beta_alpha_arousal}


def relative_band_powers(p: dict[str, np.ndarray], names: list[str]) -> dict[str, np.ndarray]:
    """Relative power (band / total over delta…gamma) per region: ``bp_<band>_<region>``."""
    total = sum(p.values())
    out = {}
    for region, chans in REGIONS.items():
        idx = _pick(names, chans)
        if not idx:
            continue
        tot = total[:, idx].mean(1)
        for band, arr in p.items():
            out[f"bp_{band}_{region}"] = arr[:, idx].mean(1) / tot
    return out
