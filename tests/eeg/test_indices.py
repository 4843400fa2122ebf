import numpy as np
import pytest
from scipy.stats import spearmanr

from eeg.errors import EEGInputError
from eeg.indices import (
    AROUSAL_INDICES,
    EMOTION_INDICES,
    ENGAGEMENT_INDICES,
    frontal_alpha_asymmetry,
    pope_engagement,
    relative_band_powers,
    sliding_band_powers,
)
from eeg.preprocess import preprocess
from eeg.sync import find_video_sync
from tests.eeg.conftest import CHANNELS, make_raw

RNG = np.random.default_rng(11)
ENG = RNG.uniform(0.0, 2.0, 20)
VAL = RNG.uniform(-2.0, 2.0, 20)


@pytest.fixture(scope="module")
def powers():
    from omegaconf import OmegaConf

    from hmllm.paths import config_dir

    cfg = OmegaConf.to_container(OmegaConf.load(config_dir() / "eeg" / "default.yaml"))
    raw = make_raw(engagement=ENG, valence=VAL, blinks=True, line_uv=20.0, seed=3)
    clean, _ = preprocess(raw, cfg["preprocess"])
    centres = find_video_sync(raw, 20.0).to_recording_time(np.arange(20) + 0.5)
    _, p = sliding_band_powers(clean.get_data(), 250.0, window_s=2.0, step_s=1.0, centres_s=centres)
    return p, cfg["indices"]


def test_pope_engagement_tracks_latent(powers):
    p, ix = powers
    rho = spearmanr(pope_engagement(p, CHANNELS, ix["engagement_channels"]), ENG).statistic
    assert rho > 0.7


def test_faa_tracks_valence_with_sign(powers):
    p, ix = powers
    rho = spearmanr(frontal_alpha_asymmetry(p, CHANNELS, ix["asymmetry_pairs"]), VAL).statistic
    assert rho > 0.7


@pytest.mark.parametrize(
    ("registry", "key"),
    [(ENGAGEMENT_INDICES, "engagement_channels"), (EMOTION_INDICES, "asymmetry_pairs"),
     (AROUSAL_INDICES, "arousal_channels")],
)  # fmt: skip
def test_every_registered_index_is_finite(powers, registry, key):
    p, ix = powers
    for name, fn in registry.items():
        v = fn(p, CHANNELS, ix[key])
        assert v.shape == (20,), name
        assert np.isfinite(v).all(), name


def test_band_power_of_a_sine():
    sf = 250.0
    t = np.arange(int(10 * sf)) / sf
    x = (10e-6 * np.sin(2 * np.pi * 10 * t))[None]  # 10 µV amplitude alpha
    _, p = sliding_band_powers(x, sf, window_s=2.0, step_s=1.0)
    np.testing.assert_allclose(p["alpha"][:, 0], (10e-6) ** 2 / 2, rtol=0.05)  # V² = A²/2
    assert (p["beta"][:, 0] < 0.01 * p["alpha"][:, 0]).all()


def test_relative_band_powers_sum_to_one(powers):
    p, _ = powers
    rel = relative_band_powers(p, CHANNELS)
    total = sum(v for k, v in rel.items() if k.endswith("_frontal"))
    np.testing.assert_allclose(total, 1.0)
    assert {"bp_gamma_occipital", "bp_delta_temporal"} <= set(rel)


def test_missing_frontal_channels_for_asymmetry(powers):
    p, ix = powers
    names = [
        c if c not in ("F3", "F4", "F7", "F8", "FC5", "FC6") else f"X{i}"
        for i, c in enumerate(CHANNELS)
    ]
    with pytest.raises(
        EEGInputError, match="frontal alpha asymmetry needs at least one of the pairs"
    ):
        frontal_alpha_asymmetry(p, names, ix["asymmetry_pairs"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"sfreq": 0.0}, "sfreq must be positive", id="zero-sfreq"),
        pytest.param({"sfreq": -250.0}, "sfreq must be positive", id="negative-sfreq"),
        pytest.param({"sfreq": float("nan")}, "sfreq must be positive", id="nan-sfreq"),
        pytest.param({"window_s": 20.0}, "shorter than one 20.0 s window", id="too-short"),
    ],
)
def test_bad_window_arguments(kwargs, match):
    args = {"sfreq": 250.0, "window_s": 2.0, "step_s": 1.0, **kwargs}
    with pytest.raises(EEGInputError, match=match):
        sliding_band_powers(np.zeros((2, 2500)), **args)


@pytest.mark.parametrize(("sfreq", "window_s", "step_s"), [(250.0, 2.0, 1.0), (255.0, 3.0, 0.5)])
def test_band_powers_equal_scipy_welch_per_window(sfreq, window_s, step_s):
    from scipy.signal import welch

    from eeg.indices import BANDS_HZ

    x = np.random.default_rng(1).standard_normal((3, int(30 * sfreq))) * 1e-5
    centres = np.arange(20) * 1.0002 + 3.3  # drift-corrected centres fall between samples
    got_c, got = sliding_band_powers(x, sfreq, window_s=window_s, step_s=step_s, centres_s=centres)
    win, nper = int(round(window_s * sfreq)), int(round(sfreq))
    starts = np.round(got_c * sfreq - win / 2).astype(int)
    segs = np.stack([x[:, s : s + win] for s in starts])
    f, pxx = welch(segs, fs=sfreq, nperseg=nper, noverlap=nper // 2, axis=-1)
    for band, (lo, hi) in BANDS_HZ.items():
        want = pxx[..., (f >= lo) & (f < hi)].sum(-1) * (f[1] - f[0])
        np.testing.assert_allclose(got[band], want, rtol=1e-10, err_msg=band)
