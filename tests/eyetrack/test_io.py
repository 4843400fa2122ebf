"""Readers on files written in each tracker's layout, and the errors bad input must give."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eyetrack.errors import GazeInputError
from eyetrack.io import read_gaze
from tests.eyetrack.conftest import (
    DURATION_S,
    ONSET_S,
    SCREEN,
    TOBII_HEADER,
    plant,
    write_asc,
    write_csv,
    write_tsv,
)


def test_eyelink_asc(asc_file, planted):
    rec = read_gaze(asc_file)
    assert rec.sfreq_hz == pytest.approx(250.0, rel=1e-3)
    assert len(rec.times_s) == pytest.approx(len(planted.t), abs=2)
    assert rec.messages["video_onset"] == pytest.approx(ONSET_S, abs=0.005)
    assert rec.messages["video_offset"] - rec.messages["video_onset"] == pytest.approx(
        DURATION_S, abs=0.005
    )
    fix = rec.events[rec.events["kind"] == "fixation"]
    assert len(fix) == len(planted.fixations)
    assert fix["onset_s"].iloc[3] == pytest.approx(planted.fixations[3][0], abs=0.005)
    assert rec.valid.mean() == pytest.approx(planted.valid.mean(), abs=0.01)
    assert np.nanmax(rec.x_px) < 1920 and rec.geometry["distance_cm"] == 65.0


def test_tobii_tsv(tsv_file):
    p = plant(sfreq=60.0, seed=1)
    rec = read_gaze(tsv_file)
    assert rec.sfreq_hz == pytest.approx(60.0, rel=1e-3)
    assert rec.messages["video_onset"] == pytest.approx(ONSET_S, abs=1e-6)
    assert len(rec.times_s) == len(p.t)
    np.testing.assert_allclose(rec.x_px[p.valid], p.x[p.valid], atol=0.06)
    assert np.isnan(rec.x_px[~p.valid]).all() and (rec.valid == p.valid).all()
    assert len(rec.events) == pytest.approx(len(p.fixations), abs=1)


def test_generic_csv(tmp_path, planted):
    path = write_csv(tmp_path / "lab.csv", planted)
    cfg = {
        "columns": {"time": "ts", "x": "gx", "y": "gy", "pupil": "pd", "event": "marker"},
        "csv_time_unit_s": 0.001,
    }
    rec = read_gaze(path, cfg=cfg)
    assert rec.sfreq_hz == pytest.approx(250.0, rel=1e-3)
    assert rec.messages["video_onset"] == pytest.approx(ONSET_S)
    assert np.nanmean(rec.pupil) == pytest.approx(3.0)


def test_unknown_columns(tmp_path, planted):
    bad = ["Timestamp", *TOBII_HEADER[1:]]
    path = write_tsv(tmp_path / "x.tsv", planted, header=bad)
    with pytest.raises(
        GazeInputError, match=r"Recording timestamp \[μs\].*not found.*eyetrack.columns"
    ):
        read_gaze(path)


def test_wrong_sampling_rate(tmp_path, planted):
    path = write_asc(tmp_path / "x.asc", planted)
    meta = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**meta, "sfreq_hz": 500}))
    with pytest.raises(GazeInputError, match="250.0 Hz but the sidecar declares 500"):
        read_gaze(path)


def test_timestamps_backwards(tmp_path):
    p = plant(sfreq=60.0)
    path = write_tsv(tmp_path / "x.tsv", p)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[30], lines[31] = lines[31], lines[30]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(GazeInputError, match="timestamps go backwards"):
        read_gaze(path)


@pytest.mark.parametrize("drop", ["all", "distance_cm"])
def test_geometry_missing(tmp_path, planted, drop):
    path = write_asc(tmp_path / "x.asc", planted)
    if drop == "all":
        path.with_suffix(".json").unlink()
        msg = "sidecar x.json is missing"
    else:
        meta = json.loads(path.with_suffix(".json").read_text())
        del meta[drop]
        path.with_suffix(".json").write_text(json.dumps(meta))
        msg = "missing \\['distance_cm'\\]"
    with pytest.raises(GazeInputError, match=msg):
        read_gaze(path)


def test_unknown_format_and_missing_file(tmp_path, asc_file):
    with pytest.raises(GazeInputError, match="unknown gaze format 'smi'"):
        read_gaze(asc_file, fmt="smi")
    with pytest.raises(GazeInputError, match="no such gaze file"):
        read_gaze(tmp_path / "nope.asc")


def test_broken_asc(tmp_path):
    path = tmp_path / "x.asc"
    path.write_text("not an eyelink file\n")
    (tmp_path / "x.json").write_text(json.dumps({"sfreq_hz": 250, **SCREEN}))
    with pytest.raises(GazeInputError, match="x.asc"):
        read_gaze(path)
