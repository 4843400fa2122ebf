import warnings

import numpy as np
import pytest
from scipy.signal import welch

from eeg.errors import EEGInputError
from eeg.preprocess import apply_fir, fir_kernel, interpolate_channels, preprocess
from tests.eeg.conftest import CHANNELS, make_raw


def _power(data, sfreq, lo, hi):
    f, p = welch(data, fs=sfreq, nperseg=int(sfreq), axis=-1)
    return p[..., (f >= lo) & (f <= hi)].sum(-1)


def test_noisy_channel_detected_and_interpolated(eeg_cfg):
    raw = make_raw(bad_channel="T7", blinks=True, seed=1)
    clean, q = preprocess(raw, eeg_cfg["preprocess"])
    assert q.bad_channels == {"T7": "noisy"}
    i = CHANNELS.index("T7")
    # interpolated from neighbours: back to the scale of the other channels
    assert clean.get_data()[i].std() < 3 * np.median(clean.get_data().std(axis=1))


def test_flat_channel_detected(eeg_cfg):
    raw = make_raw(seed=2)
    raw._data[CHANNELS.index("O2")] = 0.0
    _, q = preprocess(raw, eeg_cfg["preprocess"])
    assert q.bad_channels == {"O2": "flat"}


def test_uncorrelated_channel_detected(eeg_cfg):
    raw = make_raw(seed=3)
    rng = np.random.default_rng(0)
    i = CHANNELS.index("Pz")
    # same amplitude as its neighbours but unrelated to them (a loose electrode picking up noise)
    raw._data[i] = rng.standard_normal(raw.n_times) * raw._data[i].std()
    _, q = preprocess(raw, eeg_cfg["preprocess"])
    assert q.bad_channels == {"Pz": "uncorrelated"}


def test_blinks_removed_by_regression(eeg_cfg):
    raw = make_raw(blinks=True, seed=4)
    clean, q = preprocess(raw, eeg_cfg["preprocess"])
    assert 5 <= q.n_blinks <= 8  # one blink every 3 s from 3 s to 23 s
    fp1 = CHANNELS.index("Fp1")
    before = raw.copy().filter(1, 45, verbose=False).get_data()[fp1]
    after = clean.get_data()[fp1]
    assert np.ptp(after) < 0.3 * np.ptp(before)
    assert not q.bad_channels  # blinks do not make frontal channels "bad"


def test_line_noise_removed(eeg_cfg):
    raw = make_raw(line_uv=40.0, seed=5)
    clean, _ = preprocess(raw, eeg_cfg["preprocess"])
    before = _power(raw.get_data(), 250.0, 49, 51).mean()
    after = _power(clean.get_data(), 250.0, 49, 51).mean()
    assert after < 1e-3 * before


def test_line_noise_60hz_notched_when_in_band(eeg_cfg):
    cfg = {**eeg_cfg["preprocess"], "line_freq_hz": 60.0, "h_freq_hz": 70.0}
    raw = make_raw(seed=6)
    t = raw.times
    raw._data += 40e-6 * np.sin(2 * np.pi * 60 * t)
    clean, _ = preprocess(raw, cfg)
    assert (
        _power(clean.get_data(), 250.0, 59, 61).mean()
        < 1e-2 * _power(raw.get_data(), 250.0, 59, 61).mean()
    )


@pytest.mark.slow  # FastICA on 32 channels: tens of seconds on a shared 2-core machine
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # short test data
def test_ica_alternative_runs(eeg_cfg):
    cfg = {**eeg_cfg["preprocess"], "ocular": "ica", "ica_variance": 0.95}
    raw = make_raw(blinks=True, seed=7, duration_s=20.0, video_s=16.0)
    clean, q = preprocess(raw, cfg)
    fp1 = CHANNELS.index("Fp1")
    assert q.n_blinks >= 1
    assert np.ptp(clean.get_data()[fp1]) < 0.5 * np.ptp(raw.get_data()[fp1])


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        pytest.param(lambda r: r._data.fill(np.nan), "all NaN or flat", id="all-nan"),
        pytest.param(lambda r: r._data.fill(0.0), "all NaN or flat", id="flat"),
    ],
)
def test_unusable_data_raises(eeg_cfg, mutate, match):
    raw = make_raw(duration_s=6.0, video_s=3.0)
    mutate(raw)
    with pytest.raises(EEGInputError, match=match):
        preprocess(raw, eeg_cfg["preprocess"])


def test_lowpass_above_nyquist_raises(eeg_cfg):
    raw = make_raw(sfreq=90.0, duration_s=8.0, video_s=4.0)
    with pytest.raises(EEGInputError, match=r"below Nyquist \(45.0 Hz\) for sfreq=90.0"):
        preprocess(raw, eeg_cfg["preprocess"])


def test_unknown_ocular_method_raises(eeg_cfg):
    raw = make_raw(duration_s=6.0, video_s=3.0)
    with pytest.raises(EEGInputError, match="ocular must be regression, ica or none, got 'pca'"):
        preprocess(raw, {**eeg_cfg["preprocess"], "ocular": "pca"})


@pytest.mark.parametrize(
    ("l_freq", "h_freq", "n"),
    [(1.0, 45.0, 6000), (None, 4.0, 6000), (1.0, 45.0, 300)],
    ids=["band-pass", "low-pass", "shorter-than-kernel"],
)
def test_apply_fir_equals_mne_filter_data(l_freq, h_freq, n):
    import mne

    x = np.random.default_rng(0).standard_normal((3, n)) * 1e-5
    h = fir_kernel(250.0, l_freq, h_freq)
    with warnings.catch_warnings():  # MNE warns when the kernel is longer than the signal
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = mne.filter.filter_data(x, 250.0, l_freq, h_freq, verbose=False)
    np.testing.assert_allclose(apply_fir(x, h), ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def test_spline_interpolation_equals_mne_interpolate_bads(eeg_cfg):
    raw = make_raw(duration_s=6.0, video_s=3.0, seed=8)
    bads = ["T7", "Pz", "Fp1"]
    data = raw.get_data()
    assert interpolate_channels(data, raw.info, bads, eeg_cfg["preprocess"])
    ref = raw.copy()
    ref.info["bads"] = bads
    ref.interpolate_bads(reset_bads=True, verbose=False)
    np.testing.assert_allclose(data, ref.get_data(), rtol=0, atol=1e-9 * np.abs(data).max())


def test_bad_channel_without_position_is_flagged_not_interpolated(eeg_cfg):
    raw = make_raw(bad_channel="T7", seed=9)
    raw.set_montage(None)
    clean, q = preprocess(raw, eeg_cfg["preprocess"])
    assert q.bad_channels == {"T7": "noisy"}
    assert "bad_channels_not_interpolated_no_montage" in q.flags
    assert clean.info["bads"] == ["T7"]
