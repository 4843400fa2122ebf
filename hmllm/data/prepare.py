"""`hmllm prepare`: video + EEG + gaze outputs + participants → the prepared dataset (contract §4).

Stages: ``hmllm.video.process_study`` (shots, features) → ``eeg.batch.process_study`` and
``eyetrack.batch.process_study`` (per-shot indices on the detected shots) → labels. Each upstream
stage is resumable (it skips recordings it has cached); the labelling stage is skipped when its
inputs and config hash to the value recorded in ``prepared.json``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from hmllm.data.effects import read_outcomes
from hmllm.data.groups import audience_groups, membership
from hmllm.data.instructions import build_instructions
from hmllm.data.join import participant_shot_table, wide_signals
from hmllm.data.labels import INDEX_NAMES, bin_values, class_thresholds, group_labels
from hmllm.data.normalise import normalise
from hmllm.data.oracle import align_to_labels, oracle_participant_shot
from hmllm.data.signals import group_signals, read_fixations, saliency_maps
from hmllm.data.splits import split_ads, subsample_participants
from hmllm.data.stats import write_stats
from hmllm.data.study import read_participants, read_sessions
from hmllm.errors import ConfigError, DataError
from hmllm.paths import resolve_path

log = logging.getLogger(__name__)

STAGES = ("video", "eeg", "eyetrack")
FORMAT_VERSION = 2  # bump when the prepared layout changes, so old outputs are rebuilt


def run_stages(cfg: DictConfig, stages: list[str], n_jobs: int | None) -> dict[str, float]:
    """Run the upstream stages in order (each resumable); returns seconds per stage.

    ``n_jobs`` (``data.n_jobs``), when set, overrides each stage's own ``<stage>.n_jobs``.
    """
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ConfigError(
            f"data.run_stages: unknown stage(s) {unknown}; choose from {list(STAGES)}"
        )
    if n_jobs is not None:
        cfg = copy.deepcopy(cfg)  # the caller's config stays as given
        for stage in stages:
            if stage in cfg and "n_jobs" in cfg[stage]:
                OmegaConf.update(cfg, f"{stage}.n_jobs", int(n_jobs), force_add=False)
    timings = {}
    for stage in STAGES:  # fixed order: the signal stages read the detected shots
        if stage not in stages:
            continue
        if stage == "video":
            from hmllm.video import process_study
        elif stage == "eeg":
            from eeg.batch import process_study
        else:
            from eyetrack.batch import process_study
        t0 = time.perf_counter()
        try:
            process_study(cfg)
        except (
            ValueError
        ) as exc:  # the signal packages raise ValueError subclasses (no hmllm import)
            raise DataError(f"{stage} stage: {exc}") from None
        timings[stage] = time.perf_counter() - t0
    return timings


def input_hash(paths: list[Path], settings: dict) -> str:
    """Content hash of the input files (bytes) and the settings — the labelling stage's cache key."""
    h = hashlib.sha256(
        json.dumps(
            {"settings": settings, "format": FORMAT_VERSION}, sort_keys=True, default=str
        ).encode()
    )
    for p in sorted(paths):
        h.update(str(p.name).encode())
        if p.is_file():
            with p.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()[:16]


def shot_transcripts(root: Path, shots: pd.DataFrame) -> dict[tuple[str, int], str]:
    """Words spoken/shown per shot from the ads' ``.srt`` sidecars (empty where there is none)."""
    from hmllm.video.transcript import shot_transcripts as per_ad

    out: dict[tuple[str, int], str] = {}
    for ad, sh in shots.groupby("ad_id", sort=True):
        sh = sh.sort_values("shot")
        texts = per_ad(root / "stimuli" / f"{ad}.mp4", sh)
        out.update({(ad, int(s)): t for s, t in zip(sh["shot"], texts, strict=True)})
    return out


def label_classes(labels: pd.DataFrame, classes_cfg: dict) -> dict:
    """Add ``<index>_class`` columns (thresholds from the TRAIN split) and return classes.json content."""
    method = classes_cfg["method"]
    classes = {}
    for idx in INDEX_NAMES:
        spec = classes_cfg[idx]
        thr = class_thresholds(labels.loc[labels["split"] == "train", idx], spec, method)
        labels[f"{idx}_class"] = bin_values(labels[idx], thr)
        classes[idx] = {"names": list(spec["names"]), "thresholds": thr, "method": method,
                        "quantiles": list(spec["quantiles"]) if method == "quantile" else None,
                        "fitted_on": "train"}  # fmt: skip
    return classes


def _recorded(df: pd.DataFrame, watched: set[tuple[str, str]]) -> np.ndarray:
    """Rows whose (participant, ad) is a recording in ``watched`` (bool mask)."""
    pairs = zip(df["participant_id"], df["ad_id"], strict=True)
    return np.fromiter((p in watched for p in pairs), bool, len(df))


def prepare_study(cfg: DictConfig) -> Path:
    """Build the prepared dataset under ``paths.prepared`` and return that directory.

    Parameters
    ----------
    cfg : DictConfig
        The composed ``configs/prepare.yaml`` (``paths``, ``data``, ``audience`` and the stage groups).

    Returns
    -------
    Path
        ``<study_root>/prepared`` with the tables of docs/contracts.md §4.
    """
    d = OmegaConf.to_container(cfg.data, resolve=True)
    aud = OmegaConf.to_container(cfg.audience, resolve=True)
    root = resolve_path(cfg.paths.study_root)
    deriv = resolve_path(cfg.paths.derivatives)
    out = resolve_path(cfg.paths.prepared)
    if not root.is_dir():
        raise DataError(
            f"study root {root} does not exist; generate one with `hmllm synth` or set paths.study_root"
        )
    if d["normalise"] == "baseline" and not bool(
        OmegaConf.select(cfg, "eeg.use_baseline", default=False)
    ):
        raise ConfigError(
            "data.normalise=baseline needs eeg.use_baseline=true (EN/EM relative to the calm video)"
        )
    attributes = ["gender", "age_band", *(aud.get("extra_attributes") or [])]
    participants = read_participants(root, attributes)
    sessions = read_sessions(root, participants)
    timings = run_stages(cfg, list(d["run_stages"]), d.get("n_jobs"))

    inputs = [
        deriv / s / n for s in ("eeg", "eyetrack") for n in ("per_shot.parquet", "quality.parquet")
    ]
    inputs += [deriv / "eyetrack" / "fixations.parquet", deriv / "video" / "shots.parquet", deriv / "video" / "features.parquet",
               root / "bids" / "participants.tsv", root / "sessions.tsv", root / "outcomes.tsv", root / "truth" / "group_shot.parquet", root / "truth" / "group_shot_ad.parquet", root / "truth" / "shots.parquet"]  # fmt: skip
    settings = {
        k: v for k, v in d.items() if k not in ("n_jobs", "progress", "run_stages", "resume")
    }
    sub = settings.pop("subsample", None) or {}
    if sub.get("n_participants") is not None:  # off: hashes stay those of datasets made before it
        settings["subsample"] = sub
    key = input_hash(inputs, {"data": settings, "audience": aud})
    meta_path = out / "prepared.json"
    if (
        d.get("resume", True)
        and meta_path.is_file()
        and json.loads(meta_path.read_text()).get("input_hash") == key
    ):
        log.info("prepared dataset at %s is up to date (input hash %s)", out, key)
        return out

    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    meta_path.unlink(missing_ok=True)  # written last: its presence marks a complete dataset
    steps = tqdm(total=8, desc="prepare", unit="step", disable=not d.get("progress", True))

    shots = pd.read_parquet(deriv / "video" / "shots.parquet")
    split = split_ads(sorted(shots["ad_id"].unique()), **d["split"])
    if sub.get("n_participants") is not None:
        sessions = subsample_participants(sessions, split, **sub)

    # 1. per-participant per-shot table, normalised within participant (raw kept)
    pshot = participant_shot_table(
        deriv, d["indices"], participants, min_valid_fraction=float(d["min_valid_fraction"])
    )
    watched = set(zip(sessions["participant_id"], sessions["ad_id"], strict=True))
    pshot = pshot[
        [pair in watched for pair in zip(pshot["participant_id"], pshot["ad_id"], strict=True)]
    ]
    for idx in INDEX_NAMES:
        pshot[f"{idx}_raw"] = pshot[idx]
    pshot = normalise(pshot, list(INDEX_NAMES), d["normalise"])
    steps.update()

    # 2. audience groups → k-anonymous group labels, splits by ad, classes from train only
    groups = audience_groups(participants, aud)
    member = membership(participants, groups)
    labels = group_labels(pshot, member, int(aud["k_anonymity"]))
    labels["split"] = labels["ad_id"].map(split)
    if labels["split"].isna().any():
        bad = sorted(labels.loc[labels["split"].isna(), "ad_id"].unique())
        raise DataError(
            f"signal outputs have ads {bad[:5]} that are not in {deriv / 'video' / 'shots.parquet'}; re-run `hmllm video`"
        )
    classes = label_classes(labels, d["classes"])
    groups = groups[groups["group"].isin(set(labels["group"]))].reset_index(drop=True)
    member = member[member["group"].isin(set(groups["group"]))]
    cols = ["ad_id", "shot", "group", "n_participants", *INDEX_NAMES, *[f"{i}_sd" for i in INDEX_NAMES],
            *[f"n_{i}" for i in INDEX_NAMES], *[f"{i}_class" for i in INDEX_NAMES], "split"]  # fmt: skip
    labels = labels[cols].sort_values(["ad_id", "shot", "group"]).reset_index(drop=True)
    labels.to_parquet(out / "labels.parquet", index=False)
    groups.to_parquet(out / "groups.parquet", index=False)
    steps.update()

    # 3. shots and features with their split
    shots.assign(split=shots["ad_id"].map(split)).to_parquet(out / "shots.parquet", index=False)
    feats = pd.read_parquet(deriv / "video" / "features.parquet")
    feats.assign(split=feats["ad_id"].map(split)).to_parquet(out / "features.parquet", index=False)
    steps.update()

    # 4. group-mean signal features (alignment partners) and saliency maps
    used = {}
    for spec in d["indices"].values():
        used.setdefault(spec["source"], set()).add(spec["index"])
    wide = wide_signals(deriv, used, min_valid_fraction=float(d["min_valid_fraction"]))
    wide = wide[wide["participant_id"].isin(set(pshot["participant_id"]))] if len(wide) else wide
    wide = wide[_recorded(wide, watched)] if len(wide) else wide
    group_signals(wide, member, labels).to_parquet(out / "signals.parquet", index=False)
    steps.update()
    fix = read_fixations(deriv)
    sal = saliency_maps(fix[_recorded(fix, watched)] if len(fix) else fix, member, labels, shape=tuple(d["saliency"]["shape"]),
                        sigma_frac=float(d["saliency"]["sigma_frac"]), progress=bool(d.get("progress", True)))  # fmt: skip
    np.savez_compressed(out / "saliency.npz", **sal)
    steps.update()

    # 5. ad-level effects
    outcomes = read_outcomes(root / "outcomes.tsv")
    ads = pd.DataFrame({"ad_id": sorted(split), "split": [split[a] for a in sorted(split)]})
    ads = ads.merge(
        outcomes[["ad_id", "impressions", "ctr", "completion_rate"]], on="ad_id", how="left"
    )
    ads.to_parquet(out / "ads.parquet", index=False)
    attrs = [c for c in participants.columns if c != "participant_id"]
    keep = [
        "participant_id",
        "ad_id",
        "shot",
        *INDEX_NAMES,
        *[f"{i}_raw" for i in INDEX_NAMES],
        *attrs,
    ]
    pshot[keep].to_parquet(out / "participant_shot.parquet", index=False)
    steps.update()

    # 6. instruction Q&A
    names = {i: classes[i]["names"] for i in INDEX_NAMES}
    n_questions = build_instructions(labels, groups, feats, shot_transcripts(root, shots), names, d["instructions"],
                                     out / "instructions.jsonl")  # fmt: skip
    steps.update()

    # 7. oracle (synthetic only): the same pipeline on the noise-free expectations — from content and
    #    audience (the noise ceiling, oracle.parquet) and also knowing each ad's hidden offset
    for truth_file, out_name in (("group_shot.parquet", "oracle.parquet"),
                                 ("group_shot_ad.parquet", "oracle_ad.parquet")):  # fmt: skip
        oracle_ps = oracle_participant_shot(root, pshot, shots, list(INDEX_NAMES), truth_file)
        if oracle_ps is None:
            continue
        oracle_ps = normalise(oracle_ps, list(INDEX_NAMES), d["normalise"])
        orc = group_labels(oracle_ps, member, 1)
        orc = orc.merge(labels[["ad_id", "shot", "group", "split"]], on=["ad_id", "shot", "group"])
        if out_name == "oracle.parquet":
            orc_classes = label_classes(orc, d["classes"])
            for idx in INDEX_NAMES:
                classes[idx]["oracle_thresholds"] = orc_classes[idx]["thresholds"]
        align_to_labels(orc, labels, list(INDEX_NAMES)).to_parquet(out / out_name, index=False)
    (out / "classes.json").write_text(json.dumps(classes, indent=2), encoding="utf-8")

    if d["stats"]["enabled"]:
        member_present = member[member["participant_id"].isin(set(pshot["participant_id"]))]
        write_stats(labels, pshot, member_present, names, out / "stats", dpi=int(d["stats"]["dpi"]))
    steps.update()
    steps.close()
    timings["labels"] = time.perf_counter() - t0
    meta = {
        "input_hash": key,
        "format_version": FORMAT_VERSION,
        "n_ads": int(labels["ad_id"].nunique()),
        "n_participants": int(pshot["participant_id"].nunique()),
        "n_labels": len(labels),
        "n_groups": len(groups),
        "n_questions": n_questions,
        "k_anonymity": int(aud["k_anonymity"]),
        "normalise": d["normalise"],
        "splits": {
            s: sorted(a for a, v in split.items() if v == s) for s in ("train", "val", "test")
        },
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }
    if sub.get("n_participants") is not None:
        meta["subsample"] = {**sub, "n_kept": int(
            pshot.loc[pshot["ad_id"].map(split).isin(sub["splits"]), "participant_id"].nunique())}  # fmt: skip
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
    (out / "prepared.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return out


def run(cfg: DictConfig) -> None:
    """CLI entry of `hmllm prepare`: build the dataset and print a one-line summary."""
    out = prepare_study(cfg)
    meta = json.loads((out / "prepared.json").read_text())
    print(
        f"prepared {meta['n_labels']} (ad, shot, group) labels over {meta['n_ads']} ads and {meta['n_groups']} groups "
        f"(k={meta['k_anonymity']}), {meta['n_questions']} questions -> {out}"
    )
