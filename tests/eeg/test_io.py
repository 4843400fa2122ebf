import mne
import numpy as np
import pytest

from eeg.errors import EEGInputError
from eeg.io import normalise_channel_name, read_recording
from tests.eeg.conftest import make_raw


# MNE's BrainVision export notes that it stores float64 data as float32 (expected, harmless)
@pytest.mark.filterwarnings("ignore:Encountered data in 'double' format:RuntimeWarning")
@pytest.mark.parametrize(
    ("fmt", "ext"), [("edf", ".edf"), ("brainvision", ".vhdr"), ("eeglab", ".set"), ("fif", ".fif")]
)
def test_reader_roundtrips_mne_export(tmp_path, fmt, ext):
    raw = make_raw(duration_s=6.0, video_s=3.0)
    path = tmp_path / f"rec_raw{ext}" if fmt == "fif" else tmp_path / f"rec{ext}"
    if fmt == "fif":
        raw.save(path, verbose=False)
    else:
        mne.export.export_raw(path, raw, fmt=fmt, verbose=False)
    got = read_recording(path)
    assert got.info["sfreq"] == 250.0
    assert got.ch_names[:3] == ["Fp1", "Fp2", "F7"]
    assert "video_onset" in got.annotations.description
    assert got.get_montage() is not None
    # Volts preserved within the export's quantisation (EDF: 16 bit)
    err = np.abs(got.get_data() - raw.get_data()).max()
    assert err < 1e-2 * np.abs(raw.get_data()).max()


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
