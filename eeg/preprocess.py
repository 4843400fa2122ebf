"""Clean a recording: notch, band-pass, bad channels, ocular regression, re-reference.

Every parameter comes from the ``eeg.preprocess`` config; the function returns the cleaned Raw and
a quality record that flows downstream (bad channels and why, blink count).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import mne
import numpy as np

from eeg.errors import EEGInputError


@dataclass
class Quality:
    """Per-recording quality: what was found and removed. Times in seconds."""

    bad_channels: dict[str, str] = field(default_factory=dict)  # channel -> flat | noisy | uncorrelated
    n_blinks: int = 0
    flags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain dict."""
        return asdict(self)


def detect_bad_channels(data: np.ndarray, names: list[str], *, flat_uv: float, noisy_z: float,
                        min_corr: float) -> dict[str, str]:  # fmt: skip
    """Flat (SD below ``flat_uv``), noisy (robust z of log SD above ``noisy_z``) and poorly
    correlated (even its best-correlated other channel has |r| below ``min_corr``) channels.

    Volume conduction makes every good scalp channel correlate with its neighbours; a channel that
    correlates with nothing is recording something else. ``data`` in Volts.
    """
    sd = data.std(axis=1)
    bad: dict[str, str] = {}
    for i in np.flatnonzero(sd < flat_uv * 1e-6):
        bad[names[i]] = "flat"
    log_sd = np.log(sd + 1e-15)
    ok = [i for i in range(len(names)) if names[i] not in bad]
    med = np.median(log_sd[ok])
    mad = np.median(np.abs(log_sd[ok] - med)) * 1.4826 + 1e-9
    for i in ok:
        if (log_sd[i] - med) / mad > noisy_z:
            bad[names[i]] = "noisy"
    ok = [i for i in range(len(names)) if names[i] not in bad]
    if len(ok) > 2:
        r = np.abs(np.corrcoef(data[ok]))
        np.fill_diagonal(r, np.nan)
        best_r = np.nanmax(r, axis=1)
        for j, i in enumerate(ok):
            if best_r[j] < min_corr:
                bad[names[i]] = "uncorrelated"
    return bad


def regress_ocular(raw: mne.io.BaseRaw, proxies: list[str], l_freq_hz: float) -> int:
    """Remove blink activity by regression on frontopolar EOG proxies (in place).

    The proxy is the mean of ``proxies`` low-passed below ``l_freq_hz`` (blinks are slow); each
    other channel's least-squares projection onto it is subtracted. Returns the number of blinks
    MNE's EOG detector finds on the proxy. Regression is the default because it is fast and
    deterministic; ICA (``ocular: ica``) is the alternative for dense montages.
    """
    present = [c for c in proxies if c in raw.ch_names and c not in raw.info["bads"]]
    if not present:
        return 0
    sf = raw.info["sfreq"]
    eog = raw.get_data(picks=present).mean(axis=0)
    eog_slow = mne.filter.filter_data(eog, sf, None, l_freq_hz, verbose=False)
    data = raw._data
    picks = mne.pick_types(raw.info, eeg=True, exclude=[*present])
    denom = float(eog_slow @ eog_slow) + 1e-30
    beta = data[picks] @ eog_slow / denom
    data[picks] -= beta[:, None] * eog_slow[None, :]
    try:
        events = mne.preprocessing.find_eog_events(raw, ch_name=present[0], verbose=False)
        return len(events)
    except (RuntimeError, ValueError):
        return 0


def preprocess(raw: mne.io.BaseRaw, cfg: dict) -> tuple[mne.io.BaseRaw, Quality]:
    """Notch → band-pass → bad channels (interpolated) → ocular correction → re-reference.

    Raises
    ------
    EEGInputError
        All-NaN or flat data, or a band-pass edge above Nyquist.
    """
    q = Quality()
    sf = raw.info["sfreq"]
    name = raw.filenames[0] if raw.filenames and raw.filenames[0] else "recording"
    raw = raw.copy().pick("eeg").load_data(verbose=False)
    data = raw.get_data()
    if not np.isfinite(data).any() or np.nanstd(data) == 0:
        raise EEGInputError(f"{name}: the EEG is all NaN or flat; check the file and its units")
    if not np.isfinite(data).all():
        raw._data = np.nan_to_num(data)
        q.flags.append("nan_samples_zeroed")
    hp, lp = float(cfg["l_freq_hz"]), float(cfg["h_freq_hz"])
    if lp >= sf / 2:
        raise EEGInputError(f"{name}: h_freq_hz must be below Nyquist ({sf / 2} Hz) for sfreq={sf}, got {lp}")
    line = float(cfg["line_freq_hz"])
    notches = np.arange(line, sf / 2, line)
    if len(notches):
        raw.notch_filter(notches, verbose=False)
    raw.filter(hp, lp, verbose=False)
    bad = detect_bad_channels(raw.get_data(), raw.ch_names, flat_uv=float(cfg["flat_uv"]),
                              noisy_z=float(cfg["noisy_z"]), min_corr=float(cfg["min_corr"]))  # fmt: skip
    q.bad_channels = bad
    raw.info["bads"] = list(bad)
    if len(bad) > float(cfg["max_bad_fraction"]) * len(raw.ch_names):
        q.flags.append("too_many_bad_channels")
    elif bad and raw.get_montage() is not None:
        raw.interpolate_bads(reset_bads=True, verbose=False)
    if cfg["ocular"] == "regression":
        q.n_blinks = regress_ocular(raw, list(cfg["eog_proxies"]), float(cfg["eog_lowpass_hz"]))
    elif cfg["ocular"] == "ica":
        ica = mne.preprocessing.ICA(n_components=float(cfg["ica_variance"]), random_state=int(cfg["seed"]),
                                    max_iter="auto", verbose=False)  # fmt: skip
        ica.fit(raw, verbose=False)
        proxies = [c for c in cfg["eog_proxies"] if c in raw.ch_names]
        idx, _ = ica.find_bads_eog(raw, ch_name=proxies, verbose=False) if proxies else ([], None)
        ica.exclude = idx
        ica.apply(raw, verbose=False)
    if cfg["reference"] == "average":
        raw.set_eeg_reference("average", projection=False, verbose=False)
    return raw, q
