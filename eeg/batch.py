"""`hmllm eeg`: every recording of a study → per-second / per-shot indices (parallel, resumable).

Reads ``sessions.tsv`` (contract §1), the ads' durations and the shot table, processes each
participant's calm baseline once and then their recordings, caching each recording's result under
``derivatives/eeg/recordings/`` keyed by input-file hash and config hash; a re-run skips finished
recordings. A recording that cannot be used gets a quality row saying why, never made-up numbers.
Then, per ad, the inter-subject correlation across its viewers (:func:`eeg.isc.ad_isc`) goes to
``isc.parquet`` from the video-locked EEG each recording left in the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from eeg.errors import EEGInputError
from eeg.isc import ad_covariances, ad_isc, common_channels, correlated_components
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
            for kind in ("second.parquet", "shot.parquet", "quality.json", "isc.npz")
        ]
        # quality.json is written last, so its presence marks a finished recording
        if h != "missing" and all(f.is_file() for f in files[:3]):
            out.append(
                (
                    pd.read_parquet(files[0]),
                    pd.read_parquet(files[1]),
                    json.loads(files[2].read_text()),
                    files[3] if files[3].is_file() else None,
                )
            )
            continue
        base_q = {"participant_id": pid, "ad_id": r["ad_id"], "file": r["eeg_file"]}
        try:
            qc_png = None
            if cfg["qc_figures"]:
                (cache.parent / "qc").mkdir(exist_ok=True)
                qc_png = cache.parent / "qc" / f"{stem}.png"
            sec, shot, q, locked = process_recording(
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
                    None,
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
        if locked is not None:
            np.savez(files[3], data=locked["data"], ch_names=np.array(locked["ch_names"]),
                     valid=locked["valid"])  # fmt: skip
        files[2].write_text(json.dumps(q))
        out.append((sec, shot, q, files[3] if locked is not None else None))
    return out


def _load_viewers(files: list[Path]) -> list[dict]:
    viewers = []
    for f in files:
        with np.load(f) as z:
            viewers.append({"data": z["data"], "ch_names": [str(x) for x in z["ch_names"]],
                            "valid": z["valid"]})  # fmt: skip
    return viewers


def study_isc(locked_files: dict[str, list[Path]], shots: dict[str, pd.DataFrame], cfg: dict) -> pd.DataFrame:  # fmt: skip
    """ISC per ad across its viewers from the recordings' cached video-locked EEG.

    The correlated components are fitted once on the covariances pooled over every ad (weighted
    by the ad's length), as Dmochowski et al. (2014) did across stimuli, then each ad's per-second
    and per-shot ISC is measured along them (:func:`eeg.isc.ad_isc`).

    Parameters
    ----------
    locked_files
        ``{ad_id: [isc.npz of each usable recording]}``.
    shots
        ``{ad_id: shot table}`` (``shot, onset_s, offset_s``, video time s).
    cfg
        The ``eeg`` config (``isc`` keys, ``min_valid_fraction``).

    Returns
    -------
    pd.DataFrame
        ``ad_id`` plus the columns of :func:`eeg.isc.ad_isc`, one block per ad of
        ``locked_files`` (all missing where the study or the ad has too few viewers).
    """
    c = cfg["isc"]
    fs = float(c["sfreq_hz"])
    ads = sorted(locked_files)
    bar = {"unit": "ad", "disable": not cfg["progress"]}
    names = []
    for ad in ads:
        for f in locked_files[ad]:
            with np.load(f) as z:
                names.append({"ch_names": [str(x) for x in z["ch_names"]]})
    chans = common_channels(names)
    rw, rb, n_total = 0.0, 0.0, 0
    for ad in tqdm(ads, desc="eeg isc components", **bar):
        cov = ad_covariances(_load_viewers(locked_files[ad]), fs, chans)
        if cov is not None:
            rw, rb, n_total = rw + cov[0] * cov[2], rb + cov[1] * cov[2], n_total + cov[2]
    weights = None
    if n_total:
        weights = correlated_components(rw / n_total, rb / n_total, n_components=int(c["n_components"]),
                                        shrinkage=float(c["shrinkage"]))  # fmt: skip
    frames = []
    for ad in tqdm(ads, desc="eeg isc", **bar):
        tab = ad_isc(_load_viewers(locked_files[ad]), fs, shots[ad], weights, chans, window_s=float(c["window_s"]),
                     min_viewers=int(c["min_viewers"]), min_shot_s=float(c["min_shot_s"]),
                     min_valid_fraction=float(cfg["min_valid_fraction"]))  # fmt: skip
        tab.insert(0, "ad_id", ad)
        frames.append(tab)
    cols = ["ad_id", "second", "shot", "index", "value", "n_viewers", "missing"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


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
    # the recording cache depends on every key but the run settings and the study-level ISC ones
    keyed = {k: v for k, v in e.items() if k not in ("n_jobs", "progress", "isc")}
    keyed["isc"] = {k: e["isc"][k] for k in ("enabled", "sfreq_hz")}
    key = hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:8]
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
    isc_file = out / "isc.parquet"
    if e["isc"]["enabled"]:
        locked: dict[str, list[Path]] = {ad: [] for ad in sorted(set(sessions["ad_id"]))}
        for _, _, q, f in results:
            if f is not None:
                locked[q["ad_id"]].append(f)
        study_isc(locked, shots, e).to_parquet(isc_file, index=False)
    else:
        isc_file.unlink(missing_ok=True)  # never leave a table from another configuration
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
    if (out / "isc.parquet").is_file():
        isc = pd.read_parquet(out / "isc.parquet", columns=["ad_id", "missing"])
        print(f"eeg isc: {isc.loc[~isc['missing'], 'ad_id'].nunique()}/{isc['ad_id'].nunique()} "
              f"ads with >= {cfg.eeg.isc.min_viewers} viewers -> {out / 'isc.parquet'}")  # fmt: skip
