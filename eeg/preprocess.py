"""Clean a recording: line noise, band-pass, bad channels, ocular correction, re-reference.

Every parameter comes from the ``eeg.preprocess`` config; :func:`preprocess` returns the cleaned Raw
and a :class:`Quality` record that flows downstream (bad channels and why, blinks found, flags).

The steps work on the recording's array in place, one copy per recording. Filters are MNE's FIR
designs (:func:`mne.filter.create_filter`), designed once per parameter set and applied by one FFT
convolution over all channels with MNE's edge padding, so the output equals
:func:`mne.filter.filter_data` (to float rounding) at a fraction of its cost. Bad channels are
interpolated with spherical splines (Perrin et al. 1989) as :meth:`mne.io.Raw.interpolate_bads`
does, from the same sphere fit, without copying the recording's measurement info.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field

import mne
import numpy as np
from numpy.polynomial.legendre import legval
from scipy.ndimage import binary_dilation
from scipy.signal import fftconvolve

from eeg.errors import EEGInputError

# filtering is done in blocks of rows of about this many samples, so a long high-rate recording
# does not need its whole spectrum in memory at once (an implementation bound, not a parameter)
_FFT_BLOCK_SAMPLES = 2**23


@dataclass
class Quality:
    """Per-recording quality: what was found and removed. Times in seconds."""

    # channel -> why it is bad: flat | noisy | uncorrelated
    bad_channels: dict[str, str] = field(default_factory=dict)
    n_blinks: int = 0
    flags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain dict."""
        return asdict(self)


def _robust_sd(data: np.ndarray, sfreq: float) -> np.ndarray:
    """Median over 1 s segments of each channel's SD (V).

    Transient artefacts such as blinks occupy a few segments and do not move the median, so only
    persistently noisy channels stand out.
    """
    seg = max(1, int(round(sfreq)))
    n = data.shape[1] // seg
    if n < 3:
        return data.std(axis=1)
    return np.median(data[:, : n * seg].reshape(data.shape[0], n, seg).std(axis=2), axis=1)


def detect_bad_channels(
    data: np.ndarray,
    sfreq: float,
    names: list[str],
    *,
    flat_uv: float,
    noisy_z: float,
    min_corr: float,
    min_sd_spread: float = 0.15,
    corr_sfreq_hz: float = 50.0,
) -> dict[str, str]:
    """Find flat, noisy and poorly correlated channels.

    Parameters
    ----------
    data
        Band-passed EEG, shape (n_channels, n_samples), Volts.
    sfreq
        Sampling rate, Hz.
    names
        Channel names, one per row of ``data``.
    flat_uv
        A channel whose robust SD is below this (µV) is ``flat``.
    noisy_z
        A channel whose robust z-score of log robust SD exceeds this is ``noisy``.
    min_corr
        A channel whose best |r| with any other good channel is below this is ``uncorrelated``
        (volume conduction makes every good scalp channel correlate with its neighbours).
    min_sd_spread
        Floor on the robust spread of log SD across channels (natural-log units), so a cap whose
        channels happen to be almost identical does not call a 10 % difference "noisy".
    corr_sfreq_hz
        Correlations are computed on every k-th sample, about this rate (Hz); the estimate needs
        many samples, not a high rate, and this keeps it cheap.

    Returns
    -------
    dict
        ``{channel: reason}``.
    """
    sd = _robust_sd(data, sfreq)
    bad: dict[str, str] = {}
    for i in np.flatnonzero(sd < flat_uv * 1e-6):
        bad[names[i]] = "flat"
    ok = [i for i in range(len(names)) if names[i] not in bad]
    if len(ok) < 3:
        return bad
    log_sd = np.log(sd[ok])
    med = np.median(log_sd)
    mad = max(np.median(np.abs(log_sd - med)) * 1.4826, min_sd_spread)  # 1.4826: MAD → SD
    for j, i in enumerate(ok):
        if abs(log_sd[j] - med) / mad > noisy_z:
            bad[names[i]] = "noisy"
    ok = [i for i in ok if names[i] not in bad]
    if len(ok) > 2:
        step = max(1, int(sfreq // corr_sfreq_hz))
        r = np.abs(np.corrcoef(data[ok, ::step]))
        np.fill_diagonal(r, np.nan)
        best_r = np.nanmax(r, axis=1)
        for j, i in enumerate(ok):
            if best_r[j] < min_corr:
                bad[names[i]] = "uncorrelated"
    return bad


def fir_kernel(
    sfreq: float,
    l_freq_hz: float | None,
    h_freq_hz: float | None,
    h_trans_bandwidth_hz: float | str = "auto",
) -> np.ndarray:
    """Zero-phase FIR kernel of MNE's default design (Hamming-windowed ``firwin``), cached.

    Parameters
    ----------
    sfreq
        Sampling rate, Hz.
    l_freq_hz, h_freq_hz
        High-pass and low-pass edges, Hz (``None`` = that side is open), as in
        :func:`mne.filter.create_filter`.
    h_trans_bandwidth_hz
        Width of the low-pass transition band, Hz, or ``"auto"`` (MNE's rule).

    Returns
    -------
    np.ndarray
        Kernel of odd length (read-only; shared between calls with the same parameters).
    """
    return _fir_kernel(float(sfreq), l_freq_hz, h_freq_hz, h_trans_bandwidth_hz)


@functools.lru_cache(maxsize=32)
def _fir_kernel(sfreq, l_freq_hz, h_freq_hz, h_trans_bandwidth_hz) -> np.ndarray:
    h = mne.filter.create_filter(None, sfreq, l_freq_hz, h_freq_hz,
                                 h_trans_bandwidth=h_trans_bandwidth_hz, method="fir",
                                 phase="zero", fir_window="hamming", fir_design="firwin",
                                 verbose=False)  # fmt: skip
    h.setflags(write=False)
    return h


def apply_fir(data: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Filter the last axis with a zero-phase kernel; equals :func:`mne.filter.filter_data`.

    The edges are extended by odd reflection about the end samples (MNE's ``reflect_limited``
    padding: at most the signal's own length, zeros beyond), so edge transients match MNE's.

    Parameters
    ----------
    data
        Signals, shape (..., n_samples), any unit.
    h
        Odd-length symmetric kernel from :func:`fir_kernel`.

    Returns
    -------
    np.ndarray
        Filtered copy, same shape and unit.
    """
    if len(h) % 2 == 0:
        raise EEGInputError(f"apply_fir needs an odd-length zero-phase kernel, got {len(h)} taps")
    x = np.asarray(data, dtype=float)
    shape = x.shape
    x = x.reshape(-1, shape[-1])
    n = x.shape[1]
    half = (len(h) - 1) // 2
    k = min(half, n - 1)
    zeros = np.zeros((x.shape[0], half - k))
    out = np.empty_like(x)
    rows = max(1, _FFT_BLOCK_SAMPLES // (n + 2 * half))
    for r in range(0, x.shape[0], rows):
        b = x[r : r + rows]
        z = zeros[: len(b)]
        ext = np.concatenate([z, 2 * b[:, :1] - b[:, k:0:-1], b,
                              2 * b[:, -1:] - b[:, -2 : -k - 2 : -1], z], axis=1)  # fmt: skip
        out[r : r + rows] = fftconvolve(ext, h[None, :], mode="valid", axes=-1)
    return out.reshape(shape)


def spline_interpolation_matrix(
    pos_good: np.ndarray,
    pos_bad: np.ndarray,
    *,
    stiffness: float,
    n_legendre_terms: int,
    ridge: float,
) -> np.ndarray:
    """Spherical-spline interpolation matrix (Perrin et al. 1989, Electroenceph. clin. Neurophysiol.).

    Parameters
    ----------
    pos_good, pos_bad
        Electrode positions relative to the fitted head-sphere centre, shapes (n_good, 3) and
        (n_bad, 3), metres (only their directions matter).
    stiffness
        Spline order ``m`` of the Legendre series weights (2n + 1) / (n (n + 1))^m.
    n_legendre_terms
        Terms of the series.
    ridge
        Added to the diagonal of the good-to-good spline matrix (regularisation).

    Returns
    -------
    np.ndarray
        (n_bad, n_good) weights: ``bad_data = matrix @ good_data``.
    """
    u_good = pos_good / np.linalg.norm(pos_good, axis=1, keepdims=True)
    u_bad = pos_bad / np.linalg.norm(pos_bad, axis=1, keepdims=True)
    n = np.arange(1, n_legendre_terms + 1)
    coef = np.r_[0.0, (2 * n + 1) / (n * (n + 1)) ** stiffness / (4 * np.pi)]
    g_good = legval(u_good @ u_good.T, coef)
    g_good.flat[:: len(g_good) + 1] += ridge
    g_bad = legval(u_bad @ u_good.T, coef)
    # the spline's constant term: solve [G 1; 1ᵀ 0] [w; c] = [v; 0] for every good channel
    k = len(u_good)
    system = np.zeros((k + 1, k + 1))
    system[:k, :k] = g_good
    system[:k, k] = system[k, :k] = 1.0
    inv = np.linalg.pinv(system)
    return np.hstack([g_bad, np.ones((len(u_bad), 1))]) @ inv[:, :k]


_ORIGINS: dict[bytes, np.ndarray] = {}


def _head_origin(info: mne.Info) -> np.ndarray:
    """Centre of the sphere fitted to the digitised head points (m), as ``interpolate_bads``."""
    key = np.array([d["r"] for d in info["dig"] or []], float).tobytes()
    if key not in _ORIGINS:
        _ORIGINS[key] = np.asarray(
            mne.bem.fit_sphere_to_headshape(info, units="m", verbose=False)[1], float
        )
    return _ORIGINS[key]


def interpolate_channels(data: np.ndarray, info: mne.Info, bad: list[str], cfg: dict) -> bool:
    """Replace ``bad`` channels (rows of ``data``, in place) by spherical-spline interpolation.

    Parameters
    ----------
    data
        EEG, shape (n_channels, n_samples), V; rows in the order of ``info["ch_names"]``.
    info
        The recording's info, with a montage.
    bad
        Channels to replace.
    cfg
        The ``eeg.preprocess`` config (``spline_*`` keys).

    Returns
    -------
    bool
        False (data untouched) when there is no montage or a channel involved has no position.
    """
    if not info["dig"]:
        return False
    names = info["ch_names"]
    pos = np.array([info["chs"][i]["loc"][:3] for i in range(len(names))], float)
    bad_idx = [names.index(c) for c in bad]
    good_idx = [i for i in range(len(names)) if names[i] not in bad]
    has_pos = np.isfinite(pos).all(axis=1) & (np.abs(pos).sum(axis=1) > 0)
    if not has_pos[bad_idx + good_idx].all():
        return False
    origin = _head_origin(info)
    m = spline_interpolation_matrix(pos[good_idx] - origin, pos[bad_idx] - origin,
                                    stiffness=float(cfg["spline_stiffness"]),
                                    n_legendre_terms=int(cfg["spline_legendre_terms"]),
                                    ridge=float(cfg["spline_ridge"]))  # fmt: skip
    data[bad_idx] = m @ data[good_idx]
    return True


def regress_ocular(
    data: np.ndarray,
    sfreq: float,
    proxies: list[int],
    *,
    l_freq_hz: float,
    blink_z: float,
    pad_s: float,
    targets: list[int] | None = None,
) -> int:
    """Remove blinks by regression on a frontopolar EOG proxy (in place); returns blinks found.

    Parameters
    ----------
    data
        Band-passed EEG, shape (n_channels, n_samples), V; corrected in place.
    sfreq
        Sampling rate, Hz.
    proxies
        Rows of ``data`` averaged into the EOG proxy (usable Fp1/Fp2).
    l_freq_hz
        The proxy is low-passed below this, Hz (blinks are slow).
    blink_z
        Samples where the proxy deviates more than this many robust SDs from its median are blinks.
    pad_s
        Blink intervals are widened by this on each side, s.
    targets
        Rows to correct (default: all); channels left bad are not touched.

    Notes
    -----
    The regressor is the proxy inside the blink intervals and zero elsewhere, so every channel —
    the proxies included — loses its blink-locked part while keeping its background EEG. Written by
    hand because MNE's regression (``EOGRegression``) needs a dedicated EOG channel, which consumer
    EEG caps lack. Regression is the default because it is fast and deterministic; ``ocular: ica``
    is the alternative for dense montages.
    """
    if not proxies:
        return 0
    eog = data[proxies].mean(axis=0)
    eog_slow = apply_fir(eog, fir_kernel(sfreq, None, l_freq_hz))
    dev = eog_slow - np.median(eog_slow)
    mad = np.median(np.abs(dev)) * 1.4826 + 1e-15  # 1.4826: MAD → SD
    blink = np.abs(dev) > blink_z * mad
    n_blinks = int(blink[0]) + int(np.count_nonzero(blink[1:] & ~blink[:-1]))
    if n_blinks == 0:
        return 0
    pad = max(1, int(round(pad_s * sfreq)))
    mask = binary_dilation(blink, structure=np.ones(2 * pad + 1, bool))
    reg = np.where(mask, dev, 0.0)
    rows = slice(None) if targets is None else targets
    beta = data[rows] @ reg / (float(reg @ reg) + 1e-30)
    data[rows] -= beta[:, None] * reg[None, :]
    return n_blinks


def preprocess(raw: mne.io.BaseRaw, cfg: dict) -> tuple[mne.io.BaseRaw, Quality]:
    """Line noise → band-pass → bad channels (interpolated) → ocular correction → re-reference.

    Parameters
    ----------
    raw
        Recording in Volts (not modified).
    cfg
        The ``eeg.preprocess`` config (see ``configs/eeg/default.yaml``).

    Returns
    -------
    clean, quality
        Cleaned EEG-only copy and its quality record.

    Raises
    ------
    EEGInputError
        All-NaN or flat data, or a band-pass edge at or above Nyquist.
    """
    q = Quality()
    sf = raw.info["sfreq"]
    name = raw.filenames[0] if raw.filenames and raw.filenames[0] else "recording"
    clean = raw.copy()
    if set(clean.get_channel_types()) != {"eeg"}:
        clean.pick("eeg")
    clean.load_data(verbose=False)
    data = clean._data  # the copy's array: every step below works on it in place
    finite = np.isfinite(data)
    if not finite.any() or np.nanstd(data) == 0:
        raise EEGInputError(f"{name}: the EEG is all NaN or flat; check the file and its units")
    if not finite.all():
        # NaN gaps would poison every filter; they are zeroed and flagged, and the windows that
        # contain them are invalidated downstream by the amplitude/NaN check
        data[~finite] = 0.0
        q.flags.append("nan_samples_zeroed")
    hp, lp = float(cfg["l_freq_hz"]), float(cfg["h_freq_hz"])
    h_trans = float(cfg["h_trans_bandwidth_hz"])
    if lp + h_trans / 2 >= sf / 2:
        raise EEGInputError(
            f"{name}: eeg.preprocess.h_freq_hz ({lp}) + half its transition band ({h_trans / 2}) "
            f"must be below Nyquist ({sf / 2} Hz) for sfreq={sf}; lower h_freq_hz"
        )
    # harmonics of the mains frequency that fall inside the pass band (or its transition) are
    # notched; the band-pass stop band already removes those above lp + h_trans
    line = float(cfg["line_freq_hz"])
    notches = np.arange(line, min(sf / 2, lp + h_trans), line)
    if len(notches):
        data[:] = mne.filter.notch_filter(data, sf, notches, verbose=False)
    data[:] = apply_fir(data, fir_kernel(sf, hp, lp, h_trans))
    # record the band as Raw.filter() would (ICA checks it); MNE locks these keys outside filter()
    with clean.info._unlock():
        clean.info["highpass"] = max(hp, float(clean.info["highpass"] or 0.0))
        clean.info["lowpass"] = min(lp, float(clean.info["lowpass"] or np.inf))
    bad = detect_bad_channels(
        data,
        sf,
        clean.ch_names,
        flat_uv=float(cfg["flat_uv"]),
        noisy_z=float(cfg["noisy_z"]),
        min_corr=float(cfg["min_corr"]),
        min_sd_spread=float(cfg["min_sd_spread"]),
        corr_sfreq_hz=float(cfg["corr_sfreq_hz"]),
    )
    q.bad_channels = bad
    if len(bad) > float(cfg["max_bad_fraction"]) * len(clean.ch_names):
        q.flags.append("too_many_bad_channels")
    elif bad:
        if not interpolate_channels(data, clean.info, list(bad), cfg):
            q.flags.append("bad_channels_not_interpolated_no_montage")
        else:
            bad = {}  # interpolated: usable from here on
    clean.info["bads"] = list(bad)
    good = [i for i, c in enumerate(clean.ch_names) if c not in bad]
    ocular = cfg["ocular"]
    if ocular == "regression":
        proxies = [clean.ch_names.index(c) for c in cfg["eog_proxies"]
                   if c in clean.ch_names and c not in bad]  # fmt: skip
        q.n_blinks = regress_ocular(
            data,
            sf,
            proxies,
            l_freq_hz=float(cfg["eog_lowpass_hz"]),
            blink_z=float(cfg["blink_z"]),
            pad_s=float(cfg["blink_pad_s"]),
            targets=good if bad else None,
        )
    elif ocular == "ica":
        ica = mne.preprocessing.ICA(
            n_components=float(cfg["ica_variance"]),
            random_state=int(cfg["seed"]),
            max_iter="auto",
            verbose=False,
        )
        ica.fit(clean, verbose=False)
        proxies = [c for c in cfg["eog_proxies"] if c in clean.ch_names]
        # |r| with the EOG proxies rather than MNE's default z-score: with the few components a
        # 32-channel cap yields, z-scores cannot reach 3 even for an obvious blink component
        idx, _ = (
            ica.find_bads_eog(
                clean,
                ch_name=proxies,
                measure="correlation",
                threshold=float(cfg["ica_eog_corr"]),
                verbose=False,
            )  # fmt: skip
            if proxies
            else ([], None)
        )
        ica.exclude = idx
        q.n_blinks = len(idx)  # with ICA: ocular components removed
        ica.apply(clean, verbose=False)
        data = clean._data
    elif ocular != "none":
        raise EEGInputError(
            f"eeg.preprocess.ocular must be regression, ica or none, got {ocular!r}"
        )
    reference = cfg["reference"]
    if reference == "average":
        # as MNE's set_eeg_reference("average"): the mean of the good channels, removed from them
        data[good] -= data[good].mean(axis=0, keepdims=True)
        with clean.info._unlock():
            clean.info["custom_ref_applied"] = mne.io.constants.FIFF.FIFFV_MNE_CUSTOM_REF_ON
    elif reference != "none":
        raise EEGInputError(f"eeg.preprocess.reference must be average or none, got {reference!r}")
    return clean, q
