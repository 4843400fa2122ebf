"""Read EEG recordings with MNE, normalise channel names to 10–20 labels, attach a montage."""

from __future__ import annotations

import functools
import re
import warnings
from pathlib import Path

import mne
import numpy as np

from eeg.errors import EEGInputError

READERS = {
    ".edf": mne.io.read_raw_edf,
    ".bdf": mne.io.read_raw_bdf,
    ".vhdr": mne.io.read_raw_brainvision,
    ".fif": mne.io.read_raw_fif,
    ".set": mne.io.read_raw_eeglab,
}
MONTAGE = "colin27_1005"  # MNE 1.13 name of standard_1005
STANDARD = {c.lower(): c for c in mne.channels.make_standard_montage(MONTAGE).ch_names}


@functools.lru_cache(maxsize=1)
def _standard_montage() -> mne.channels.DigMontage:
    """The standard montage, built once (``set_montage`` copies it)."""
    return mne.channels.make_standard_montage(MONTAGE)


def normalise_channel_name(name: str) -> str:
    """Map vendor spellings (``EEG FP1-REF``, ``fp1``, ``FP1-A1``) onto 10–20 labels (``Fp1``)."""
    n = re.sub(r"^(EEG|eeg)[ _-]*", "", name.strip())
    n = (
        re.sub(r"[-_ ]?(REF|Ref|ref|A1|A2|M1|M2|LE|AVG|Cz)$", "", n)
        if n.lower() not in STANDARD
        else n
    )
    return STANDARD.get(n.lower(), name.strip())


def _strip_marker_types(raw: mne.io.BaseRaw) -> None:
    """Drop BrainVision's ``Comment/`` marker-type prefix (``Comment/video_onset``).

    Comment markers then read the same as EDF/FIF annotations; ``Stimulus/S  1`` stays as is.
    """
    desc = [
        d.split("/", 1)[1] if d.startswith("Comment/") else d for d in raw.annotations.description
    ]
    if list(desc) != list(raw.annotations.description):
        a = raw.annotations
        raw.set_annotations(mne.Annotations(a.onset, a.duration, desc, orig_time=a.orig_time))


def _add_bids_events(raw: mne.io.BaseRaw, path: Path) -> None:
    """Merge a BIDS ``*_events.tsv`` sibling into the annotations.

    BIDS keeps events there, and some writers put none in the data file itself.
    """
    stem = re.sub(r"_eeg$", "", path.stem)
    events = path.with_name(f"{stem}_events.tsv")
    if not events.is_file():
        return
    import pandas as pd

    ev = pd.read_csv(events, sep="\t", na_values=["n/a"])
    if not {"onset", "trial_type"} <= set(ev.columns):
        return
    have = set(raw.annotations.description)
    ev = ev[~ev["trial_type"].isin(have) & ev["onset"].notna()]
    if len(ev):
        dur = ev["duration"].fillna(0).to_numpy() if "duration" in ev else [0.0] * len(ev)
        raw.set_annotations(raw.annotations + mne.Annotations(
            ev["onset"].to_numpy(float) + raw.first_time, dur, ev["trial_type"].astype(str).tolist(),
            orig_time=raw.annotations.orig_time))  # fmt: skip


def read_recording(path: str | Path, *, preload: bool = True) -> mne.io.BaseRaw:
    """Read one recording (EDF, BDF, BrainVision, FIF, EEGLAB .set) into MNE, in Volts.

    Channel names are normalised to 10–20 labels and a standard montage is attached where the labels
    are known (needed for interpolation).

    Raises
    ------
    EEGInputError
        Unknown extension, unreadable file, no EEG channels, or a non-positive sampling rate.
    """
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise EEGInputError(
            f"{path.name}: unknown EEG file type {path.suffix!r}; supported: {sorted(READERS)}"
        )
    if not path.is_file():
        raise EEGInputError(f"{path}: no such EEG file")
    try:
        with warnings.catch_warnings():
            # EEGLAB files may carry electrode positions in unexpected units; they are replaced
            # by the standard montage below, so MNE's head-size check on them does not matter
            warnings.filterwarnings("ignore", "Estimated head radius", RuntimeWarning)
            raw = reader(path, preload=preload, verbose=False)
    except Exception as exc:  # noqa: BLE001 - MNE raises many types for broken files
        raise EEGInputError(
            f"{path.name}: MNE could not read it ({type(exc).__name__}: {exc})"
        ) from None
    if not np.isfinite(raw.info["sfreq"]) or raw.info["sfreq"] <= 0:
        raise EEGInputError(f"{path.name}: missing or invalid sampling rate ({raw.info['sfreq']})")
    _strip_marker_types(raw)
    _add_bids_events(raw, path)
    mapping = {ch: normalise_channel_name(ch) for ch in raw.ch_names}
    if len(set(mapping.values())) == len(mapping):
        raw.rename_channels(mapping, verbose=False)
    picks = mne.pick_types(raw.info, eeg=True)
    if len(picks) == 0:
        raise EEGInputError(f"{path.name}: no EEG channels")
    known = [c for c in raw.ch_names if c.lower() in STANDARD]
    if known:
        raw.set_montage(_standard_montage(), on_missing="ignore", verbose=False)
    return raw
