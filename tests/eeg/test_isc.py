import numpy as np
import pandas as pd
import pytest

from eeg.errors import EEGInputError
from eeg.isc import ad_covariances, ad_isc, correlated_components, isc, isc_windows


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


def _ad_viewers(n_sub=4, n_sec=12, fs=100.0, shared_until_s=6.0, seed=0):
    """Video-locked viewers whose first ``shared_until_s`` seconds share one stimulus-driven source."""
    rng = np.random.default_rng(seed)
    n_t = int(n_sec * fs)
    stim = rng.standard_normal(n_t) * (np.arange(n_t) < shared_until_s * fs)
    topo = rng.standard_normal(6)
    names = ["Fz", "Cz", "Pz", "Oz", "C3", "C4"]
    return [{"data": (2 * np.outer(topo, stim) + rng.standard_normal((6, n_t))).astype(np.float32) * 1e-5,
             "ch_names": names, "valid": np.ones(n_sec, bool)} for _ in range(n_sub)]  # fmt: skip


SHOTS = pd.DataFrame(
    {"shot": [0, 1, 2], "onset_s": [0.0, 6.0, 11.5], "offset_s": [6.0, 11.5, 12.0]}
)
CHANS = ["Fz", "Cz", "Pz", "Oz", "C3", "C4"]
ISC_ARGS = {"window_s": 2.0, "min_viewers": 2, "min_shot_s": 1.0, "min_valid_fraction": 0.5}


def _weights(viewers):
    rw, rb, _ = ad_covariances(viewers, 100.0, CHANS)
    return correlated_components(rw, rb, n_components=1, shrinkage=0.5)


def test_ad_isc_per_second_and_shot_follow_the_shared_source():
    viewers = _ad_viewers()
    out = ad_isc(viewers, 100.0, SHOTS, _weights(viewers), CHANS, **ISC_ARGS)
    sec = out[out["second"].notna()].set_index("second")
    assert list(sec.index) == list(range(12))
    assert sec.loc[:4, "value"].min() > 0.5 > 0.2 > sec.loc[7:, "value"].max()
    shot = out[out["shot"].notna()].set_index("shot")
    assert shot.loc[0, "value"] > 0.5 > 0.2 > shot.loc[1, "value"]
    assert (out["index"] == "isc").all() and (out["n_viewers"][~out["missing"]] == 4).all()


def test_ad_isc_marks_short_shots_and_lone_viewers_missing():
    viewers = _ad_viewers()
    out = ad_isc(viewers, 100.0, SHOTS, _weights(viewers), CHANS, **ISC_ARGS)
    s2 = out[out["shot"] == 2].iloc[0]
    assert s2["missing"] and np.isnan(s2["value"])  # 0.5 s shot: too short for a correlation
    lone = ad_isc(_ad_viewers(n_sub=1), 100.0, SHOTS, _weights(viewers), CHANS, **ISC_ARGS)
    assert lone["missing"].all() and lone["value"].isna().all()
    assert (lone["n_viewers"] == 1).all()


def test_ad_isc_drops_viewers_rejected_seconds():
    viewers = _ad_viewers()
    viewers[0]["valid"][3] = False
    viewers[0]["data"][:, 300:400] = 1.0  # a huge artefact in that second
    out = ad_isc(viewers, 100.0, SHOTS, _weights(viewers), CHANS, **ISC_ARGS)
    sec = out[out["second"].notna()].set_index("second")
    assert sec.loc[3, "n_viewers"] == 3
    assert sec.loc[3, "value"] > 0.5  # the artefact did not swamp the others
    shot0 = out[out["shot"] == 0].iloc[0]
    assert shot0["n_viewers"] == 4  # 5 of 6 seconds valid >= min_valid_fraction


def test_ad_isc_without_components_is_all_missing():
    out = ad_isc(_ad_viewers(), 100.0, SHOTS, None, CHANS, **ISC_ARGS)
    assert out["missing"].all() and out["value"].isna().all()
    assert (out.loc[out["second"].notna(), "n_viewers"] == 4).all()
