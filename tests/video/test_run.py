"""`hmllm video` on the tiny synthetic study: outputs per contracts §3, resumable, truth cuts found."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from hmllm.video.run import process_study
from hmllm.video.shots import boundary_f1
from tests.conftest import compose


@pytest.mark.slow  # generates the tiny study and runs the whole pipeline (~20-50 s)
def test_process_tiny_study(tiny_study, data_root, monkeypatch):
    cfg = compose("video", ["size=tiny", f"paths.data_root={data_root}", "video.progress=false",
                            "video.n_jobs=1"])  # fmt: skip
    out = process_study(cfg)
    shots = pd.read_parquet(out / "shots.parquet")
    feats = pd.read_parquet(out / "features.parquet")
    meta = json.loads((out / "features.json").read_text())
    ads = pd.read_csv(tiny_study / "stimuli" / "ads.tsv", sep="\t", dtype={"ad_id": str})
    assert set(shots["ad_id"]) == set(ads["ad_id"])
    assert {"ad_id", "shot", "onset_s", "offset_s", "onset_frame", "offset_frame", "transition_in",
            "detector", "detector_version", "detector_params"} <= set(shots.columns)  # fmt: skip
    assert len(feats) == len(shots) and meta["encoder"] == "handcrafted"
    assert meta["columns"] == [c for c in feats.columns if c not in ("ad_id", "shot")]
    for ad in ads["ad_id"]:
        assert (out / "keyframes" / ad / "shot000.jpg").is_file()
    # hard cuts of the synthetic truth are found within ±2 frames
    truth = pd.read_parquet(tiny_study / "truth" / "shots.parquet")
    for ad in ads["ad_id"]:
        t = truth[(truth["ad_id"] == ad) & (truth["transition_in"] == "cut")]["onset_frame"]
        p = shots[(shots["ad_id"] == ad) & (shots["shot"] > 0)]["onset_frame"]
        assert boundary_f1(p, t)["recall"] == 1.0
    # re-run: nothing is re-segmented or re-featurised
    import hmllm.video.run as run_mod

    def boom(*a, **k):
        raise AssertionError("re-run recomputed work that was already done")

    monkeypatch.setattr(run_mod, "detect_shots", boom)
    monkeypatch.setitem(
        run_mod.shot_features.__globals__["FEATURE_EXTRACTORS"], "handcrafted", boom
    )
    process_study(cfg)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "features.parquet"), feats)
