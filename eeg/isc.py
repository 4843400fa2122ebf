"""Inter-subject correlation (ISC) of EEG across viewers of the same ad.

Correlated component analysis (Dmochowski et al. 2012, Front. Hum. Neurosci.): find spatial filters
that maximise the correlation between viewers relative to the variance within viewers, then report
the correlation along each component. Written with numpy/scipy because MNE has no ISC; the
generalised eigenproblem is solved by :func:`scipy.linalg.eigh`. :func:`ad_isc` gives the
per-second and per-shot values the batch (`hmllm eeg`) writes to ``derivatives/eeg/isc.parquet``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.linalg import eigh

from eeg.errors import EEGInputError


def _covariances(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pooled within-subject (Rw) and between-subject (Rb) covariances, (C, C) each."""
    n_sub, n_ch, n_t = data.shape
    x = data - data.mean(axis=2, keepdims=True)
    flat = x.transpose(1, 0, 2).reshape(n_ch, n_sub * n_t)  # (C, S·T): one BLAS product
    rw = flat @ flat.T / (n_sub * n_t)
    total = x.sum(axis=0)  # (C, T): sum over subjects
    rt = total @ total.T / n_t  # Σ_k Σ_l R_kl
    rb = (rt - rw * n_sub) / (n_sub * (n_sub - 1))
    return rw, rb


def isc(
    data: np.ndarray, *, n_components: int = 3, shrinkage: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Correlated components and their ISC over the whole recording.

    Parameters
    ----------
    data
        Video-locked EEG of the viewers of one ad, shape (n_subjects, n_channels, n_samples), V.
    n_components
        Number of strongest correlated components to keep.
    shrinkage
        Regularisation of the within-subject covariance towards its mean eigenvalue (0–1); the
        original paper used a truncated eigen-spectrum for the same purpose.

    Returns
    -------
    isc_values, weights
        ISC per component, shape (n_components,), and spatial filters (n_channels, n_components).

    Raises
    ------
    EEGInputError
        Fewer than 2 subjects, non-finite data, or bad parameters.
    """
    data = np.asarray(data, dtype=float)
    if data.ndim != 3 or data.shape[0] < 2:
        raise EEGInputError(
            f"isc needs data shaped (n_subjects >= 2, n_channels, n_samples), got {data.shape}"
        )
    if not np.isfinite(data).all():
        raise EEGInputError("isc: data contains NaN/inf; drop or clean those viewers first")
    w = correlated_components(*_covariances(data), n_components=n_components, shrinkage=shrinkage)
    return isc_of_weights(data, w), w


def correlated_components(
    rw: np.ndarray, rb: np.ndarray, *, n_components: int, shrinkage: float
) -> np.ndarray:
    """Spatial filters maximising between- over within-viewer covariance (strongest first).

    Parameters
    ----------
    rw, rb
        Pooled within- and between-viewer covariances, (n_channels, n_channels), V².
    n_components
        Number of components to keep (at most n_channels).
    shrinkage
        Regularisation of ``rw`` towards its mean eigenvalue (0–1).

    Returns
    -------
    np.ndarray
        (n_channels, n_components) filters.
    """
    if not 0.0 <= shrinkage <= 1.0:
        raise EEGInputError(f"isc: shrinkage must be in [0, 1], got {shrinkage}")
    n_components = int(min(n_components, len(rw)))
    rw_reg = (1 - shrinkage) * rw + shrinkage * np.eye(len(rw)) * np.trace(rw) / len(rw)
    vals, vecs = eigh(rb, rw_reg)
    return vecs[:, np.argsort(vals)[::-1][:n_components]]


def isc_of_weights(data: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ISC along given spatial filters: between-viewer over within-viewer variance per component.

    Parameters
    ----------
    data
        (n_subjects, n_channels, n_samples), V.
    weights
        (n_channels, n_components) spatial filters.

    Returns
    -------
    np.ndarray
        (n_components,) ISC (−1/(n_subjects−1) … 1).
    """
    rw, rb = _covariances(np.asarray(data, dtype=float))
    num = np.einsum("ck,cd,dk->k", weights, rb, weights)
    den = np.einsum("ck,cd,dk->k", weights, rw, weights)
    return num / den


def isc_windows(
    data: np.ndarray, sfreq: float, weights: np.ndarray, *, window_s: float, step_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Time-resolved ISC (sum over components) on sliding windows.

    Parameters
    ----------
    data
        (n_subjects, n_channels, n_samples), V, all locked to video onset.
    sfreq
        Sampling rate, Hz.
    weights
        Spatial filters from :func:`isc`, (n_channels, n_components).
    window_s, step_s
        Window length and step, s.

    Returns
    -------
    centres_s, values
        Window centres (s of video time) and summed ISC per window.
    """
    if not np.isfinite(sfreq) or sfreq <= 0:
        raise EEGInputError(f"sfreq must be positive and finite (Hz), got {sfreq}")
    win, step = int(round(window_s * sfreq)), int(round(step_s * sfreq))
    if win < 2 or step < 1 or win > data.shape[2]:
        raise EEGInputError(
            f"isc_windows: window_s={window_s} / step_s={step_s} do not fit {data.shape[2]} samples at {sfreq} Hz"
        )
    starts = np.arange(0, data.shape[2] - win + 1, step)
    vals = np.array([isc_of_weights(data[:, :, s : s + win], weights).sum() for s in starts])
    return (starts + win / 2) / sfreq, vals


def common_channels(viewers: list[dict]) -> list[str]:
    """Channels every viewer has, in the first viewer's order."""
    if not viewers:
        return []
    return [c for c in viewers[0]["ch_names"] if all(c in v["ch_names"] for v in viewers)]


def _prepare(viewers: list[dict], sfreq: float, chans: list[str]):
    """Stack viewers as (S, C, T) float64, channel means (valid samples) removed, rejects zeroed."""
    n_sec = min((len(v["valid"]) for v in viewers), default=0)
    n_t = int(round(n_sec * sfreq))
    sec_valid = np.array([v["valid"][:n_sec] for v in viewers], bool).reshape(len(viewers), n_sec)
    # (S, T) sample validity: each second's flag repeated over its samples
    sample_sec = np.minimum((np.arange(n_t) / sfreq).astype(int), max(n_sec - 1, 0))
    ok = sec_valid[:, sample_sec]
    x = np.zeros((len(viewers), len(chans), n_t))
    for i, v in enumerate(viewers):
        x[i] = v["data"][[v["ch_names"].index(c) for c in chans], :n_t]
    n_ok = np.maximum(ok.sum(axis=1), 1)[:, None]
    x -= ((x * ok[:, None, :]).sum(axis=2) / n_ok)[:, :, None]
    x *= ok[:, None, :]
    return x, ok, sec_valid


def ad_covariances(
    viewers: list[dict], sfreq: float, chans: list[str]
) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Within- and between-viewer covariances of one ad, for pooling across a study's ads.

    Parameters
    ----------
    viewers
        One dict per viewer (see :func:`ad_isc`).
    sfreq
        Rate of the video-locked data, Hz.
    chans
        Channels to use, in this order.

    Returns
    -------
    (rw, rb, n_samples) | None
        Covariances (V²) and the ad's length in samples; None with fewer than 2 viewers that
        have any valid second.
    """
    viewers = [v for v in viewers if np.any(v["valid"])]
    if len(viewers) < 2 or not chans:
        return None
    x, _, _ = _prepare(viewers, sfreq, chans)
    if x.shape[2] < 2:
        return None
    rw, rb = _covariances(x)
    return rw, rb, x.shape[2]


def ad_isc(viewers: list[dict], sfreq: float, shots: pd.DataFrame, weights: np.ndarray | None,
           chans: list[str], *, window_s: float, min_viewers: int, min_shot_s: float,
           min_valid_fraction: float) -> pd.DataFrame:  # fmt: skip
    """ISC of one ad across its viewers, per second of video and per shot.

    Each second's value is the summed ISC of the correlated components ``weights`` in a
    ``window_s`` window centred on it, and each shot's over the shot's span. A viewer's rejected
    seconds are zeroed (after removing each channel's mean), so artefacts add nothing; a second
    counts only the viewers whose own second is valid, a shot only those with at least
    ``min_valid_fraction`` of it valid.

    Parameters
    ----------
    viewers
        One dict per viewer, as :func:`eeg.pipeline.process_raw` returns it: ``data``
        (n_channels, n_samples) video-locked EEG (V) at ``sfreq``, ``ch_names``, ``valid``
        (n_seconds,) bool.
    sfreq
        Rate of the video-locked data, Hz.
    shots
        ``shot, onset_s, offset_s`` (video time, s).
    weights
        (len(chans), n_components) spatial filters, e.g. :func:`correlated_components` of the
        covariances pooled over all the study's ads (fitting them on one short ad would inflate
        its ISC: the filters would fit that ad's noise). None (no components could be fitted):
        every value is missing.
    chans
        Channel order of ``weights``.
    window_s
        Window of the per-second values, s.
    min_viewers
        Fewer usable viewers than this: the value is NaN and ``missing`` is True (never filled).
    min_shot_s
        Shots shorter than this (s) are too short for a correlation: missing.
    min_valid_fraction
        Share of a shot a viewer needs valid to count for that shot.

    Returns
    -------
    pd.DataFrame
        ``second`` (Int64, NA on shot rows), ``shot`` (Int64, NA on second rows), ``index``
        (``"isc"``), ``value`` (float64), ``n_viewers`` (int64), ``missing`` (bool).
    """
    if min_viewers < 2:
        raise EEGInputError(f"eeg.isc.min_viewers must be at least 2, got {min_viewers}")
    fs = float(sfreq)
    x, ok, sec_valid = _prepare(viewers, fs, chans)
    n_sec, n_t = sec_valid.shape[1], x.shape[2]
    spans = np.clip(np.round(np.c_[shots["onset_s"], shots["offset_s"]] * fs).astype(int), 0, n_t)
    shot_viewers = [(ok[:, a:b].mean(axis=1) >= min_valid_fraction) if b > a else np.zeros(len(viewers), bool)
                    for a, b in spans]  # fmt: skip
    sec_values = np.full(n_sec, np.nan)
    shot_values = np.full(len(spans), np.nan)
    half = int(round(window_s * fs / 2))
    if weights is None:
        min_viewers = len(viewers) + 1  # nothing to measure along: all missing, viewers counted
    for t in range(n_sec):
        use = sec_valid[:, t]
        if use.sum() >= min_viewers:
            c = int(round((t + 0.5) * fs))
            a, b = max(0, c - half), min(n_t, c + half)
            sec_values[t] = isc_of_weights(x[use, :, a:b], weights).sum()
    for k, (a, b) in enumerate(spans):
        use = shot_viewers[k]
        if b - a >= min_shot_s * fs and use.sum() >= min_viewers:
            shot_values[k] = isc_of_weights(x[use, :, a:b], weights).sum()
    per_sec = pd.DataFrame({"second": pd.array(np.arange(n_sec), dtype="Int64"),
                            "shot": pd.array([pd.NA] * n_sec, dtype="Int64"), "index": "isc",
                            "value": sec_values, "n_viewers": sec_valid.sum(axis=0).astype(np.int64),
                            "missing": ~np.isfinite(sec_values)})  # fmt: skip
    per_shot = pd.DataFrame({"second": pd.array([pd.NA] * len(spans), dtype="Int64"),
                             "shot": pd.array(shots["shot"].to_numpy(int), dtype="Int64"),
                             "index": "isc", "value": shot_values,
                             "n_viewers": np.array([u.sum() for u in shot_viewers], np.int64),
                             "missing": ~np.isfinite(shot_values)})  # fmt: skip
    return pd.concat([per_sec, per_shot], ignore_index=True)
