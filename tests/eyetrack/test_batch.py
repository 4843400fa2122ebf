"""`hmllm eyetrack` on the tiny synthetic study: outputs, truth agreement, cache, errors."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from eyetrack.batch import process_study, run
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
