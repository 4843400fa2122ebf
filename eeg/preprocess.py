"""Clean a recording: line noise, band-pass, bad channels, ocular correction, re-reference.

Every parameter comes from the ``eeg.preprocess`` config; :func:`preprocess` returns the cleaned Raw
and a :class:`Quality` record that flows downstream (bad channels and why, blinks found, flags).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import mne
import numpy as np
from scipy.ndimage import binary_dilation, label

from eeg.errors import EEGInputError


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


def regress_ocular(
    raw: mne.io.BaseRaw, proxies: list[str], *, l_freq_hz: float, blink_z: float, pad_s: float
) -> int:
    """Remove blinks by regression on a frontopolar EOG proxy (in place); returns blinks found.

    The proxy is the mean of ``proxies`` low-passed below ``l_freq_hz`` (blinks are slow). Samples
    where it deviates more than ``blink_z`` robust SDs from its median (dilated by ``pad_s``) are
    blink intervals; the regressor is the proxy inside them and zero elsewhere, so every channel —
    the proxies included — loses its blink-locked part while keeping its background EEG. Written by
    hand because MNE's regression (``EOGRegression``) needs a dedicated EOG channel, which consumer
    EEG caps lack. Regression is the default because it is fast and deterministic; ``ocular: ica``
    is the alternative for dense montages.
    """
    present = [c for c in proxies if c in raw.ch_names and c not in raw.info["bads"]]
    if not present:
        return 0
    sf = raw.info["sfreq"]
    eog = raw.get_data(picks=present).mean(axis=0)
    eog_slow = mne.filter.filter_data(eog, sf, None, l_freq_hz, verbose=False)
    dev = eog_slow - np.median(eog_slow)
    mad = np.median(np.abs(dev)) * 1.4826 + 1e-15
    blink = np.abs(dev) > blink_z * mad
    n_blinks = int(label(blink)[1])
    if n_blinks == 0:
        return 0
    mask = binary_dilation(blink, iterations=max(1, int(round(pad_s * sf))))
    reg = np.where(mask, dev, 0.0)
    picks = mne.pick_types(raw.info, eeg=True)
    data = raw._data  # in place on the preloaded copy made by preprocess()
    beta = data[picks] @ reg / (float(reg @ reg) + 1e-30)
    data[picks] -= beta[:, None] * reg[None, :]
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
    raw = raw.copy().pick("eeg").load_data(verbose=False)
    data = raw._data
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
        raw.notch_filter(notches, verbose=False)
    raw.filter(hp, lp, h_trans_bandwidth=h_trans, verbose=False)
    bad = detect_bad_channels(
        raw._data,
        sf,
        raw.ch_names,
        flat_uv=float(cfg["flat_uv"]),
        noisy_z=float(cfg["noisy_z"]),
        min_corr=float(cfg["min_corr"]),
        min_sd_spread=float(cfg["min_sd_spread"]),
        corr_sfreq_hz=float(cfg["corr_sfreq_hz"]),
    )
    q.bad_channels = bad
    raw.info["bads"] = list(bad)
    if len(bad) > float(cfg["max_bad_fraction"]) * len(raw.ch_names):
        q.flags.append("too_many_bad_channels")
    elif bad:
        if raw.get_montage() is None:
            q.flags.append("bad_channels_not_interpolated_no_montage")
        else:
            raw.interpolate_bads(reset_bads=True, verbose=False)
    ocular = cfg["ocular"]
    if ocular == "regression":
        q.n_blinks = regress_ocular(
            raw,
            list(cfg["eog_proxies"]),
            l_freq_hz=float(cfg["eog_lowpass_hz"]),
            blink_z=float(cfg["blink_z"]),
            pad_s=float(cfg["blink_pad_s"]),
        )
    elif ocular == "ica":
        ica = mne.preprocessing.ICA(
            n_components=float(cfg["ica_variance"]),
            random_state=int(cfg["seed"]),
            max_iter="auto",
            verbose=False,
        )
        ica.fit(raw, verbose=False)
        proxies = [c for c in cfg["eog_proxies"] if c in raw.ch_names]
        # |r| with the EOG proxies rather than MNE's default z-score: with the few components a
        # 32-channel cap yields, z-scores cannot reach 3 even for an obvious blink component
        idx, _ = (
            ica.find_bads_eog(
                raw,
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
        ica.apply(raw, verbose=False)
    elif ocular != "none":
        raise EEGInputError(
            f"eeg.preprocess.ocular must be regression, ica or none, got {ocular!r}"
        )
    reference = cfg["reference"]
    if reference == "average":
        raw.set_eeg_reference("average", projection=False, verbose=False)
    elif reference != "none":
        raise EEGInputError(f"eeg.preprocess.reference must be average or none, got {reference!r}")
    return raw, q
