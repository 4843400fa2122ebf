import mne
import numpy as np
import pytest

from eeg.errors import EEGInputError
from eeg.sync import find_video_sync
from tests.eeg.conftest import make_raw


def test_onset_and_offset_from_annotations():
    raw = make_raw(duration_s=10.0, onset_s=1.5, video_s=6.0)
    s = find_video_sync(raw, 6.0)
    assert s.onset_s == pytest.approx(1.5)
    assert s.drift == pytest.approx(1.0)


def test_clock_drift_corrected():
    raw = make_raw(duration_s=12.0, annotate=False)
    # the recording clock runs 0.2 % fast: the 8 s video spans 8.016 s of recording time
    raw.set_annotations(mne.Annotations([2.0, 10.016], [0, 0], ["video_onset", "video_offset"]))
    s = find_video_sync(raw, 8.0)
    assert s.drift == pytest.approx(1.002)
    np.testing.assert_allclose(s.to_recording_time([0.0, 4.0]), [2.0, 6.008])


def test_onset_from_stim_channel():
    raw = make_raw(duration_s=8.0, annotate=False)
    stim = np.zeros((1, raw.n_times))
    stim[0, 500:510] = 1  # code 1 at 2.0 s
    raw.add_channels(
        [mne.io.RawArray(stim, mne.create_info(["STI 014"], 250.0, "stim"), verbose=False)]
    )
    s = find_video_sync(raw, 4.0, stim_channel="STI 014")
    assert s.onset_s == pytest.approx(2.0)


def test_no_trigger_raises():
    raw = make_raw(duration_s=8.0, annotate=False)
    with pytest.raises(EEGInputError, match="no video onset found"):
        find_video_sync(raw, 4.0)


def test_recording_shorter_than_ad_raises():
    raw = make_raw(duration_s=8.0, onset_s=2.0, video_s=5.0, annotate=False)
    raw.set_annotations(mne.Annotations([2.0], [0], ["video_onset"]))
    with pytest.raises(EEGInputError, match="recording shorter than the ad"):
        find_video_sync(raw, 10.0)


def test_offset_inconsistent_with_video_raises():
    raw = make_raw(duration_s=12.0, onset_s=1.0, video_s=8.0)
    with pytest.raises(EEGInputError, match="triggers are not synchronised with this ad"):
        find_video_sync(raw, 5.0)
