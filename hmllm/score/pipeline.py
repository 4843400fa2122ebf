"""The scoring pipeline and the `hmllm score` command.

probe → shots (PySceneDetect) → keyframes (decord) → shot features (the extractor the checkpoint was
trained with) → per-shot, per-audience predictions → ``result.json`` (validated against
``schema.json``) → HTML report (+ PNG/PDF). Several ads at once also get an A/B comparison page.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
from omegaconf import OmegaConf
from tqdm import tqdm

from hmllm import __version__
from hmllm.errors import ConfigError, DataError
from hmllm.paths import resolve_path
from hmllm.score.audience import resolve_audiences
from hmllm.score.moments import key_moments, summary_sentences

log = logging.getLogger("hmllm.score")
SCHEMA_VERSION = "1.0"
SCHEMA_PATH = Path(__file__).with_name("schema.json")
INDICES = ("en", "em", "emr")


def safe_stem(name: str) -> str:
    """A file-system-safe folder name for an ad (the original name is kept in the result)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem).strip("._") or "ad"
    return stem[:80]


def validate_result(result: dict) -> None:
    """Check a result against ``schema.json``.

    Raises
    ------
    DataError
        Naming the failing field and the schema version.
    """
    schema = json.loads(SCHEMA_PATH.read_text())
    try:
        jsonschema.validate(result, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "<root>"
        raise DataError(
            f"score result does not match schema {SCHEMA_VERSION} at {where}: {exc.message}"
        ) from None


def check_features_match(predictor, cfg_features: dict) -> None:
    """Refuse to score with another feature extractor than the checkpoint was trained with.

    Raises
    ------
    ConfigError
        ``checkpoint expects features X, got Y`` with the override that fixes it.
    """
    want = str(predictor.card.get("feature_extractor", "handcrafted"))
    got = str(cfg_features.get("name", "handcrafted"))
    if want != got:
        raise ConfigError(
            f"checkpoint expects features {want!r}, got {got!r} (score_cfg.features.name); "
            f"score with `features@score_cfg.features={want}` or use a checkpoint trained on {got!r}"
        )


def _curves(shots: pd.DataFrame, pred_shots: pd.DataFrame, groups: list[str], duration_s: float,
            step_s: float) -> dict:  # fmt: skip
    """Per-time predicted curves: each sample takes the value of the shot it falls in.

    Piecewise constant on purpose: the model predicts per shot, and smoothing would invent
    within-shot dynamics it never predicted. Samples every ``step_s`` seconds plus each cut and the end.
    """
    onsets = shots["onset_s"].to_numpy(float)
    times = np.unique(np.concatenate([np.arange(0.0, duration_s, step_s), onsets, [duration_s]]))
    idx = np.clip(np.searchsorted(onsets, times, side="right") - 1, 0, len(shots) - 1)
    shot_ids = shots["shot"].to_numpy(int)[idx]
    tab = pred_shots.set_index(["group", "index", "shot"])["value"]
    curves: dict = {"times_s": [round(float(t), 3) for t in times], "groups": {}}
    for g in groups:
        curves["groups"][g] = {
            k: [float(tab.loc[(g, k, int(s))]) for s in shot_ids] for k in INDICES
        }
    return curves


def _explanations(expl: pd.DataFrame, top_n: int) -> list[dict]:
    out = []
    if expl is None or not len(expl):
        return out
    for (shot, g, k), d in expl.groupby(["shot", "group", "index"], sort=True):
        d = d.loc[d["contribution"].abs().sort_values(ascending=False).index].head(top_n)
        out.append({"shot": int(shot), "audience": str(g), "index": str(k),
                    "top_features": [{"feature": str(f), "contribution": float(c)}
                                     for f, c in zip(d["feature"], d["contribution"], strict=True)]})  # fmt: skip
    return out


def score_video(video: Path, groups: list[str], predictor, out_dir: Path, cfg: dict, *,
                checkpoint: Path) -> Path:  # fmt: skip
    """Score one video for ``groups`` and write ``<out_dir>/<ad>/result.json`` and its report.

    Parameters
    ----------
    video
        The ad (any container FFmpeg reads).
    groups
        Validated audience group ids (see :func:`hmllm.score.audience.resolve_audiences`).
    predictor
        A :class:`hmllm.model.predict.Predictor`.
    out_dir
        Reports root; the ad gets its own sub-folder.
    cfg
        The ``score_cfg`` block as a plain dict.
    checkpoint
        Path of the checkpoint (recorded in the result).

    Returns
    -------
    Path
        The written ``result.json``.
    """
    from hmllm.data.instructions import describe_shot
    from hmllm.video import detect_shots, keyframes, probe, sample_frames, shot_features
    from hmllm.video.transcript import shot_transcripts

    v = cfg["video"]
    t0 = [time.perf_counter()]

    def tick(stage: str) -> None:  # per-stage wall time, logged for bench/score_e2e.py
        now = time.perf_counter()
        log.info("score %s: %s took %.2f s", video.name, stage, now - t0[0])
        t0[0] = now

    size_mb = video.stat().st_size / 1e6
    if size_mb > float(cfg["max_file_mb"]):
        raise DataError(f"{video.name}: {size_mb:.0f} MB exceeds score_cfg.max_file_mb={cfg['max_file_mb']}; "
                        "compress the ad or raise the limit")  # fmt: skip
    info = probe(video, max_pixels=int(v["max_pixels"]), max_duration_s=float(v["max_duration_s"]))
    tick("probe")
    shots = detect_shots(video, detector=v["detector"], fps=info.fps, n_frames=info.n_frames,
                         fade_threshold=v.get("fade_threshold"), dissolve=v.get("dissolve"),
                         **dict(v["detector_params"]))  # fmt: skip
    tick("shots")
    ad_dir = out_dir / safe_stem(video.name)
    ad_dir.mkdir(parents=True, exist_ok=True)
    keyframes(video, shots, ad_dir / "keyframes", thumb_width=int(v["thumb_width_px"]))
    tick("keyframes")
    cache = resolve_path(cfg["cache"]) if cfg.get("cache") else None
    feats = shot_features(video, shots, cfg["features"], cache, video_sha256=info.sha256)
    tick("features")
    missing = [c for c in predictor.feature_names if c not in feats.columns]
    if missing:
        raise ConfigError(
            f"checkpoint expects features {missing[:5]}{'…' if len(missing) > 5 else ''} that the "
            f"{cfg['features'].get('name')!r} extractor did not produce for {video.name} (a transcript "
            "sidecar .srt/.vtt or another features config at training time?); score with the features "
            "config the model was trained with"
        )
    pred = predictor.predict(feats, groups)
    tick("predict")
    text = shot_transcripts(video, shots)
    fx = feats.set_index("shot")
    rules = cfg["data"]["instructions"]["describe"]  # the feature cut-offs prepare words shots with
    shot_list = [{"shot": int(r.shot), "onset_s": float(r.onset_s), "offset_s": float(r.offset_s),
                  "keyframe": f"keyframes/shot{int(r.shot):03d}.jpg",
                  "thumbnail": f"keyframes/thumb_shot{int(r.shot):03d}.jpg",
                  "description": describe_shot(fx.loc[int(r.shot)].to_dict(), "", rules),
                  "transcript": str(text[i] or "")}
                 for i, r in enumerate(shots.itertuples())]  # fmt: skip
    preds = []
    for r in pred.shots.to_dict("records"):
        names = predictor.classes[r["index"]]["names"]
        preds.append({"shot": int(r["shot"]), "audience": str(r["group"]), "index": str(r["index"]),
                      "class_name": str(r["class_name"]),
                      "probabilities": {n: float(r[f"p_{n}"]) for n in names},
                      "value": float(r["value"]), "value_lo": float(r["value_lo"]),
                      "value_hi": float(r["value_hi"])})  # fmt: skip
    effects = [{k: (str(val) if k == "group" else float(val)) for k, val in e.items()}
               for e in pred.ad.to_dict("records")]  # fmt: skip
    heat = []
    if pred.saliency is not None and cfg.get("heatmaps", True):
        from eyetrack.heatmap import overlay_png

        (ad_dir / "heatmaps").mkdir(exist_ok=True)
        mids = ((shots["onset_frame"] + shots["offset_frame"]) // 2).to_numpy()
        frames = sample_frames(video, mids)
        for i, sh in enumerate(shots["shot"]):
            for j, g in enumerate(groups):
                name = f"heatmaps/shot{int(sh):03d}_{safe_stem(g)}.png"
                overlay_png(pred.saliency[i, j], frames[i], ad_dir / name)
                heat.append({"shot": int(sh), "audience": g, "file": name})
    card = predictor.card
    sizes = card.get("group_train_median_participants", {})
    result = {
        "schema_version": SCHEMA_VERSION, "generated_by": f"hmllm {__version__}",
        "ad": {"name": video.name, "sha256": info.sha256, "duration_s": float(info.duration_s),
               "fps": float(info.fps), "width": int(info.width), "height": int(info.height),
               "has_audio": bool(info.has_audio), "video_file": "video" + video.suffix.lower()},
        "model": {"checkpoint": checkpoint.name, "model": str(card.get("model", "unknown")),
                  "fusion": str(card.get("fusion", "")), "feature_extractor": str(card.get("feature_extractor", "")),
                  "n_train_ads": int(card.get("n_train_ads", 0)), "k_anonymity": int(card.get("k_anonymity", 5)),
                  "best_val_p2_acc": card.get("best_val_p2_acc"), "seed": card.get("seed"),
                  "ensemble": int(card.get("ensemble", 1))},
        "audiences": [{"id": g, "train_median_participants": int(sizes.get(g, 0))} for g in groups],
        "classes": {k: list(predictor.classes[k]["names"]) for k in INDICES},
        "shots": shot_list, "predictions": preds, "effects": effects,
        "curves": _curves(shots, pred.shots, groups, float(info.duration_s), float(cfg["curve_step_s"])),
        "explanations": _explanations(pred.explanations, int(cfg["top_features"])), "heatmaps": heat,
        "training_effects": {"ctr": [float(x) for x in card.get("train_ctr", [])],
                             "completion": [float(x) for x in card.get("train_completion", [])]},
    }  # fmt: skip
    result["key_moments"] = key_moments(result, hook_s=float(cfg["hook_s"]))
    result["summary"] = summary_sentences(result)
    validate_result(result)
    tick("heatmaps+result")
    # the video travels with the report under a fixed safe name (inlined into the HTML when small)
    shutil.copyfile(video, ad_dir / result["ad"]["video_file"])
    out = ad_dir / "result.json"
    out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    from hmllm.report import export_static, render_report

    render_report(out, ad_dir / "index.html", cfg["report"])
    tick("html")
    if cfg["report"]["static"]:
        export_static(out, ad_dir, cfg["report"])
        tick("static")
    return out


def score_ads(videos: list[Path], audiences: list[str] | str, *, checkpoint: Path, out_dir: Path,
              cfg=None) -> list[Path]:  # fmt: skip
    """Score each video for each audience; several videos also get an A/B comparison result.

    Parameters
    ----------
    videos
        Ad files.
    audiences
        Audience ids or friendly aliases (``female_26-30``, ``women_26_30``); empty = every group
        the checkpoint knows.
    checkpoint
        A checkpoint written by ``hmllm train`` (``best.pt``).
    out_dir
        Reports root: each ad goes to ``<out_dir>/<ad>/``; an A/B comparison to
        ``<out_dir>/compare_<a>_vs_<b>/``.
    cfg
        The ``score_cfg`` block (DictConfig or dict); ``None`` composes the shipped default.

    Returns
    -------
    list of Path
        One ``result.json`` per ad, then the comparison's ``compare.json`` when several ads.
    """
    from hmllm.model.predict import load_predictor

    if cfg is None:
        from hmllm.config import compose_config

        cfg = compose_config("score").score_cfg
    if OmegaConf.is_config(cfg):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    videos = [Path(v) for v in videos]
    if not videos:
        raise ConfigError("give at least one video: `hmllm score my_ad.mp4 audience=female_26-30`")
    for v in videos:
        if not v.is_file():
            raise DataError(f"{v}: no such video file")
    predictor = load_predictor(checkpoint, mc_samples=int(cfg["mc_samples"]), seed=int(cfg["seed"]))
    check_features_match(predictor, cfg["features"])
    groups = resolve_audiences(
        audiences, predictor.groups, int(predictor.card.get("k_anonymity", 5))
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stems = [safe_stem(v.name) for v in videos]
    if len(set(stems)) < len(stems):
        raise ConfigError(f"two ads would share a report folder ({stems}); rename one of the files")
    results = []
    for v in tqdm(videos, desc="score", unit="ad", disable=not cfg.get("progress", True)):
        results.append(score_video(v, groups, predictor, out_dir, cfg, checkpoint=Path(checkpoint)))
    if len(results) > 1:
        from hmllm.report import render_compare

        cmp_dir = out_dir / ("compare_" + "_vs_".join(stems))[:120]
        cmp_dir.mkdir(exist_ok=True)
        rel = [Path("..") / p.parent.name / p.name for p in results]
        comp = {"schema_version": SCHEMA_VERSION, "kind": "ab_comparison",
                "variants": [str(r.as_posix()) for r in rel], "audiences": groups}  # fmt: skip
        (cmp_dir / "compare.json").write_text(json.dumps(comp, indent=1), encoding="utf-8")
        render_compare(results, cmp_dir / "index.html", cfg["report"])
        results.append(cmp_dir / "compare.json")
    return results


def run(cfg) -> None:
    """CLI entry: ``hmllm score ad.mp4 [b.mp4] audience=[...] [checkpoint=...]``."""
    videos = [resolve_path(v) for v in (cfg.videos or [])]
    audience = cfg.audience
    if OmegaConf.is_config(audience):
        audience = OmegaConf.to_container(audience, resolve=True)
    audience = [audience] if isinstance(audience, str) else list(audience or [])
    out = score_ads(videos, audience, checkpoint=resolve_path(cfg.checkpoint),
                    out_dir=resolve_path(cfg.paths.reports), cfg=cfg.score_cfg)  # fmt: skip
    for p in out:
        print(f"report: {p.parent / 'index.html'}")
