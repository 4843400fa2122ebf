"""Score a real mp4 with a real (fast-trained) checkpoint: result, report, A/B, and bad input."""

from __future__ import annotations

import json
import shutil

import pytest

from hmllm.errors import ConfigError, DataError
from tests.conftest import compose
from tests.report.example import SHOTS


def _cfg(*extra):
    # no feature cache (tests must not share state) and low-resolution static exports for speed
    return compose("score", ["score_cfg.cache=null", "score_cfg.report.static_dpi=50",
                             "score_cfg.mc_samples=4", "score_cfg.progress=false", *extra]).score_cfg  # fmt: skip


@pytest.fixture(scope="module")
def ab(fast_checkpoint, ad_mp4, tmp_path_factory):
    """Two variants scored at once for two audiences (one given as an alias)."""
    from hmllm.score import score_ads

    folder = tmp_path_factory.mktemp("ab")
    b = shutil.copyfile(ad_mp4, folder / "variant_b.mp4")
    out = score_ads([ad_mp4, b], ["female", "women_18_25"], checkpoint=fast_checkpoint,
                    out_dir=folder / "reports", cfg=_cfg())  # fmt: skip
    return out


def test_score_writes_valid_result_per_ad(ab):
    from hmllm.score.pipeline import validate_result

    assert [p.name for p in ab] == ["result.json", "result.json", "compare.json"]
    for p in ab[:2]:
        r = json.loads(p.read_text())
        validate_result(r)
        assert [a["id"] for a in r["audiences"]] == ["female", "female_18-25"]
        for f in ("index.html", "report.png", "report.pdf", r["ad"]["video_file"]):
            assert (p.parent / f).is_file(), f


def test_shots_match_the_encoded_cuts(ab):
    r = json.loads(ab[0].read_text())
    got = [(s["onset_s"], s["offset_s"]) for s in r["shots"]]
    # within one frame at 10 fps
    assert [t for s in got for t in s] == pytest.approx([t for s in SHOTS for t in s], abs=0.11)
    assert all((ab[0].parent / s["keyframe"]).is_file() for s in r["shots"])


def test_predictions_cover_every_shot_audience_index(ab):
    r = json.loads(ab[0].read_text())
    cells = {(p["shot"], p["audience"], p["index"]) for p in r["predictions"]}
    assert len(cells) == len(r["predictions"]) == 3 * 2 * 3
    for p in r["predictions"]:
        assert p["value_lo"] <= p["value"] <= p["value_hi"]
        assert sum(p["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert p["class_name"] == max(p["probabilities"], key=p["probabilities"].get)
    for e in r["effects"]:
        assert e["ctr_lo"] <= e["ctr"] <= e["ctr_hi"]


def test_curves_are_the_per_shot_values(ab):
    r = json.loads(ab[0].read_text())
    t = r["curves"]["times_s"]
    assert t[0] == 0 and t[-1] == pytest.approx(r["ad"]["duration_s"])
    en = {
        p["shot"]: p["value"]
        for p in r["predictions"]
        if p["audience"] == "female" and p["index"] == "en"
    }
    i = t.index(3.0)  # inside shot 1 (2.0-4.5 s)
    assert r["curves"]["groups"]["female"]["en"][i] == pytest.approx(en[1])


def test_ab_comparison_links_both_variants(ab):
    comp = json.loads(ab[2].read_text())
    assert comp["kind"] == "ab_comparison" and len(comp["variants"]) == 2
    for rel in comp["variants"]:
        assert (ab[2].parent / rel).resolve().is_file()
    html = (ab[2].parent / "index.html").read_text()
    assert html.count("<video") == 2


def test_scoring_is_deterministic(fast_checkpoint, ad_mp4, ab, tmp_path):
    from hmllm.score import score_ads

    again = score_ads([ad_mp4], ["female", "female_18-25"], checkpoint=fast_checkpoint, out_dir=tmp_path,
                      cfg=_cfg("score_cfg.report.static=false"))  # fmt: skip
    a, b = json.loads(ab[0].read_text()), json.loads(again[0].read_text())
    assert a["predictions"] == b["predictions"] and a["effects"] == b["effects"]


def test_not_a_video_is_a_clear_error(fast_checkpoint, tmp_path):
    from hmllm.score import score_ads

    bad = tmp_path / "slides.mp4"
    bad.write_bytes(b"%PDF-1.4 definitely not a video")
    with pytest.raises(DataError, match="slides.mp4"):
        score_ads([bad], [], checkpoint=fast_checkpoint, out_dir=tmp_path / "r", cfg=_cfg())


def test_missing_video_is_a_clear_error(fast_checkpoint, tmp_path):
    from hmllm.score import score_ads

    with pytest.raises(DataError, match="no such video file"):
        score_ads(
            [tmp_path / "nope.mp4"], [], checkpoint=fast_checkpoint, out_dir=tmp_path, cfg=_cfg()
        )


def test_unknown_audience_is_a_clear_error(fast_checkpoint, ad_mp4, tmp_path):
    from hmllm.score import score_ads

    with pytest.raises(ConfigError, match=r"unknown audience 'women_25_34'.*k-anonymity"):
        score_ads(
            [ad_mp4], ["women_25_34"], checkpoint=fast_checkpoint, out_dir=tmp_path, cfg=_cfg()
        )


def test_feature_extractor_mismatch_is_a_clear_error(fast_checkpoint, ad_mp4, tmp_path):
    from hmllm.score import score_ads

    with pytest.raises(ConfigError, match="checkpoint expects features 'handcrafted', got 'cnn'"):
        score_ads(
            [ad_mp4],
            [],
            checkpoint=fast_checkpoint,
            out_dir=tmp_path,
            cfg=_cfg("features@score_cfg.features=cnn"),
        )


def test_missing_checkpoint_is_a_clear_error(ad_mp4, tmp_path):
    from hmllm.score import score_ads

    with pytest.raises(DataError, match="checkpoint .* not found"):
        score_ads([ad_mp4], [], checkpoint=tmp_path / "best.pt", out_dir=tmp_path, cfg=_cfg())


def test_too_large_file_is_refused(fast_checkpoint, ad_mp4, tmp_path):
    from hmllm.score import score_ads

    with pytest.raises(DataError, match="max_file_mb"):
        score_ads(
            [ad_mp4],
            [],
            checkpoint=fast_checkpoint,
            out_dir=tmp_path,
            cfg=_cfg("score_cfg.max_file_mb=0.0001"),
        )


def test_cli_run_without_videos(tmp_path):
    from hmllm.score import run

    with pytest.raises(ConfigError, match="give at least one video"):
        run(compose("score", [f"paths.reports={tmp_path}"]))


def test_cli_run_scores(fast_checkpoint, ad_mp4, tmp_path, capsys):
    from hmllm.score import run

    run(compose("score", [f"videos=['{ad_mp4}']", "audience=female", f"checkpoint={fast_checkpoint}",
                          f"paths.reports={tmp_path}", "score_cfg.cache=null", "score_cfg.report.static=false",
                          "score_cfg.mc_samples=2", "score_cfg.heatmaps=false"]))  # fmt: skip
    assert (tmp_path / "spring_ad" / "index.html").is_file()
    assert "report:" in capsys.readouterr().out


@pytest.mark.slow
def test_end_to_end_on_the_tiny_study(tiny_checkpoint, tiny_study, tmp_path):
    """Train on the tiny synthetic study, score one of its ads for every group the model knows."""
    from hmllm.score import score_ads
    from hmllm.score.pipeline import validate_result

    ad = sorted((tiny_study / "stimuli").glob("*.mp4"))[0]
    out = score_ads([ad], [], checkpoint=tiny_checkpoint, out_dir=tmp_path, cfg=_cfg())
    r = json.loads(out[0].read_text())
    validate_result(r)
    assert len(r["shots"]) >= 2 and (out[0].parent / "index.html").stat().st_size > 100_000
