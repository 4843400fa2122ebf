"""BIDS eye-tracking physio files: round trip through the writer, BIDS layouts, bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eyetrack.bids import write_bids_physio
from eyetrack.errors import GazeInputError
from eyetrack.io import read_gaze
from eyetrack.pipeline import process_gaze
from tests.conftest import compose
from tests.eyetrack.conftest import DURATION_S, ONSET_S, SCREEN, plant, write_asc

NAME = "sub-01_task-ad000_recording-eye1_physio.tsv.gz"
SHOTS = pd.DataFrame({"shot": [0, 1], "onset_s": [0.0, 2.0], "offset_s": [2.0, DURATION_S]})


@pytest.fixture(scope="module")
def asc_rec(tmp_path_factory):
    """The planted recording read from EyeLink ASC (samples, tracker fixations, messages)."""
    return read_gaze(write_asc(tmp_path_factory.mktemp("asc") / "a.asc", plant()))


@pytest.fixture
def bids_file(tmp_path, asc_rec) -> Path:
    return write_bids_physio(asc_rec, tmp_path / NAME)


def edit_json(path: Path, change) -> None:
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


def test_round_trip(bids_file, asc_rec):
    rec = read_gaze(bids_file)
    assert rec.sfreq_hz == pytest.approx(250.0, rel=1e-6)
    np.testing.assert_allclose(rec.times_s, asc_rec.times_s, atol=1e-6)
    np.testing.assert_allclose(rec.x_px, asc_rec.x_px, atol=1e-6, equal_nan=True)
    assert (rec.valid == asc_rec.valid).all() and np.nanmean(rec.pupil) == pytest.approx(900.0)
    assert rec.messages == pytest.approx(
        {"video_onset": ONSET_S, "video_offset": ONSET_S + DURATION_S}
    )
    ref = asc_rec.events.sort_values("onset_s", kind="stable").reset_index(drop=True)
    np.testing.assert_allclose(
        rec.events[["onset_s", "offset_s"]], ref[["onset_s", "offset_s"]], atol=1e-6
    )
    assert (rec.events["kind"] == ref["kind"]).all()
    for key in ("screen_width_px", "screen_height_px", "distance_cm", "screen_width_cm"):
        assert rec.geometry[key] == pytest.approx(SCREEN[key])
    assert rec.geometry["video_rect_px"] == SCREEN["video_rect_px"]
    assert rec.geometry["recorded_eye"] == "left"


def test_same_metrics_as_source(bids_file, asc_rec):
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_container(compose("eyetrack").eyetrack, resolve=True)
    a = process_gaze(asc_rec, DURATION_S, SHOTS, cfg)[1]
    b = process_gaze(read_gaze(bids_file), DURATION_S, SHOTS, cfg)[1]
    pd.testing.assert_frame_equal(a, b, atol=1e-9)


def test_writer_is_deterministic(tmp_path, asc_rec):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = write_bids_physio(asc_rec, tmp_path / "a" / NAME)
    b = write_bids_physio(asc_rec, tmp_path / "b" / NAME)
    assert a.read_bytes() == b.read_bytes()
    with gzip.open(a, "rt") as f:
        assert f.readline().split("\t")[0] == "0.000000"  # no header line, ms timestamps


def test_geometry_from_events_json(bids_file):
    """BIDS 1.10 puts the screen under StimulusPresentation of the task's _events.json."""
    side = bids_file.parent / "sub-01_task-ad000_recording-eye1_physio.json"
    stim = json.loads(side.read_text())["StimulusPresentation"]
    edit_json(side, lambda m: m.pop("StimulusPresentation"))
    (bids_file.parent / "sub-01_task-ad000_events.json").write_text(
        json.dumps({"StimulusPresentation": {**stim, "ScreenDistance": 0.8}})
    )
    assert read_gaze(bids_file).geometry["distance_cm"] == pytest.approx(80.0)


def test_bottom_left_origin(bids_file, asc_rec):
    side = bids_file.parent / "sub-01_task-ad000_recording-eye1_physio.json"
    edit_json(side, lambda m: m["StimulusPresentation"].update(ScreenOrigin=["bottom", "left"]))
    rec = read_gaze(bids_file)
    np.testing.assert_allclose(rec.y_px, SCREEN["screen_height_px"] - asc_rec.y_px, equal_nan=True)


def test_onset_as_sample_index(bids_file, asc_rec):
    """OnsetSource "n/a": onsets are row indices into the physio file."""
    ev = bids_file.parent / "sub-01_task-ad000_recording-eye1_physioevents"
    rows = [f"{round(ONSET_S * 250)}\tn/a\tn/a\tvideo_onset", "10\t25\tfixation\tn/a"]
    with gzip.open(f"{ev}.tsv.gz", "wt") as f:
        f.write("\n".join(rows) + "\n")
    edit_json(Path(f"{ev}.json"), lambda m: (m.update(OnsetSource="n/a"), m.pop("duration")))
    rec = read_gaze(bids_file)
    assert rec.messages["video_onset"] == pytest.approx(ONSET_S)
    assert rec.events[["onset_s", "offset_s"]].iloc[0].tolist() == pytest.approx([0.04, 0.14])


BAD = {
    "no-sidecar": (lambda d: (d / "sub-01_task-ad000_recording-eye1_physio.json").unlink(),
                   "physio.json: sidecar .* is missing"),
    "no-Columns": (lambda d: edit_json(d / _side(), lambda m: m.pop("Columns")),
                   "Columns is missing; BIDS .tsv.gz files have no header"),
    "no-x": (lambda d: edit_json(d / _side(), lambda m: m.update(Columns=["timestamp", "gx", "y_coordinate", "p"])),
             r"lacks \['x_coordinate'\]"),
    "no-SamplingFrequency": (lambda d: edit_json(d / _side(), lambda m: m.pop("SamplingFrequency")),
                             "SamplingFrequency must be a positive number in Hz, got None"),
    "wrong-rate": (lambda d: edit_json(d / _side(), lambda m: m.update(SamplingFrequency=500)),
                   "250.0 Hz but the sidecar declares 500"),
    "no-time-unit": (lambda d: edit_json(d / _side(), lambda m: m["timestamp"].pop("Units")),
                     r"timestamp.Units is None; give the unit"),
    "degrees": (lambda d: edit_json(d / _side(), lambda m: m["x_coordinate"].update(Units="deg")),
                "x_coordinate.Units is 'deg'"),
    "eye-in-head": (lambda d: edit_json(d / _side(), lambda m: m.update(SampleCoordinateSystem="eye-in-head")),
                    "only \"gaze-on-screen\""),
    "generic": (lambda d: edit_json(d / _side(), lambda m: m.update(PhysioType="generic")),
                "PhysioType is 'generic'"),
    "no-screen": (lambda d: edit_json(d / _side(), lambda m: m.pop("StimulusPresentation")),
                  r"screen geometry missing \['ScreenSize', 'ScreenResolution', 'ScreenDistance'\]"),
    "screen-in-cm": (lambda d: edit_json(d / _side(), lambda m: m["StimulusPresentation"].update(ScreenSize=[51.8, 32.3])),
                     "not plausible metres"),
    "no-video-rect": (lambda d: edit_json(d / _side(), lambda m: m.pop("video_rect_px")),
                      'no "video_rect_px"'),
    "extra-column": (lambda d: edit_json(d / _side(), lambda m: m.update(Columns=m["Columns"][:3])),
                     "4 columns but .* lists 3"),
    "header-line": (lambda d: _prepend(d / NAME, "timestamp\tx_coordinate\ty_coordinate\tpupil_size"),
                    "non-numeric timestamp at row 0 .* must not have a header"),
    "no-events-sidecar": (lambda d: (d / _side("physioevents")).unlink(), "physioevents.json: events sidecar"),
    "no-OnsetSource": (lambda d: edit_json(d / _side("physioevents"), lambda m: m.pop("OnsetSource")),
                       "OnsetSource is missing"),
}  # fmt: skip


def _side(suffix: str = "physio") -> str:
    return f"sub-01_task-ad000_recording-eye1_{suffix}.json"


def _prepend(path: Path, line: str) -> None:
    with gzip.open(path, "rt") as f:
        body = f.read()
    with gzip.open(path, "wt") as f:
        f.write(line + "\n" + body)


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input(bids_file, case):
    change, msg = BAD[case]
    change(bids_file.parent)
    with pytest.raises(GazeInputError, match=msg):
        read_gaze(bids_file)


def test_format_from_name(tmp_path, asc_rec):
    path = write_bids_physio(asc_rec, tmp_path / NAME)
    with pytest.raises(GazeInputError, match="must end in _physio.tsv.gz"):
        write_bids_physio(asc_rec, tmp_path / "x.tsv.gz")
    assert read_gaze(path, fmt="bids_physio").source == NAME
