"""`hmllm eyetrack` on the tiny synthetic study: outputs, truth agreement, cache, errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from eyetrack.batch import heatmaps, process_study, run, write_pngs
from eyetrack.errors import GazeInputError
from eyetrack.events import match_fixations
from eyetrack.heatmap import fixation_map, overlay_png
from tests.conftest import compose


def test_fixation_map_and_png(tmp_path):
    m = fixation_map(
        np.array([0.25, 0.25, 2.0]),
        np.array([0.5, 0.5, 0.5]),
        np.array([1.0, 1.0, 5.0]),
        shape=(18, 32),
    )
    assert m.sum() == pytest.approx(1.0) and np.unravel_index(m.argmax(), m.shape) == (9, 8)
    assert np.allclose(fixation_map(np.array([]), np.array([]), shape=(4, 4)), 1 / 16)
    png = overlay_png(m, np.zeros((90, 160, 3), np.uint8), tmp_path / "h.png")
    import cv2

    img = cv2.imread(str(png))
    assert img.shape == (90, 160, 3) and img[45, 40].sum() > img[5, 150].sum()


@pytest.fixture
def study(tiny_study, tmp_path):
    root = tmp_path / "study"
    shutil.copytree(tiny_study, root, ignore=shutil.ignore_patterns("derivatives", "prepared"))
    return root


def _cfg(study, *extra):
    return compose("eyetrack", ["size=tiny", f"paths.data_root={study.parent}", f"paths.study={study.name}",
                                "eyetrack.progress=false", "eyetrack.n_jobs=1", *extra])  # fmt: skip


@pytest.mark.slow
def test_batch_on_tiny_study(study):
    out = process_study(_cfg(study, "eyetrack.shots_source=truth", "eyetrack.events.detector=ivt"))
    ps = pd.read_parquet(out / "per_shot.parquet")
    assert list(ps.columns) == [
        "participant_id",
        "ad_id",
        "shot",
        "index",
        "value",
        "valid_fraction",
        "missing",
    ]
    q = pd.read_parquet(out / "quality.parquet")
    assert q["usable"].all() and len(q) == 6
    lat = pd.read_parquet(study / "truth" / "latent_shot.parquet")
    e = ps[ps["index"] == "emr"].merge(lat, on=["participant_id", "ad_id", "shot"])
    assert len(e) >= 20 and spearmanr(e["value"], e["attention"]).statistic >= 0.7
    # fixations detected from raw samples (I-VT) against the generator's
    fx, tf = (
        pd.read_parquet(out / "fixations.parquet"),
        pd.read_parquet(study / "truth" / "fixations.parquet"),
    )
    res = pd.DataFrame([match_fixations(fx[(fx.participant_id == p) & (fx.ad_id == a)], g[g.onset_s >= 0])
                        for (p, a), g in tf.groupby(["participant_id", "ad_id"])]).mean()  # fmt: skip
    assert res["recall"] >= 0.85 and res["precision"] >= 0.85 and res["onset_err_s"] < 0.03
    hm = np.load(out / "heatmaps.npz")
    assert np.allclose(hm["maps"].sum(axis=(1, 2)), 1, atol=1e-4) and "all" in set(hm["group"])
    sync = pd.read_parquet(out / "synchrony.parquet")
    assert set(sync["index"]) == {"gaze_dispersion", "gaze_cluster_share"}
    # resumable: a second run reads every recording from the cache
    cached = sorted((out / "recordings").iterdir())
    stamps = [p.stat().st_mtime_ns for p in cached]
    process_study(_cfg(study, "eyetrack.shots_source=truth", "eyetrack.events.detector=ivt"))
    assert [p.stat().st_mtime_ns for p in sorted((out / "recordings").iterdir())] == stamps


@pytest.mark.slow
def test_batch_errors(study):
    from hmllm.errors import DataError

    with pytest.raises(DataError, match="run `hmllm video` first"):
        run(_cfg(study))  # detected shots do not exist yet
    sessions = pd.read_csv(study / "sessions.tsv", sep="\t", dtype=str, keep_default_na=False)
    (study / sessions.loc[0, "et_file"]).write_text("garbage\n")
    out = process_study(
        _cfg(study, "eyetrack.shots_source=truth", "eyetrack.heatmap.enabled=false")
    )
    q = pd.read_parquet(out / "quality.parquet").set_index("file")
    assert (
        not q.loc[sessions.loc[0, "et_file"], "usable"]
        and "readable" in q.loc[sessions.loc[0, "et_file"], "error"]
    )
    assert q["usable"].sum() == 5


def _fixations(groups: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One on-video fixation per participant in shot 0 of ad000; participants with a gender."""
    fix = pd.DataFrame({"participant_id": list(groups), "ad_id": "ad000", "shot": 0, "onset_s": 0.0,
                        "offset_s": 0.3, "x": 0.5, "y": 0.5, "on_video": True})  # fmt: skip
    return fix, pd.DataFrame({"participant_id": list(groups), "gender": list(groups.values())})


def test_heatmap_groups_respect_k_floor():
    fix, parts = _fixations({"sub-a": "female", "sub-b": "female", "sub-c": "male"})
    hcfg = {"shape": [9, 16], "sigma_frac": 0.05, "groups": ["gender"], "min_group_size": 2}
    hm = heatmaps(fix, parts, hcfg)
    assert hm["group"].tolist() == ["all", "gender=female"]  # one male viewer < k = 2
    assert hm["n_participants"].tolist() == [3, 2]
    assert len(heatmaps(fix, parts, {**hcfg, "min_group_size": 4})["maps"]) == 0
    with pytest.raises(GazeInputError, match="min_group_size must be >= 1"):
        heatmaps(fix, parts, {**hcfg, "min_group_size": 0})


def test_pngs_per_group(tmp_path):
    import cv2

    fix, parts = _fixations({"sub-a": "female", "sub-b": "female", "sub-c": "male"})
    hm = heatmaps(
        fix,
        parts,
        {"shape": [9, 16], "sigma_frac": 0.05, "groups": ["gender"], "min_group_size": 2},
    )
    (tmp_path / "kf" / "ad000").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "kf" / "ad000" / "shot000.jpg"), np.zeros((90, 160, 3), np.uint8))
    assert write_pngs(hm, tmp_path / "kf", tmp_path / "png") == 2
    made = sorted(
        p.relative_to(tmp_path / "png").as_posix() for p in (tmp_path / "png").rglob("*.png")
    )
    assert made == ["ad000/all/shot000.png", "ad000/gender-female/shot000.png"]
    with pytest.raises(GazeInputError, match="run `hmllm video` first"):
        write_pngs(hm, tmp_path / "none", tmp_path / "png2")


@pytest.mark.slow
def test_batch_face_aois(study):
    out = process_study(
        _cfg(
            study, "eyetrack=faces", "eyetrack.shots_source=truth", "eyetrack.heatmap.enabled=false"
        )
    )
    ps = pd.read_parquet(out / "per_shot.parquet")
    truth = pd.read_parquet(study / "truth" / "shots.parquet")
    dwell = ps[ps["index"] == "aoi_face_dwell"].merge(truth, on=["ad_id", "shot"])
    share = dwell["value"] / (dwell["offset_s"] - dwell["onset_s"])
    assert (share[~dwell["has_face"]] == 0).all()  # no face drawn, no dwell
    assert share[dwell["has_face"]].mean() > 0.3  # the synthetic gaze goes to the face
    assert set(pd.read_parquet(out / "face_aois.parquet")["ad_id"]) == set(truth["ad_id"])


@pytest.mark.slow
def test_batch_reads_bids_physio(study):
    """The same study with every recording converted to BIDS physio gives the same metrics."""
    from eyetrack.bids import write_bids_physio
    from eyetrack.io import read_gaze

    args = ("eyetrack.shots_source=truth", "eyetrack.heatmap.enabled=false")
    ref = pd.read_parquet(process_study(_cfg(study, *args)) / "per_shot.parquet")
    sessions = pd.read_csv(study / "sessions.tsv", sep="\t", dtype=str, keep_default_na=False)
    for i, r in sessions.iterrows():
        src = study / r["et_file"]
        name = f"{r['participant_id']}_task-{r['ad_id']}_recording-eye1_physio.tsv.gz"
        write_bids_physio(read_gaze(src, fmt=r["et_format"]), src.parent / name)
        sessions.loc[i, ["et_file", "et_format"]] = [
            str(Path(r["et_file"]).parent / name),
            "bids_physio",
        ]
    sessions.to_csv(study / "sessions.tsv", sep="\t", index=False)
    got = pd.read_parquet(process_study(_cfg(study, *args)) / "per_shot.parquet")
    # timestamps round-trip to ~1e-15 s, which can move a sample at a fixation's exact edge in or
    # out of it: fixation centres (so saccade amplitudes) shift slightly; everything else is equal
    amp = ref["index"] == "saccade_amp_deg"
    pd.testing.assert_frame_equal(got[~amp], ref[~amp], atol=1e-6)
    pd.testing.assert_frame_equal(got[amp], ref[amp], rtol=1e-2)
