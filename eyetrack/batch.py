"""`hmllm eyetrack`: every gaze recording of a study → metrics, fixations, synchrony (resumable)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm import tqdm

from eyetrack.aoi import read_aois
from eyetrack.errors import GazeInputError
from eyetrack.events import DETECTORS
from eyetrack.faces import FACE_COLUMNS, face_aois
from eyetrack.heatmap import fixation_map, overlay_png
from eyetrack.io import read_gaze
from eyetrack.pipeline import EMR_METHODS, process_gaze
from eyetrack.synchrony import dispersion


def load_shots(source: str, study_root: Path, derivatives: Path) -> pd.DataFrame:
    """Shot table per ``source``: ``detected`` (video derivatives), ``truth`` or a file path."""
    from hmllm.paths import shot_table

    path, hint = shot_table(source, study_root, derivatives)
    if not path.is_file():
        raise GazeInputError(f"shot table {path} not found; {hint}")
    return pd.read_parquet(path, columns=["ad_id", "shot", "onset_s", "offset_s"])


def _job(
    rows: list[dict],
    root: Path,
    durations: dict,
    shots: dict,
    aois: dict,
    cfg: dict,
    cache: Path,
    key: str,
) -> list[tuple]:
    """Process (or load from the cache) a chunk of recordings; errors become quality rows."""
    out = []
    for r in rows:
        path = root / r["et_file"]
        stem = f"{r['participant_id']}_{r['ad_id']}"
        base = {"participant_id": r["participant_id"], "ad_id": r["ad_id"], "file": r["et_file"]}
        try:
            if r["ad_id"] not in shots:
                raise GazeInputError(f"no shots for ad {r['ad_id']!r} in the shot table")
            a = aois.get(r["ad_id"])
            extra = shots[r["ad_id"]][["onset_s", "offset_s"]].to_numpy().tobytes() + (
                b"" if a is None else a.to_csv().encode()
            )
            h = (
                hashlib.sha256(path.read_bytes()).hexdigest()[:16]
                + key
                + hashlib.sha256(extra).hexdigest()[:8]
            )
        except OSError:
            out.append(
                (
                    None,
                    None,
                    None,
                    {**base, "usable": False, "flags": "error", "error": f"{path}: missing"},
                )
            )
            continue
        except GazeInputError as exc:
            out.append(
                (None, None, None, {**base, "usable": False, "flags": "error", "error": str(exc)})
            )
            continue
        files = [
            cache / f"{stem}.{h}.{k}"
            for k in ("second.parquet", "shot.parquet", "fix.parquet", "quality.json")
        ]
        if all(f.is_file() for f in files):
            out.append(
                (
                    pd.read_parquet(files[0]),
                    pd.read_parquet(files[1]),
                    pd.read_parquet(files[2]),
                    json.loads(files[3].read_text()),
                )
            )
            continue
        try:
            rec = read_gaze(path, fmt=r.get("et_format") or None, cfg=cfg)
            sec, shot, fix, q = process_gaze(
                rec, durations[r["ad_id"]], shots[r["ad_id"]], cfg, aois=aois.get(r["ad_id"])
            )
        except GazeInputError as exc:
            out.append(
                (None, None, None, {**base, "usable": False, "flags": "error", "error": str(exc)})
            )
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


def heatmaps(fix: pd.DataFrame, participants: pd.DataFrame, hcfg: dict) -> dict[str, np.ndarray]:
    """Duration-weighted fixation maps per (ad, shot, group), each summing to 1.

    Groups: ``all`` plus one group per value of each ``hcfg["groups"]`` column of participants.tsv
    (e.g. ``gender=female``). k-anonymity: a (shot, group) map is made only when at least
    ``hcfg["min_group_size"]`` participants of the group have on-video fixations in the shot;
    ``n_participants`` gives that count per map.
    """
    k = int(hcfg["min_group_size"])
    if k < 1:
        raise GazeInputError(f"eyetrack.heatmap.min_group_size must be >= 1, got {k}")
    f = fix[fix["on_video"]].merge(participants, on="participant_id", how="left")
    f["w"] = f["offset_s"] - f["onset_s"]
    keys, maps = [], []
    shape = tuple(int(v) for v in hcfg["shape"])
    for col in hcfg["groups"]:
        if col not in f.columns:
            raise GazeInputError(f"eyetrack.heatmap.groups: participants.tsv has no column {col!r}")
    for (ad, shot), g in f.groupby(["ad_id", "shot"]):
        parts = [("all", g)]
        for col in hcfg["groups"]:
            parts += [(f"{col}={val}", gg) for val, gg in g.groupby(col)]
        for name, gg in parts:
            n = int(gg["participant_id"].nunique())
            if n < k:
                continue
            keys.append((ad, int(shot), name, n))
            maps.append(
                fixation_map(
                    gg["x"], gg["y"], gg["w"], shape=shape, sigma_frac=float(hcfg["sigma_frac"])
                )
            )
    return {"maps": np.asarray(maps, np.float32).reshape(-1, *shape), "ad_id": np.array([r[0] for r in keys], dtype=str),
            "shot": np.array([r[1] for r in keys], np.int64), "group": np.array([r[2] for r in keys], dtype=str),
            "n_participants": np.array([r[3] for r in keys], np.int64)}  # fmt: skip


def study_face_aois(ads: pd.DataFrame, root: Path, shots: dict[str, pd.DataFrame], fcfg: dict,
                    cache: Path, progress: bool) -> pd.DataFrame:  # fmt: skip
    """Face AOI keyframes (``ad_id`` + :data:`eyetrack.faces.FACE_COLUMNS`) for every ad with shots.

    Each ad's table is cached in ``cache`` keyed by the video's hash, the shots and ``fcfg``.
    """
    cache.mkdir(parents=True, exist_ok=True)
    ckey = hashlib.sha256(json.dumps(fcfg, sort_keys=True).encode()).hexdigest()[:8]
    parts = []
    rows = [r for r in ads.to_dict("records") if r["ad_id"] in shots]
    for r in tqdm(rows, desc="face AOIs", unit="ad", disable=not progress):
        video = root / "stimuli" / str(r["file"])
        sh = shots[r["ad_id"]]
        try:
            vhash = hashlib.sha256(video.read_bytes()).hexdigest()[:16]
        except OSError:
            raise GazeInputError(
                f"{video}: video not found for face AOIs (stimuli/ads.tsv, ad {r['ad_id']}); "
                "set eyetrack.faces.enabled=false to skip them"
            ) from None
        shash = hashlib.sha256(sh[["onset_s", "offset_s"]].to_numpy().tobytes()).hexdigest()[:8]
        f = cache / f"{r['ad_id']}.{vhash}{ckey}{shash}.parquet"
        if f.is_file():
            tab = pd.read_parquet(f)
        else:
            tab = face_aois(video, sh, float(r["duration_s"]), fcfg)
            tab.insert(0, "ad_id", str(r["ad_id"]))
            tab.to_parquet(f, index=False)
        parts.append(tab)
    if not parts:
        return pd.DataFrame(columns=["ad_id", *FACE_COLUMNS])
    return pd.concat(parts, ignore_index=True)


def merge_aois(
    aois: dict[str, pd.DataFrame], faces: pd.DataFrame, name: str
) -> dict[str, pd.DataFrame]:
    """Add the face AOIs to the AOI-file ones, per ad; refuses a name clash."""
    out = {ad: a.assign(track=a["track"] if "track" in a else 0,
                        visible=a["visible"] if "visible" in a else True) for ad, a in aois.items()}  # fmt: skip
    for ad, g in faces.groupby("ad_id"):
        ad = str(ad)
        if ad in out and (out[ad]["name"] == name).any():
            raise GazeInputError(
                f"eyetrack.aoi_file already has an AOI named {name!r} for ad {ad}; rename it or set "
                "eyetrack.faces.name to another name"
            )
        out[ad] = pd.concat([out[ad], g], ignore_index=True) if ad in out else g
    return out


def process_study(cfg) -> Path:
    """Process every gaze recording; returns ``<derivatives>/eyetrack``."""
    from omegaconf import OmegaConf

    from hmllm.paths import resolve_path

    root = resolve_path(cfg.paths.study_root)
    deriv = resolve_path(cfg.paths.derivatives)
    e = OmegaConf.to_container(cfg.eyetrack, resolve=True)
    if e["emr_method"] not in EMR_METHODS:
        raise GazeInputError(
            f"eyetrack.emr_method={e['emr_method']!r} is unknown; use one of {sorted(EMR_METHODS)}"
        )
    if e["events"]["detector"] not in ("tracker", *DETECTORS):
        raise GazeInputError(
            f"eyetrack.events.detector={e['events']['detector']!r} is unknown; use tracker, {', '.join(DETECTORS)}"
        )
    sessions_file = root / "sessions.tsv"
    if not sessions_file.is_file():
        raise GazeInputError(
            f"{sessions_file} not found; a study lists its recordings there (datasets/README.md)"
        )
    sessions = pd.read_csv(sessions_file, sep="\t", dtype=str, keep_default_na=False)
    sessions = sessions[sessions["et_file"] != ""]
    ads = pd.read_csv(root / "stimuli" / "ads.tsv", sep="\t", dtype={"ad_id": str})
    durations = dict(zip(ads["ad_id"], ads["duration_s"].astype(float), strict=True))
    shot_tab = load_shots(e["shots_source"], root, deriv)
    shots = {
        ad: g.sort_values("shot").reset_index(drop=True) for ad, g in shot_tab.groupby("ad_id")
    }
    aois = (
        {str(ad): g for ad, g in read_aois(e["aoi_file"]).groupby("ad_id")}
        if e.get("aoi_file")
        else {}
    )
    out = deriv / "eyetrack"
    cache = out / "recordings"
    cache.mkdir(parents=True, exist_ok=True)
    if e["faces"]["enabled"]:
        faces = study_face_aois(ads, root, shots, e["faces"], out / "faces", e["progress"])
        faces.to_parquet(out / "face_aois.parquet", index=False)
        aois = merge_aois(aois, faces, str(e["faces"]["name"]))
    else:
        (out / "face_aois.parquet").unlink(missing_ok=True)
    key = hashlib.sha256(
        json.dumps(
            {k: v for k, v in e.items() if k not in ("n_jobs", "progress")}, sort_keys=True
        ).encode()
    ).hexdigest()[:8]
    rows = sessions.to_dict("records")
    n = max(1, int(e["n_jobs"]) * 4)
    chunks = [rows[i::n] for i in range(n) if rows[i::n]]
    results = []
    for res in tqdm(Parallel(n_jobs=int(e["n_jobs"]), return_as="generator")(
            delayed(_job)(c, root, durations, shots, aois, e, cache, key) for c in chunks),
            total=len(chunks), desc="eyetrack", unit="batch", disable=not e["progress"]):  # fmt: skip
        results.extend(res)
    good = [r for r in results if r[0] is not None]
    quality = pd.DataFrame([r[3] for r in results])
    quality.to_parquet(out / "quality.parquet", index=False)
    if not good:
        first = quality["error"].iloc[0] if len(quality) else "sessions.tsv lists no et_file"
        raise GazeInputError(
            f"no usable gaze recording in {root} (first error: {first}); see {out / 'quality.parquet'}"
        )
    pd.concat([r[0] for r in good], ignore_index=True).to_parquet(
        out / "per_second.parquet", index=False
    )
    pd.concat([r[1] for r in good], ignore_index=True).to_parquet(
        out / "per_shot.parquet", index=False
    )
    fix = pd.concat([r[2] for r in good], ignore_index=True)
    fix.to_parquet(out / "fixations.parquet", index=False)
    dispersion(fix, radius=float(e["synchrony_radius"])).to_parquet(
        out / "synchrony.parquet", index=False
    )
    if e["heatmap"]["enabled"]:
        ptsv = next(
            (
                p
                for p in (root / "bids" / "participants.tsv", root / "participants.tsv")
                if p.is_file()
            ),
            None,
        )
        if ptsv is None:
            raise GazeInputError(
                f"no participants.tsv under {root}/bids; heatmap groups need it (or set eyetrack.heatmap.groups=[])"
            )
        participants = pd.read_csv(ptsv, sep="\t", dtype=str)
        hm = heatmaps(fix, participants, e["heatmap"])
        np.savez_compressed(out / "heatmaps.npz", **hm)
        # PNGs of an earlier run may show groups now under the k floor: never leave them behind
        shutil.rmtree(out / "heatmaps", ignore_errors=True)
        if e["heatmap"]["png"]:
            write_pngs(hm, deriv / "video" / "keyframes", out / "heatmaps")
    return out


def group_dir(group: str) -> str:
    """A group id as a folder name (``gender=female`` → ``gender-female``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", group).strip("-") or "group"


def write_pngs(hm: dict[str, np.ndarray], keyframes: Path, out: Path) -> int:
    """PNG overlays of every map on its shot's keyframe: ``out/<ad>/<group>/shotNNN.png``.

    ``hm`` holds only the maps that passed the k-anonymity floor, so groups under it get no
    PNG. Keyframes are ``<keyframes>/<ad>/shotNNN.jpg`` (``hmllm video`` writes them).
    """
    import cv2

    n, missing = 0, []
    frames: dict[Path, np.ndarray | None] = {}
    for m, ad, shot, group in zip(hm["maps"], hm["ad_id"], hm["shot"], hm["group"], strict=True):
        kf = keyframes / str(ad) / f"shot{int(shot):03d}.jpg"
        if kf not in frames:
            frames[kf] = (
                cv2.cvtColor(cv2.imread(str(kf)), cv2.COLOR_BGR2RGB) if kf.is_file() else None
            )
        if frames[kf] is None:
            missing.append(kf)
            continue
        d = out / str(ad) / group_dir(str(group))
        d.mkdir(parents=True, exist_ok=True)
        overlay_png(m, frames[kf], d / f"shot{int(shot):03d}.png")
        n += 1
    if missing and n == 0:
        raise GazeInputError(
            f"eyetrack.heatmap.png=true but no keyframes under {keyframes} (first: {missing[0]}); "
            "run `hmllm video` first"
        )
    return n


def run(cfg) -> None:
    """CLI entry of `hmllm eyetrack`."""
    from hmllm.errors import DataError

    try:
        out = process_study(cfg)
    except GazeInputError as exc:
        raise DataError(str(exc)) from None
    q = pd.read_parquet(out / "quality.parquet")
    print(f"eyetrack: {int(q['usable'].sum())}/{len(q)} recordings usable -> {out}")
