"""Inter-subject correlation (ISC) of EEG across viewers of the same ad.

Correlated component analysis (Dmochowski et al. 2012, Front. Hum. Neurosci.): find spatial filters
that maximise the correlation between viewers relative to the variance within viewers, then report
the correlation along each component. Written with numpy/scipy because MNE has no ISC; the
generalised eigenproblem is solved by :func:`scipy.linalg.eigh`.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import eigh

from eeg.errors import EEGInputError


def _covariances(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pooled within-subject (Rw) and between-subject (Rb) covariances, (C, C) each."""
    n_sub, n_ch, n_t = data.shape
    x = data - data.mean(axis=2, keepdims=True)
    rw = np.einsum("sct,sdt->cd", x, x) / (n_sub * n_t)
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
    if not 0.0 <= shrinkage <= 1.0:
        raise EEGInputError(f"isc: shrinkage must be in [0, 1], got {shrinkage}")
    n_components = int(min(n_components, data.shape[1]))
    rw, rb = _covariances(data)
    rw_reg = (1 - shrinkage) * rw + shrinkage * np.eye(len(rw)) * np.trace(rw) / len(rw)
    vals, vecs = eigh(rb, rw_reg)
    order = np.argsort(vals)[::-1][:n_components]
    w = vecs[:, order]
    return isc_of_weights(data, w), w


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
