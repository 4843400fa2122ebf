"""`hmllm eeg`: every recording of a study → per-second / per-shot indices (parallel, resumable).

Reads ``sessions.tsv`` (contract §1), the ads' durations and the shot table, processes each
participant's calm baseline once and then their recordings, caching each recording's result under
``derivatives/eeg/recordings/`` keyed by input-file hash and config hash; a re-run skips finished
recordings. A recording that cannot be used gets a quality row saying why, never made-up numbers.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pandas as pd
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from eeg.errors import EEGInputError
from eeg.pipeline import baseline_levels, process_recording

log = logging.getLogger(__name__)


def _hash_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def load_shots(source: str, study_root: Path, derivatives: Path) -> pd.DataFrame:
    """Shot table per ``source``: ``detected`` (video derivatives), ``truth`` or a file path."""
    from hmllm.paths import shot_table

    path, hint = shot_table(source, study_root, derivatives)
    if not path.is_file():
        raise EEGInputError(f"shot table {path} not found; {hint}")
    return pd.read_parquet(path, columns=["ad_id", "shot", "onset_s", "offset_s"])


def _participant_job(pid: str, rows: list[dict], root: Path, durations: dict, shots: dict,
                     cfg: dict, cache: Path, key: str) -> list[tuple]:  # fmt: skip
    # one BLAS thread per worker: the work is parallel across participants, and nested BLAS
    # threads on a shared machine made small matrix products ~100x slower (measured)
    with threadpool_limits(limits=1):
        return _participant_recordings(pid, rows, root, durations, shots, cfg, cache, key)


def _participant_recordings(pid: str, rows: list[dict], root: Path, durations: dict, shots: dict,
                            cfg: dict, cache: Path, key: str) -> list[tuple]:  # fmt: skip
    out = []
    baseline = None
    base_err = None
    if cfg["use_baseline"]:
        base_file = rows[0].get("baseline_eeg_file")
        if isinstance(base_file, str) and base_file:
            try:
                baseline = baseline_levels(root / base_file, cfg)
            except EEGInputError as exc:
                base_err = str(exc)
    for r in rows:
        path = root / r["eeg_file"]
        stem = f"{pid}_{r['ad_id']}"
        try:
            # the cache key covers the file, the config and this ad's shot boundaries
            shots_key = hashlib.sha256(
                shots[r["ad_id"]][["onset_s", "offset_s"]].to_numpy().tobytes()
            ).hexdigest()[:8]
            h = _hash_file(path) + key + shots_key
        except OSError:
            h = "missing"
        files = [
            cache / f"{stem}.{h}.{kind}"
            for kind in ("second.parquet", "shot.parquet", "quality.json")
        ]
        if h != "missing" and all(f.is_file() for f in files):
            out.append(
                (
                    pd.read_parquet(files[0]),
                    pd.read_parquet(files[1]),
                    json.loads(files[2].read_text()),
                )
            )
            continue
        base_q = {"participant_id": pid, "ad_id": r["ad_id"], "file": r["eeg_file"]}
        try:
            qc_png = None
            if cfg["qc_figures"]:
                (cache.parent / "qc").mkdir(exist_ok=True)
                qc_png = cache.parent / "qc" / f"{stem}.png"
            sec, shot, q = process_recording(
                path, durations[r["ad_id"]], shots[r["ad_id"]], cfg, baseline, qc_png=qc_png
            )
            if base_err:
                q["flags"] = ";".join(filter(None, [q["flags"], "baseline_unusable"]))
        except EEGInputError as exc:
            out.append(
                (
                    pd.DataFrame(),
                    pd.DataFrame(),
                    {**base_q, "usable": False, "flags": "error", "error": str(exc)},
                )
            )
            continue
        sec.insert(0, "ad_id", r["ad_id"])
        sec.insert(0, "participant_id", pid)
        shot.insert(0, "ad_id", r["ad_id"])
        shot.insert(0, "participant_id", pid)
        q = {**base_q, **q, "error": ""}
        sec.to_parquet(files[0], index=False)
        shot.to_parquet(files[1], index=False)
        files[2].write_text(json.dumps(q))
        out.append((sec, shot, q))
    return out


def process_study(cfg) -> Path:
    """Process every EEG recording of the study; returns ``<derivatives>/eeg``."""
    from omegaconf import OmegaConf

    from hmllm.paths import resolve_path

    root = resolve_path(cfg.paths.study_root)
    deriv = resolve_path(cfg.paths.derivatives)
    e = OmegaConf.to_container(cfg.eeg, resolve=True)
    sessions_file = root / "sessions.tsv"
    if not sessions_file.is_file():
        raise EEGInputError(
            f"{sessions_file} not found; a study lists its recordings there (datasets/README.md)"
        )
    sessions = pd.read_csv(sessions_file, sep="\t", dtype=str, keep_default_na=False)
    sessions = sessions[sessions["eeg_file"] != ""]
    ads_file = root / "stimuli" / "ads.tsv"
    if not ads_file.is_file():
        raise EEGInputError(
            f"{ads_file} not found; it gives each ad's duration_s (docs/contracts.md §1)"
        )
    ads = pd.read_csv(ads_file, sep="\t", dtype={"ad_id": str})
    durations = dict(zip(ads["ad_id"], ads["duration_s"].astype(float), strict=True))
    shot_tab = load_shots(e["shots_source"], root, deriv)
    shots = {
        ad: g.sort_values("shot").reset_index(drop=True) for ad, g in shot_tab.groupby("ad_id")
    }
    unknown = sorted(set(sessions["ad_id"]) - set(durations) - set())
    if unknown:
        raise EEGInputError(f"{sessions_file}: ads {unknown[:5]} are not in stimuli/ads.tsv")
    missing_shots = sorted(set(sessions["ad_id"]) - set(shots))
    if missing_shots:
        raise EEGInputError(f"no shots for ads {missing_shots[:5]}; re-run `hmllm video`")
    out = deriv / "eeg"
    cache = out / "recordings"
    cache.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(json.dumps({k: v for k, v in e.items() if k not in ("n_jobs", "progress")},
                                    sort_keys=True).encode()).hexdigest()[:8]  # fmt: skip
    groups = [
        (pid, g.to_dict("records")) for pid, g in sessions.groupby("participant_id", sort=True)
    ]
    jobs = (
        delayed(_participant_job)(pid, rows, root, durations, shots, e, cache, key)
        for pid, rows in groups
    )
    results = []
    for res in tqdm(Parallel(n_jobs=int(e["n_jobs"]), return_as="generator")(jobs), total=len(groups),
                    desc="eeg", unit="participant", disable=not e["progress"]):  # fmt: skip
        results.extend(res)
    secs = [r[0] for r in results if len(r[0])]
    shots_out = [r[1] for r in results if len(r[1])]
    quality = pd.DataFrame([r[2] for r in results])
    if not secs:
        raise EEGInputError(f"no usable EEG recording in {root}; see {out / 'quality.parquet'}")
    pd.concat(secs, ignore_index=True).to_parquet(out / "per_second.parquet", index=False)
    pd.concat(shots_out, ignore_index=True).to_parquet(out / "per_shot.parquet", index=False)
    quality.to_parquet(out / "quality.parquet", index=False)
    return out


def run(cfg) -> None:
    """CLI entry of `hmllm eeg` (errors become one-line messages)."""
    from hmllm.errors import DataError

    try:
        out = process_study(cfg)
    except EEGInputError as exc:
        raise DataError(str(exc)) from None
    q = pd.read_parquet(out / "quality.parquet")
    print(f"eeg: {int(q['usable'].sum())}/{len(q)} recordings usable -> {out}")
