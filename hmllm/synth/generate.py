"""Write a whole synthetic study: ads, participants, EEG + gaze per recording, outcomes, truth.

Work is split per ad (video) and per participant (all their recordings), run in parallel with
joblib. Every random draw comes from a generator seeded by (seed, kind, ids), so results do not
depend on worker order. Each participant's files are written into a private staging folder and
moved into the BIDS tree when complete, which makes interrupted runs resumable (finished
participants are skipped) and keeps mne-bids' shared top-level files out of the race.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm import tqdm

from hmllm import __version__
from hmllm.errors import ConfigError
from hmllm.synth import eeg as synth_eeg
from hmllm.synth import gaze as synth_gaze
from hmllm.synth.spec import EEG_FORMATS, validate
from hmllm.synth.video import write_ad
from hmllm.synth.world import (
    INDICES,
    Ad,
    assign_ads,
    group_expectations,
    latent_series,
    make_ad,
    make_participants,
    participant_effects,
    rng_for,
    summarise,
)

BASE_DATE = dt.datetime(2024, 3, 1, 9, 0, 0, tzinfo=dt.UTC)  # fixed: reruns stay byte-identical


def _participant_job(i: int, person: dict, ad_ids: list[int], ads: dict[int, Ad], s: dict,
                     root: Path) -> None:  # fmt: skip
    """Simulate and write every recording of participant ``i``; truth goes to a parts file."""
    import mne_bids

    seed = s["seed"]
    pid = person["participant_id"]
    label = pid.removeprefix("sub-")
    parts = root / "truth" / ".parts"
    if (parts / f"{label}.done").is_file():
        return
    staging = root / ".staging" / label
    shutil.rmtree(staging, ignore_errors=True)
    rng = rng_for(seed, 10, i)
    p_eeg, p_gaze = s["eeg"], s["gaze"]
    sfreq = float(rng.choice(p_eeg["sfreq_choices"]))
    eeg_fmt = p_eeg["formats"][i % len(p_eeg["formats"])]
    gaze_fmt = p_gaze["formats"][i % len(p_gaze["formats"])]
    gaze_sfreq = float(rng.choice(p_gaze["sfreq_hz"][gaze_fmt]))
    effects = participant_effects(i, s, seed)
    date = BASE_DATE + dt.timedelta(days=i)

    def write_eeg(raw, task: str) -> str:
        bp = mne_bids.BIDSPath(subject=label, task=task, datatype="eeg", root=staging)
        mne_bids.write_raw_bids(raw, bp, format=EEG_FORMATS[eeg_fmt], allow_preload=True,
                                overwrite=True, verbose=False)  # fmt: skip
        ext = ".edf" if eeg_fmt == "edf" else ".vhdr"
        return f"bids/sub-{label}/eeg/sub-{label}_task-{task}_eeg{ext}"

    # calm-video baseline: the participant's resting level, no video-driven modulation
    n_base = int(p_eeg["baseline_s"] * sfreq)
    rest = {k: np.full(n_base, effects[k][0]) for k in ("engagement", "valence")}
    rest["arousal"] = 0.5 * rest["engagement"] + 0.5 * np.abs(rest["valence"]) - 0.4
    data, _ = synth_eeg.simulate_eeg(rest, sfreq, p_eeg, rng_for(seed, 11, i))
    raw = synth_eeg.to_raw(data, sfreq, 1.0, p_eeg["baseline_s"] - 1.0, date)
    baseline_file = write_eeg(raw, "calm")

    sessions, per_sec, per_shot, fix_rows, art_rows = [], [], [], [], []
    for a in ad_ids:
        ad = ads[a]
        r = rng_for(seed, 12, i, a)
        series = latent_series(ad, pd.Series(person), effects, s, r)
        sec, shot = summarise(series, ad)
        per_sec.append(sec.assign(participant_id=pid, ad_id=ad.ad_id))
        per_shot.append(shot.assign(participant_id=pid, ad_id=ad.ad_id))
        # EEG: pre-roll jitter, clock drift, post-roll
        pre = float(r.uniform(*p_eeg["pre_roll_s"]))
        drift = float(r.uniform(*p_eeg["clock_drift_ppm"])) * 1e-6
        # whole seconds: EDF stores 1 s data records and would pad a partial one with edge values
        total = float(np.ceil(pre + ad.duration_s * (1 + drift) + p_eeg["post_roll_s"]))
        times = np.arange(int(total * sfreq)) / sfreq
        z = synth_eeg.latent_z_on_recording(series, effects, s, times, pre, drift)
        data, art = synth_eeg.simulate_eeg(z, sfreq, p_eeg, r)
        raw = synth_eeg.to_raw(data, sfreq, pre, pre + ad.duration_s * (1 + drift), date)
        eeg_file = write_eeg(raw, ad.ad_id)
        art_rows.append({"participant_id": pid, "ad_id": ad.ad_id, "pre_roll_s": pre,
                         "clock_drift_ppm": drift * 1e6, "blinks_s": json.dumps(art["blinks_s"]),
                         "bad_channels": json.dumps(art["bad_channels"])})  # fmt: skip
        # gaze
        layout = synth_gaze.screen_layout(p_gaze, s["video"]["width_px"], s["video"]["height_px"])
        samples, fix = synth_gaze.simulate_gaze(series["attention"], ad.shots, ad.duration_s,
                                                gaze_sfreq, layout, p_gaze, r)  # fmt: skip
        et_dir = staging / f"sub-{label}" / "eyetrack"
        et_dir.mkdir(parents=True, exist_ok=True)
        stem = f"sub-{label}_task-{ad.ad_id}_eyetrack"
        ext = ".asc" if gaze_fmt == "eyelink_asc" else ".tsv"
        if gaze_fmt == "eyelink_asc":
            synth_gaze.write_asc(et_dir / f"{stem}{ext}", samples, fix, gaze_sfreq,
                                 p_gaze["pre_roll_s"], ad.duration_s, layout, date)  # fmt: skip
        else:
            synth_gaze.write_tobii_tsv(et_dir / f"{stem}{ext}", samples, fix, p_gaze["pre_roll_s"],
                                       ad.duration_s, layout)  # fmt: skip
        synth_gaze.write_sidecar(et_dir / f"{stem}.json", gaze_fmt, gaze_sfreq, layout)
        if len(fix):
            fix_rows.append(fix.assign(participant_id=pid, ad_id=ad.ad_id))
        sessions.append({"participant_id": pid, "ad_id": ad.ad_id, "eeg_file": eeg_file,
                         "eeg_format": eeg_fmt, "eeg_sfreq_hz": sfreq,
                         "baseline_eeg_file": baseline_file,
                         "et_file": f"bids/sub-{label}/eyetrack/{stem}{ext}",
                         "et_format": gaze_fmt, "et_sfreq_hz": gaze_sfreq})  # fmt: skip
    # move the finished participant into the study, then record its truth
    dest = root / "bids" / f"sub-{label}"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.move(str(staging / f"sub-{label}"), str(dest))
    shutil.rmtree(staging, ignore_errors=True)
    parts.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(sessions).to_parquet(parts / f"{label}.sessions.parquet", index=False)
    pd.concat(per_sec).to_parquet(parts / f"{label}.second.parquet", index=False)
    pd.concat(per_shot).to_parquet(parts / f"{label}.shot.parquet", index=False)
    pd.DataFrame(art_rows).to_parquet(parts / f"{label}.artefacts.parquet", index=False)
    if fix_rows:
        pd.concat(fix_rows).to_parquet(parts / f"{label}.fixations.parquet", index=False)
    (parts / f"{label}.done").write_text("ok")


def _collect(parts: Path, kind: str, labels: list[str], key: list[str]) -> pd.DataFrame:
    files = [parts / f"{lab}.{kind}.parquet" for lab in labels]
    frames = [pd.read_parquet(f) for f in files if f.is_file()]
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True)
    front = [c for c in key if c in df.columns]
    return df[front + [c for c in df.columns if c not in front]].sort_values(front, kind="stable")


def _outcomes(ads: list[Ad], shot_truth: pd.DataFrame, s: dict) -> pd.DataFrame:
    """Ad outcomes driven by the audience's mean latent response (+ ad-level noise)."""
    o = s["outcomes"]
    per_ad = shot_truth.groupby("ad_id")[list(INDICES)].mean()
    early = shot_truth[shot_truth["shot"] <= 1].groupby("ad_id")["attention"].mean()
    feats = np.column_stack([per_ad["engagement"], per_ad["valence"], early.reindex(per_ad.index)])
    z = (feats - feats.mean(0)) / (feats.std(0) + 1e-9) if len(feats) > 1 else feats * 0
    row_of = {ad_id: j for j, ad_id in enumerate(per_ad.index)}  # by id, never by position
    rows = []
    for ad in sorted(ads, key=lambda a: a.ad_id):
        j = row_of[ad.ad_id]  # every ad has viewers (spec.validate checks the design)
        rng = rng_for(s["seed"], 20, ad.index)
        ctr = 1 / (
            1
            + np.exp(
                -(o["ctr_base"] + z[j] @ np.array(o["ctr_gain"]) + rng.normal(0, o["ad_noise_sd"]))
            )
        )
        comp = 1 / (
            1
            + np.exp(
                -(
                    o["completion_base"]
                    + z[j] @ np.array(o["completion_gain"])
                    + rng.normal(0, o["ad_noise_sd"])
                )
            )
        )
        imp = int(rng.integers(*o["impressions"]))
        rows.append({"ad_id": ad.ad_id, "impressions": imp, "clicks": int(rng.binomial(imp, ctr)),
                     "completions": int(rng.binomial(imp, comp)), "ctr_true": float(ctr),
                     "completion_true": float(comp)})  # fmt: skip
    return pd.DataFrame(rows)


def _write_tsv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, sep="\t", index=False, na_rep="n/a", float_format="%.6g")


def generate_study(cfg) -> Path:
    """Write the synthetic study described by ``cfg`` (the composed `synth` config).

    Returns
    -------
    Path
        The study root (``paths.study_root``), laid out as in ``docs/contracts.md`` §1.
    """
    import mne_bids

    from hmllm.paths import ensure_writable_dir

    s = validate(cfg)
    root = ensure_writable_dir(cfg.paths.study_root, "paths.study_root")
    study_json = root / "study.json"
    # settings that change how, not what, is generated stay out of the record
    content_cfg = {k: v for k, v in s.items() if k not in ("n_jobs", "progress", "overwrite")}
    meta = {"name": str(cfg.paths.study), "generator": "hmllm.synth", "version": __version__,
            "seed": s["seed"], "config": content_cfg}  # fmt: skip
    if study_json.is_file():
        old = json.loads(study_json.read_text())
        if old.get("config") != content_cfg and not s["overwrite"]:
            raise ConfigError(
                f"{root} already holds a study generated with another config; pass "
                "synth.overwrite=true to replace it, or choose another paths.study / paths.data_root"
            )
        if old.get("config") != content_cfg:
            for sub in ("bids", "stimuli", "truth", ".staging", "derivatives", "prepared"):
                shutil.rmtree(root / sub, ignore_errors=True)
    elif any(p for p in root.iterdir() if not p.name.startswith(".")) and not s["overwrite"]:
        raise ConfigError(
            f"{root} is not empty and holds no hmllm study; choose an empty paths.study_root or pass "
            "synth.overwrite=true"
        )
    (root / "stimuli").mkdir(exist_ok=True)
    (root / "truth").mkdir(exist_ok=True)
    (root / "bids").mkdir(exist_ok=True)
    study_json.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    seed = s["seed"]
    ads = {a: make_ad(a, s, seed) for a in range(s["n_ads"])}
    people = make_participants(s, seed)
    assignment = assign_ads(s, seed)
    progress = bool(s["progress"])
    par = Parallel(n_jobs=s["n_jobs"], return_as="generator_unordered")

    todo_ads = [a for a in ads.values() if not (root / "stimuli" / f"{a.ad_id}.mp4").is_file()]
    for _ in tqdm(par(delayed(write_ad)(a, root / "stimuli" / f"{a.ad_id}.mp4", s["video"], seed)
                      for a in todo_ads), total=len(todo_ads), desc="synth ads", unit="ad",
                  disable=not progress):  # fmt: skip
        pass
    jobs = (delayed(_participant_job)(i, people.iloc[i].to_dict(), assignment[i], ads, s, root)
            for i in range(len(people)))  # fmt: skip
    for _ in tqdm(par(jobs), total=len(people), desc="synth recordings", unit="participant",
                  disable=not progress):  # fmt: skip
        pass

    labels = [p.removeprefix("sub-") for p in people["participant_id"]]
    parts = root / "truth" / ".parts"
    key = ["participant_id", "ad_id"]
    sessions = _collect(parts, "sessions", labels, key)
    _write_tsv(sessions, root / "sessions.tsv")
    sec = _collect(parts, "second", labels, [*key, "second"])
    shot = _collect(parts, "shot", labels, [*key, "shot"])
    sec.to_parquet(root / "truth" / "latent_second.parquet", index=False)
    shot.to_parquet(root / "truth" / "latent_shot.parquet", index=False)
    _collect(parts, "fixations", labels, [*key, "onset_s"]).to_parquet(
        root / "truth" / "fixations.parquet", index=False
    )
    _collect(parts, "artefacts", labels, key).to_parquet(
        root / "truth" / "artefacts.parquet", index=False
    )
    shots = pd.concat([a.shots for a in ads.values()], ignore_index=True)
    shots.to_parquet(root / "truth" / "shots.parquet", index=False)
    for name, with_ad in (("group_shot", False), ("group_shot_ad", True)):
        groups = [group_expectations(a, s, seed, ad_offsets=with_ad) for a in ads.values()]
        pd.concat(groups, ignore_index=True).to_parquet(
            root / "truth" / f"{name}.parquet", index=False
        )
    outcomes = _outcomes(list(ads.values()), shot, s)
    _write_tsv(outcomes[["ad_id", "impressions", "clicks", "completions"]], root / "outcomes.tsv")
    ad_truth = pd.DataFrame([{"ad_id": a.ad_id, "industry": a.industry, "fps": a.fps,
                              "n_frames": a.n_frames, "n_shots": len(a.shots),
                              **{f"offset_{k}": v for k, v in a.offsets.items()}}
                             for a in ads.values()])  # fmt: skip
    ad_truth.merge(outcomes[["ad_id", "ctr_true", "completion_true"]]).to_parquet(
        root / "truth" / "ads.parquet", index=False
    )
    v = s["video"]
    ads_tsv = pd.DataFrame([{"ad_id": a.ad_id, "file": f"{a.ad_id}.mp4", "duration_s": round(a.duration_s, 6),
                             "fps": a.fps, "width": v["width_px"], "height": v["height_px"],
                             "industry": a.industry} for a in ads.values()])  # fmt: skip
    _write_tsv(ads_tsv, root / "stimuli" / "ads.tsv")
    # BIDS top level, written once (participants' folders were moved in by the workers)
    bids = root / "bids"
    _write_tsv(people, bids / "participants.tsv")
    (bids / "participants.json").write_text(json.dumps({
        "participant_id": {"Description": "pseudonymised participant label"},
        "age": {"Description": "age", "Units": "years"},
        **{name: {"Description": f"audience attribute {name}", "Levels": {k: k for k in dist}}
           for name, dist in s["attributes"].items()},
    }, indent=2, sort_keys=True) + "\n")  # fmt: skip
    mne_bids.make_dataset_description(path=bids, name=f"hmllm synthetic Video-SME ({cfg.paths.study})",
                                      authors=["hmllm synth"], overwrite=True, verbose=False)  # fmt: skip
    shutil.rmtree(root / ".staging", ignore_errors=True)
    return root
