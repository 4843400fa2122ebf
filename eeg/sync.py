"""Synchronise an EEG recording to the video: onset, offset and clock drift."""

from __future__ import annotations

from dataclasses import dataclass

import mne
import numpy as np

from eeg.errors import EEGInputError


@dataclass(frozen=True)
class VideoSync:
    """Where the video sits in the recording (seconds from the recording's first sample).

    ``drift`` is the recording clock's rate relative to the video clock (1.0 = no drift); video time
    t maps to recording time ``onset_s + t * drift``.
    """

    onset_s: float
    offset_s: float | None
    drift: float

    def to_recording_time(self, t_video_s: np.ndarray) -> np.ndarray:
        """Recording times (s) of video times (s)."""
        return self.onset_s + np.asarray(t_video_s) * self.drift


def find_video_sync(raw: mne.io.BaseRaw, video_duration_s: float, *, onset: str = "video_onset",
                    offset: str = "video_offset", stim_channel: str | None = None,
                    max_drift: float = 0.005) -> VideoSync:  # fmt: skip
    """Locate the video onset (annotation or stim channel) and correct drift from the offset marker.

    Raises
    ------
    EEGInputError
        No usable onset, or the recording ends before the video does — reported, never guessed.
    """
    name = raw.filenames[0] if raw.filenames and raw.filenames[0] else "recording"
    on = [a["onset"] - raw.first_time for a in raw.annotations if a["description"] == onset]
    off = [a["onset"] - raw.first_time for a in raw.annotations if a["description"] == offset]
    if not on and stim_channel and stim_channel in raw.ch_names:
        events = mne.find_events(raw, stim_channel=stim_channel, verbose=False)
        codes = events[events[:, 2] == 1]
        on = [float(codes[0, 0] - raw.first_samp) / raw.info["sfreq"]] if len(codes) else []
    if not on:
        raise EEGInputError(
            f"{name}: no video onset found (annotation {onset!r}"
            + (f" or code 1 on {stim_channel!r}" if stim_channel else "")
            + "); add the trigger to the recording or set eeg.sync.onset_annotation"
        )
    onset_s = float(on[0])
    drift = 1.0
    offset_s = None
    if off:
        offset_s = float(off[0])
        measured = (offset_s - onset_s) / video_duration_s
        if abs(measured - 1) <= max_drift:
            drift = measured
        else:
            raise EEGInputError(
                f"{name}: onset/offset markers are {offset_s - onset_s:.2f} s apart but the video lasts "
                f"{video_duration_s:.2f} s; the triggers are not synchronised with this ad"
            )
    end_needed = onset_s + video_duration_s * drift
    if end_needed > raw.times[-1] + 1 / raw.info["sfreq"] + 1e-6:
        raise EEGInputError(
            f"{name}: the recording ends at {raw.times[-1]:.2f} s but the video needs it until "
            f"{end_needed:.2f} s (recording shorter than the ad)"
        )
    return VideoSync(onset_s, offset_s, drift)
