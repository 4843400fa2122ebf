import numpy as np
import pytest

from eeg.errors import EEGInputError
from eeg.isc import isc, isc_windows


def _viewers(n_sub=5, n_ch=8, n_t=2000, shared_gain=1.0, seed=0):
    rng = np.random.default_rng(seed)
    stim = rng.standard_normal(n_t)  # the ad drives one source the same way in every viewer
    topo = rng.standard_normal(n_ch)
    return np.stack([shared_gain * np.outer(topo, stim) + rng.standard_normal((n_ch, n_t))
                     for _ in range(n_sub)]) * 1e-5  # fmt: skip


def test_isc_finds_the_shared_source():
    vals, w = isc(_viewers(shared_gain=1.0), n_components=2)
    assert vals[0] > 0.5
    assert abs(vals[1]) < 0.1
    assert w.shape == (8, 2)


def test_isc_near_zero_without_shared_source():
    vals, _ = isc(_viewers(shared_gain=0.0), n_components=1)
    assert vals[0] < 0.1


def test_isc_windows_follow_engagement():
    data = _viewers(n_t=4000)
    data[:, :, 2000:] = np.random.default_rng(1).standard_normal(data[:, :, 2000:].shape) * 1e-5
    _, w = isc(data[:, :, :2000], n_components=1)
    centres, v = isc_windows(data, 250.0, w, window_s=2.0, step_s=1.0)
    assert v[centres < 7].mean() > 0.5 > v[centres > 10].mean()


def test_isc_needs_two_viewers():
    with pytest.raises(EEGInputError, match="n_subjects >= 2"):
        isc(np.zeros((1, 4, 100)))
