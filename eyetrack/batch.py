"""`hmllm eyetrack`: every gaze recording of a study → metrics, fixations, synchrony (resumable)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm import tqdm

from eyetrack.errors import GazeInputError
from eyetrack.io import read_gaze
from eyetrack.pipeline import process_gaze


def load_shots(source: str, study_root: Path, derivatives: Path) -> pd.DataFrame:
    """Shot table per ``source``: ``detected`` (video derivatives), ``truth`` or a file path."""
    path = {"detected": derivatives / "video" / "shots.parquet", "truth": study_root / "truth" / "shots.parquet"}.get(source, Path(source))
    if not path.is_file():
        raise GazeInputError(f"shot table {path} not found; run `hmllm video` first (or `hmllm prepare`)")
    return pd.read_parquet(path, columns=["ad_id", "shot", "onset_s", "offset_s"])


def _job(rows: list[dict], root: Path, durations: dict, shots: dict, cfg: dict, cache: Path, key: str) -> list[tuple]:
    out = []
    for r in rows:
        path = root / r["et_file"]
        stem = f"{r['participant_id']}_{r['ad_id']}"
        base = {"participant_id": r["participant_id"], "ad_id": r["ad_id"], "file": r["et_file"]}
        try:
            shots_key = hashlib.sha256(shots[r["ad_id"]][["onset_s", "offset_s"]].to_numpy().tobytes()).hexdigest()[:8]
            h = hashlib.sha256(path.read_bytes()).hexdigest()[:16] + key + shots_key
        except OSError:
            out.append((None, None, None, {**base, "usable": False, "flags": "error", "error": f"{path}: missing"}))
            continue
        files = [cache / f"{stem}.{h}.{k}" for k in ("second.parquet", "shot.parquet", "fix.parquet", "quality.json")]
        if all(f.is_file() for f in files):
            out.append((pd.read_parquet(files[0]), pd.read_parquet(files[1]), pd.read_parquet(files[2]), json.loads(files[3].read_text())))
            continue
        try:
            rec = read_gaze(path, fmt=r.get("et_format") or None, cfg=cfg)
            sec, shot, fix, q = process_gaze(rec, durations[r["ad_id"]], shots[r["ad_id"]], cfg)
        except GazeInputError as exc:
            out.append((None, None, None, {**base, "usable": False, "flags": "error", "error": str(exc)}))
            continue
        for df in (sec, shot, fix):
            df.insert(0, "ad_id", r["ad_id"])
            df.insert(0, "participant_id", r["participant_id"])
        q = {**base, **q, "error": ""}
        sec.to_parquet(files[0], index=False)
        shot.to_parquet(files[1], index=False)
        fix.to_parquet(files[2], index=False)
        files[3].write_text(json.dumps(q))
        out.append((sec, shot, fix, q))
    return out


def synchrony(fix: pd.DataFrame, shots: pd.DataFrame) -> pd.DataFrame:
    """Attentional synchrony per (ad, shot): dispersion of viewers' mean on-video gaze (lower =
    viewers look at the same place), in video widths."""
    f = fix[fix["on_video"]]
    rows = []
    for (ad, shot), g in f.groupby(["ad_id", "shot"]):
        per_viewer = g.groupby("participant_id")[["x", "y"]].median()
        if len(per_viewer) >= 2:
            rows.append({"ad_id": ad, "shot": int(shot), "index": "gaze_dispersion",
                         "value": float(np.sqrt(per_viewer["x"].var() + per_viewer["y"].var())),
                         "n_viewers": len(per_viewer)})  # fmt: skip
    return pd.DataFrame(rows, columns=["ad_id", "shot", "index", "value", "n_viewers"])


def process_study(cfg) -> Path:
    """Process every gaze recording; returns ``<derivatives>/eyetrack``."""
    from omegaconf import OmegaConf

    from hmllm.paths import resolve_path

    root = resolve_path(cfg.paths.study_root)
    deriv = resolve_path(cfg.paths.derivatives)
    e = OmegaConf.to_container(cfg.eyetrack, resolve=True)
    sessions_file = root / "sessions.tsv"
    if not sessions_file.is_file():
        raise GazeInputError(f"{sessions_file} not found; a study lists its recordings there (datasets/README.md)")
    sessions = pd.read_csv(sessions_file, sep="\t", dtype=str, keep_default_na=False)
    sessions = sessions[sessions["et_file"] != ""]
    ads = pd.read_csv(root / "stimuli" / "ads.tsv", sep="\t", dtype={"ad_id": str})
    durations = dict(zip(ads["ad_id"], ads["duration_s"].astype(float), strict=True))
    shot_tab = load_shots(e["shots_source"], root, deriv)
    shots = {ad: g.sort_values("shot").reset_index(drop=True) for ad, g in shot_tab.groupby("ad_id")}
    out = deriv / "eyetrack"
    cache = out / "recordings"
    cache.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(json.dumps({k: v for k, v in e.items() if k not in ("n_jobs", "progress")}, sort_keys=True).encode()).hexdigest()[:8]
    rows = sessions.to_dict("records")
    n = max(1, int(e["n_jobs"]) * 4)
    chunks = [rows[i::n] for i in range(n) if rows[i::n]]
    results = []
    for res in tqdm(Parallel(n_jobs=int(e["n_jobs"]), return_as="generator")(
            delayed(_job)(c, root, durations, shots, e, cache, key) for c in chunks),
            total=len(chunks), desc="eyetrack", unit="batch", disable=not e["progress"]):  # fmt: skip
        results.extend(res)
    good = [r for r in results if r[0] is not None]
    if not good:
        raise GazeInputError(f"no usable gaze recording in {root}; see {out / 'quality.parquet'}")
    pd.DataFrame([r[3] for r in results]).to_parquet(out / "quality.parquet", index=False)
    pd.concat([r[0] for r in good], ignore_index=True).to_parquet(out / "per_second.parquet", index=False)
    pd.concat([r[1] for r in good], ignore_index=True).to_parquet(out / "per_shot.parquet", index=False)
    fix = pd.concat([r[2] for r in good], ignore_index=True)
    fix.to_parquet(out / "fixations.parquet", index=False)
    synchrony(fix, shot_tab).to_parquet(out / "synchrony.parquet", index=False)
    return out


def run(cfg) -> None:
    """CLI entry of `hmllm eyetrack`."""
    from hmllm.errors import DataError

    try:
        out = process_study(cfg)
    except GazeInputError as exc:
        raise DataError(str(exc)) from None
    q = pd.read_parquet(out / "quality.parquet")
    print(f"eyetrack: {int(q['usable'].sum())}/{len(q)} recordings usable -> {out}")
