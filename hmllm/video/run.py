"""`hmllm video`: shots, keyframes and shot features for every ad of a study (resumable).

Phase 1 (per ad, parallel): probe → detect shots → keyframes; results are kept per ad under
``derivatives/video/ads/<ad_id>/`` with a stamp of the file hash and settings, so a re-run skips
ads whose video and settings are unchanged. Phase 2 (per ad, parallel): shot features through the
content-hash cache. The CNN encoder is first trained once on the whole study's frames.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from omegaconf import OmegaConf
from tqdm import tqdm

from hmllm.errors import DataError
from hmllm.paths import resolve_path
from hmllm.video.features import config_hash, shot_features
from hmllm.video.frames import keyframes, sample_frames, shot_frame_indices
from hmllm.video.probe import probe
from hmllm.video.shots import detect_shots

log = logging.getLogger(__name__)


def analyse_video(
    path: Path, ad_id: str, video_cfg: dict, out_dir: Path
) -> tuple[pd.DataFrame, dict]:
    """Probe, split into shots and write keyframes for one video (skipped when already done).

    Returns the shot table (with ``ad_id``) and the probe as a dict.
    """
    import torch

    torch.set_num_threads(1)  # joblib runs several ads at once on few cores
    ad_dir = out_dir / "ads" / ad_id
    info = probe(path, max_pixels=int(video_cfg["max_pixels"]),
                 max_duration_s=float(video_cfg["max_duration_s"]))  # fmt: skip
    stamp = {"sha256": info.sha256, "video": video_cfg}
    stamp_file = ad_dir / "stamp.json"
    if stamp_file.is_file() and json.loads(stamp_file.read_text()) == json.loads(json.dumps(stamp)):
        return pd.read_parquet(ad_dir / "shots.parquet"), info.to_dict()
    shots = detect_shots(path, detector=video_cfg["detector"], fps=info.fps, n_frames=info.n_frames,
                         fade_threshold=video_cfg["fade_threshold"],
                         dissolve=video_cfg.get("dissolve"),
                         **dict(video_cfg["detector_params"]))  # fmt: skip
    shots.insert(0, "ad_id", ad_id)
    keyframes(
        path, shots, out_dir / "keyframes" / ad_id, thumb_width=int(video_cfg["thumb_width_px"])
    )
    ad_dir.mkdir(parents=True, exist_ok=True)
    shots.to_parquet(ad_dir / "shots.parquet", index=False)
    stamp_file.write_text(json.dumps(stamp))
    return shots, info.to_dict()


def _features(path: Path, ad_id: str, shots: pd.DataFrame, feat_cfg: dict, cache: Path,
              sha: str) -> pd.DataFrame:  # fmt: skip
    import torch

    torch.set_num_threads(1)
    feats = shot_features(path, shots, feat_cfg, cache, video_sha256=sha)
    feats.insert(0, "ad_id", ad_id)
    return feats


def train_study_cnn(
    videos: list[Path], shots: list[pd.DataFrame], feat_cfg: dict, cache: Path
) -> Path:
    """Train (or reuse) the CNN encoder on frames of every ad of the study; returns the weights."""
    from hmllm.video import cnn

    size = (int(feat_cfg["width_px"]), int(feat_cfg["height_px"]))
    groups = []
    for path, sh in tqdm(
        list(zip(videos, shots, strict=True)), desc="cnn training frames", unit="ad"
    ):
        idx = shot_frame_indices(sh, int(feat_cfg["frames_per_shot"]))
        frames = sample_frames(path, np.concatenate(idx), size=size)
        groups += np.split(frames, np.cumsum([len(i) for i in idx])[:-1])
    return cnn.load_or_train(groups, feat_cfg, cache)


def process_study(cfg) -> Path:
    """Shots, keyframes and features of every ad in ``<study_root>/stimuli/ads.tsv``.

    Writes ``<paths.derivatives>/video/``: ``shots.parquet``, ``keyframes/<ad_id>/``,
    ``features.parquet`` + ``features.json`` (contracts §3) and ``probe.json``. Resumable: unchanged
    ads are not re-segmented and cached features are reused.

    Returns
    -------
    Path
        The output folder.
    """
    root = resolve_path(cfg.paths.study_root)
    ads_file = root / "stimuli" / "ads.tsv"
    if not ads_file.is_file():
        raise DataError(f"{ads_file} not found: a study needs stimuli/ads.tsv with columns "
                        "ad_id, file (see datasets/README.md); run `hmllm synth` for a demo study")  # fmt: skip
    ads = pd.read_csv(ads_file, sep="\t", dtype={"ad_id": str})
    for col in ("ad_id", "file"):
        if col not in ads.columns:
            raise DataError(f"{ads_file}: missing column {col!r} (needs ad_id, file)")
    out = resolve_path(cfg.paths.derivatives) / "video"
    out.mkdir(parents=True, exist_ok=True)
    video_cfg = OmegaConf.to_container(cfg.video, resolve=True)
    feat_cfg = OmegaConf.to_container(cfg.features, resolve=True)
    cache = resolve_path(cfg.paths.cache)
    n_jobs = int(video_cfg["n_jobs"])
    videos = [root / "stimuli" / f for f in ads["file"]]
    jobs = (
        delayed(analyse_video)(p, ad, video_cfg, out)
        for p, ad in zip(videos, ads["ad_id"], strict=True)
    )
    first = list(tqdm(Parallel(n_jobs=n_jobs, return_as="generator")(jobs), total=len(ads),
                      desc="video shots", unit="ad", disable=not video_cfg["progress"]))  # fmt: skip
    shots = [r[0] for r in first]
    if feat_cfg["name"] == "cnn" and not feat_cfg.get("weights"):
        feat_cfg["weights"] = str(train_study_cnn(videos, shots, feat_cfg, cache))
    jobs = (delayed(_features)(p, ad, sh, feat_cfg, cache, r[1]["sha256"])
            for p, ad, sh, r in zip(videos, ads["ad_id"], shots, first, strict=True))  # fmt: skip
    feats = list(tqdm(Parallel(n_jobs=n_jobs, return_as="generator")(jobs), total=len(ads),
                      desc=f"video features ({feat_cfg['name']})", unit="ad",
                      disable=not video_cfg["progress"]))  # fmt: skip
    all_shots = pd.concat(shots, ignore_index=True)
    all_feats = pd.concat(feats, ignore_index=True)
    all_shots.to_parquet(out / "shots.parquet", index=False)
    all_feats.to_parquet(out / "features.parquet", index=False)
    names = [c for c in all_feats.columns if c not in ("ad_id", "shot")]
    (out / "features.json").write_text(json.dumps({"columns": names, "encoder": feat_cfg["name"],
                                                   "config_hash": config_hash(feat_cfg),
                                                   "config": feat_cfg}, indent=2))  # fmt: skip
    (out / "probe.json").write_text(
        json.dumps({ad: r[1] for ad, r in zip(ads["ad_id"], first, strict=True)}, indent=2)
    )
    return out


def run(cfg) -> None:
    """CLI entry of `hmllm video`."""
    out = process_study(cfg)
    shots = pd.read_parquet(out / "shots.parquet")
    print(f"video: {shots['ad_id'].nunique()} ads, {len(shots)} shots -> {out}")
