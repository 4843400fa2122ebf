"""`hmllm video`: shots, keyframes and shot features for every ad of a study (resumable)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from joblib import Parallel, delayed
from omegaconf import OmegaConf
from tqdm import tqdm

from hmllm.errors import DataError
from hmllm.paths import resolve_path
from hmllm.video.features import config_hash, shot_features
from hmllm.video.frames import keyframes
from hmllm.video.probe import probe
from hmllm.video.shots import detect_shots


def analyse_video(path: Path, ad_id: str, video_cfg: dict, feat_cfg: dict, out_dir: Path,
                  cache: Path | None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:  # fmt: skip
    """Probe, split into shots, write keyframes and compute features for one video."""
    info = probe(
        path,
        max_pixels=int(video_cfg["max_pixels"]),
        max_duration_s=float(video_cfg["max_duration_s"]),
    )
    shots = detect_shots(path, detector=video_cfg["detector"], fps=info.fps, n_frames=info.n_frames,
                         **dict(video_cfg["detector_params"]))  # fmt: skip
    shots.insert(0, "ad_id", ad_id)
    keyframes(
        path, shots, out_dir / "keyframes" / ad_id, thumb_width=int(video_cfg["thumb_width_px"])
    )
    feats = shot_features(path, shots, feat_cfg, cache, video_sha256=info.sha256)
    feats.insert(0, "ad_id", ad_id)
    return shots, feats, info.to_dict()


def process_study(cfg) -> Path:
    """Run :func:`analyse_video` over ``stimuli/ads.tsv``; writes ``derivatives/video/``."""
    root = resolve_path(cfg.paths.study_root)
    ads_file = root / "stimuli" / "ads.tsv"
    if not ads_file.is_file():
        raise DataError(
            f"{ads_file} not found: a study needs stimuli/ads.tsv (see datasets/README.md)"
        )
    ads = pd.read_csv(ads_file, sep="\t", dtype={"ad_id": str})
    out = resolve_path(cfg.paths.derivatives) / "video"
    out.mkdir(parents=True, exist_ok=True)
    video_cfg = OmegaConf.to_container(cfg.video, resolve=True)
    feat_cfg = OmegaConf.to_container(cfg.features, resolve=True)
    cache = resolve_path(cfg.paths.cache)
    stamp = {"video": {k: v for k, v in video_cfg.items() if k not in ("n_jobs", "progress")},
             "features": feat_cfg, "ads": ads.to_dict("list")}
    done_file = out / "done.json"
    if done_file.is_file() and json.loads(done_file.read_text()) == json.loads(json.dumps(stamp)):
        return out  # everything up to date
    jobs = (delayed(analyse_video)(root / "stimuli" / row.file, row.ad_id, video_cfg, feat_cfg, out, cache)
            for row in ads.itertuples())  # fmt: skip
    results = list(tqdm(Parallel(n_jobs=int(video_cfg["n_jobs"]), return_as="generator")(jobs),
                        total=len(ads), desc="video shots+features", unit="ad",
                        disable=not video_cfg["progress"]))  # fmt: skip
    shots = pd.concat([r[0] for r in results], ignore_index=True)
    feats = pd.concat([r[1] for r in results], ignore_index=True)
    shots.to_parquet(out / "shots.parquet", index=False)
    feats.to_parquet(out / "features.parquet", index=False)
    names = [c for c in feats.columns if c not in ("ad_id", "shot")]
    (out / "features.json").write_text(json.dumps({"columns": names, "encoder": feat_cfg["name"],
                                                   "config_hash": config_hash(feat_cfg)}, indent=2))  # fmt: skip
    (out / "probe.json").write_text(
        json.dumps({ad: r[2] for ad, r in zip(ads["ad_id"], results, strict=True)}, indent=2)
    )
    done_file.write_text(json.dumps(stamp))
    return out


def run(cfg) -> None:
    """CLI entry of `hmllm video`."""
    out = process_study(cfg)
    shots = pd.read_parquet(out / "shots.parquet")
    print(f"video: {shots['ad_id'].nunique()} ads, {len(shots)} shots -> {out}")
