import mne
import numpy as np
import pytest

from eeg.errors import EEGInputError
from eeg.io import normalise_channel_name, read_recording
from tests.eeg.conftest import CHANNELS, make_raw


# MNE's BrainVision export notes that it stores float64 data as float32 (expected, harmless)
@pytest.mark.filterwarnings("ignore:Encountered data in 'double' format:RuntimeWarning")
@pytest.mark.parametrize(
    ("fmt", "ext", "rel_tol"),
    [
        ("edf", ".edf", 1e-2),  # 16-bit samples
        ("bdf", ".bdf", 1e-4),  # 24-bit samples
        ("brainvision", ".vhdr", 1e-5),  # float32
        ("eeglab", ".set", 1e-5),  # float32
        ("fif", ".fif", 1e-5),  # float32 by default
    ],
)
def test_reader_roundtrips_mne_export(tmp_path, fmt, ext, rel_tol):
    raw = make_raw(duration_s=6.0, video_s=3.0)
    path = tmp_path / f"rec_raw{ext}" if fmt == "fif" else tmp_path / f"rec{ext}"
    if fmt == "fif":
        raw.save(path, verbose=False)
    else:
        mne.export.export_raw(path, raw, fmt=fmt, verbose=False)
    got = read_recording(path)
    assert got.info["sfreq"] == 250.0
    assert got.ch_names == list(CHANNELS)
    assert set(got.get_channel_types()) == {"eeg"}
    assert "video_onset" in got.annotations.description
    assert got.get_montage() is not None
    # Volts preserved within the format's quantisation (a µV/V mix-up would be off by 1e6)
    err = np.abs(got.get_data() - raw.get_data()).max()
    assert err < rel_tol * np.abs(raw.get_data()).max()


# BrainVision via mne-bids stores float64 data as float32 (expected, harmless)
@pytest.mark.filterwarnings("ignore:Encountered data in 'double' format:RuntimeWarning")
@pytest.mark.parametrize(("fmt", "ext"), [("EDF", ".edf"), ("BrainVision", ".vhdr")])
def test_reader_roundtrips_mne_bids_export(tmp_path, fmt, ext):
    import mne_bids

    raw = make_raw(duration_s=6.0, video_s=3.0)
    raw.info["line_freq"] = 50.0
    bp = mne_bids.BIDSPath(subject="01", task="ad000", datatype="eeg", root=tmp_path)
    mne_bids.write_raw_bids(raw, bp, format=fmt, allow_preload=True, verbose=False)
    path = tmp_path / "sub-01" / "eeg" / f"sub-01_task-ad000_eeg{ext}"
    assert path.with_name("sub-01_task-ad000_events.tsv").is_file()
    got = read_recording(path)
    assert got.ch_names == list(CHANNELS)
    onset = got.annotations.onset[list(got.annotations.description).index("video_onset")]
    assert abs(onset - got.first_time - 2.0) < 1 / 250  # make_raw's onset, s
    err = np.abs(got.get_data() - raw.get_data()).max()
    assert err < 1e-2 * np.abs(raw.get_data()).max()


def test_bids_events_sidecar_supplies_missing_onset(tmp_path):
    raw = make_raw(duration_s=6.0, video_s=3.0, annotate=False)
    path = tmp_path / "sub-01_task-ad000_eeg.fif"
    raw.save(path, verbose=False)
    (tmp_path / "sub-01_task-ad000_events.tsv").write_text(
        "onset\tduration\ttrial_type\n2.0\t0\tvideo_onset\n5.0\t0\tvideo_offset\n"
    )
    got = read_recording(path)
    assert list(got.annotations.description) == ["video_onset", "video_offset"]
    np.testing.assert_allclose(got.annotations.onset - got.first_time, [2.0, 5.0])


@pytest.mark.parametrize(
    ("given", "expected"),
    [("EEG FP1-REF", "Fp1"), ("fp2", "Fp2"), ("EEG Cz", "Cz"), ("FZ-A1", "Fz"), ("POz", "POz")],
)
def test_channel_names_normalised(given, expected):
    assert normalise_channel_name(given) == expected


def test_unknown_file_type(tmp_path):
    (tmp_path / "rec.xyz").write_text("x")
    with pytest.raises(EEGInputError, match=r"unknown EEG file type '\.xyz'"):
        read_recording(tmp_path / "rec.xyz")


def test_missing_file(tmp_path):
    with pytest.raises(EEGInputError, match="no such EEG file"):
        read_recording(tmp_path / "nope.edf")


def test_broken_file(tmp_path):
    (tmp_path / "bad.edf").write_bytes(b"not an edf")
    with pytest.raises(EEGInputError, match="MNE could not read it"):
        read_recording(tmp_path / "bad.edf")
