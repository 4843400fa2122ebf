"""`hmllm validity` on generated tables: a planted index adds ΔR², a noise index does not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hmllm.errors import ConfigError
from hmllm.validity import ad_table, cv_folds, delta_r2, r2, validity
from tests.conftest import compose

N_ADS, N_SHOTS, N_PEOPLE = 40, 4, 6


def write_tables(root: Path, seed: int = 0) -> Path:
    """A prepared-like folder: CTR depends on 2 video features and on EN beyond them.

    EN (per ad) = a hidden appeal independent of the video + viewer noise; EM is pure noise; EMR is
    a copy of a video feature (it restates the content). logit CTR = video + 0.8 x appeal + noise.
    """
    rng = np.random.default_rng(seed)
    prepared = root / "prepared"
    prepared.mkdir(parents=True)
    ads = [f"ad{i:03d}" for i in range(N_ADS)]
    video = rng.normal(size=(N_ADS, 3))
    appeal = rng.normal(size=N_ADS)
    feats = pd.DataFrame([(a, s, *(video[i] + 0.1 * rng.normal(size=3))) for i, a in enumerate(ads)
                          for s in range(N_SHOTS)], columns=["ad_id", "shot", "f0", "f1", "f2"])  # fmt: skip
    feats.to_parquet(prepared / "features.parquet", index=False)
    rows = [(f"sub-{p}", a, s, appeal[i] + 0.3 * rng.normal(), rng.normal(), video[i, 0] + 0.1 * rng.normal())
            for i, a in enumerate(ads) for p in range(N_PEOPLE) for s in range(N_SHOTS)]  # fmt: skip
    pd.DataFrame(rows, columns=["participant_id", "ad_id", "shot", "en", "em", "emr"]).to_parquet(
        prepared / "participant_shot.parquet", index=False
    )
    logit = (
        -3.5 + 0.6 * video[:, 0] - 0.4 * video[:, 1] + 0.8 * appeal + 0.2 * rng.normal(size=N_ADS)
    )
    comp = 1 / (1 + np.exp(-(0.5 * video[:, 2] + 0.3 * rng.normal(size=N_ADS))))
    pd.DataFrame({"ad_id": ads, "split": "train", "impressions": 10_000,
                  "ctr": 1 / (1 + np.exp(-logit)), "completion_rate": comp}).to_parquet(
        prepared / "ads.parquet", index=False)  # fmt: skip
    return prepared


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> Path:
    return write_tables(tmp_path_factory.mktemp("validity"))


def _cfg(prepared: Path, *extra: str):
    return compose("validity", [f"paths.prepared={prepared}", f"paths.study_root={prepared.parent}",
                                "validity.progress=false", "validity.permutations=200",
                                "validity.bootstrap=500", *extra])  # fmt: skip


def test_r2_of_perfect_and_mean_predictions():
    y = np.array([1.0, 2.0, 4.0])
    assert r2(y, y) == pytest.approx(1.0)
    assert r2(y, np.full(3, y.mean())) == pytest.approx(0.0)


def test_folds_cover_every_ad_once():
    for folds in (cv_folds(7, "loo", 0, 0), cv_folds(7, "kfold", 3, 1)):
        assert sorted(np.concatenate(folds).tolist()) == list(range(7))
    assert len(cv_folds(7, "kfold", 3, 1)) == 3
    with pytest.raises(ConfigError, match="validity.cv must be one of"):
        cv_folds(7, "bootstrap", 3, 0)


def test_planted_index_adds_r2_and_noise_does_not(tables):
    out = validity(_cfg(tables, "validity.outcomes=[ctr]", "validity.permutations=100"))["results"][
        "ctr"
    ]
    en, em = out["en"], out["em"]
    assert en["delta_r2"] > 0.15 and en["ci95"][0] > 0 and en["p_perm"] < 0.05
    assert em["delta_r2"] < 0.02 and em["ci95"][0] < 0 < em["ci95"][1] and em["p_perm"] > 0.2
    # EMR restates a video feature: nothing beyond the video
    assert out["emr"]["delta_r2"] < 0.02
    assert out["all"]["indices"] == ["en", "em", "emr"] and out["all"]["delta_r2"] > 0.1


def test_outputs_are_written_and_deterministic(tables):
    cfg = _cfg(tables, "validity.outcomes=[completion_rate]", "validity.permutations=5")
    first = validity(cfg)
    out = tables.parent / "validity"
    assert json.loads((out / "validity.json").read_text()) == json.loads(json.dumps(first))
    assert "| completion_rate | en | 40 |" in (out / "validity.md").read_text()
    assert (out / "validity.png").stat().st_size > 1000
    assert validity(cfg)["results"] == first["results"]


def test_isc_table_joins_when_present(tables, tmp_path):
    ads = pd.read_parquet(tables / "ads.parquet")["ad_id"]
    isc = pd.DataFrame({"ad_id": np.repeat(ads, 3), "second": pd.array([0, 1, 2] * len(ads), "Int64"),
                        "shot": pd.array([pd.NA] * 3 * len(ads), "Int64"), "index": "isc",
                        "value": np.linspace(0, 1, 3 * len(ads)), "n_viewers": 6, "missing": False})  # fmt: skip
    isc.to_parquet(tmp_path / "isc.parquet", index=False)
    table, video, measured = ad_table(tables, ["en"], isc_file=tmp_path / "isc.parquet")
    assert measured == ["en", "isc"] and video == ["video_f0", "video_f1", "video_f2"]
    assert table.loc["ad000", "isc"] == pytest.approx(np.linspace(0, 1, 3 * len(ads))[:3].mean())
    _, _, without = ad_table(tables, ["en"], isc_file=tmp_path / "absent.parquet")
    assert without == ["en"]


def test_unknown_index_names_the_file_and_columns(tables):
    with pytest.raises(ConfigError, match=r"participant_shot.parquet has no column\(s\) \['isc'\]"):
        ad_table(tables, ["isc"])


def test_delta_is_zero_when_the_index_is_a_video_feature():
    rng = np.random.default_rng(1)
    video = rng.normal(size=(30, 2))
    y = video @ [1.0, -0.5] + 0.1 * rng.normal(size=30)
    res = delta_r2(video, video[:, :1], y, folds=cv_folds(30, "loo", 0, 0), alpha=1.0,
                   n_components=None, n_boot=100, n_perm=0, seed=0)  # fmt: skip
    assert res["r2_video"] > 0.9 and abs(res["delta_r2"]) < 0.01
