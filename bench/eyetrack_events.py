"""Benchmark: samples/second of hmllm's gaze pipeline vs pymovements' own Gaze-frame event detection.

Both sides get the same samples (read once from the study's gaze files). "ours" is
``eyetrack.events.ivt`` (SciPy Savitzky-Golay velocity + pymovements' I-VT kernel on arrays) and
the full per-recording ``process_gaze`` (I-VT + per-second/per-shot metrics); "pymovements" builds a
``pm.Gaze`` frame, runs ``pix2deg`` → ``pos2vel(savitzky_golay)`` → ``detect('ivt')`` as its docs
show. Usage::

    .venv/bin/hmllm synth size=tiny paths.data_root=/tmp/bench   # any study
    .venv/bin/python bench/eyetrack_events.py /tmp/bench/synthetic-tiny [--n 20]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from eyetrack.events import ivt
from eyetrack.io import read_gaze
from eyetrack.pipeline import process_gaze

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "eyetrack" / "default.yaml"


def pymovements_ivt(rec, geometry: dict, threshold: float, min_duration_ms: int) -> int:
    """pymovements end to end on one recording; returns the number of fixations."""
    import pymovements as pm

    exp = pm.Experiment(screen_width_px=geometry["screen_width_px"], screen_height_px=geometry["screen_height_px"],
                        screen_width_cm=geometry["screen_width_cm"], screen_height_cm=geometry["screen_height_cm"],
                        distance_cm=geometry["distance_cm"], origin="upper left", sampling_rate=rec.sfreq_hz)  # fmt: skip
    ok = rec.valid
    gaze = pm.gaze.from_numpy(time=np.round(rec.times_s[ok] * 1000).astype(np.int64),
                              pixel=np.vstack([rec.x_px[ok], rec.y_px[ok]]), experiment=exp, time_unit="ms")  # fmt: skip
    gaze.pix2deg()
    gaze.pos2vel(method="savitzky_golay", degree=2, window_length=7)
    gaze.detect("ivt", velocity_threshold=threshold, minimum_duration=min_duration_ms)
    return len(gaze.events.frame)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study", type=Path, help="a study root (with sessions.tsv)")
    ap.add_argument("--n", type=int, default=20, help="recordings to time")
    args = ap.parse_args()
    cfg = OmegaConf.to_container(OmegaConf.load(CONFIG), resolve=True)
    cfg["events"]["detector"] = "ivt"
    p = cfg["events"]["ivt"]
    sessions = pd.read_csv(args.study / "sessions.tsv", sep="\t", dtype=str, keep_default_na=False)
    sessions = sessions[sessions["et_file"] != ""].head(args.n)
    ads = pd.read_csv(args.study / "stimuli" / "ads.tsv", sep="\t", dtype={"ad_id": str}).set_index(
        "ad_id"
    )
    shots = pd.read_parquet(args.study / "truth" / "shots.parquet")
    t_read = t_ours = t_full = t_pm = 0.0
    n_samples = n_ours = n_pm = 0
    warm = read_gaze(args.study / sessions.iloc[0]["et_file"])  # imports (MNE, pymovements) untimed
    ivt(warm.times_s[warm.valid], warm.x_px[warm.valid], warm.y_px[warm.valid], warm.geometry, **p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pymovements_ivt(
            warm, warm.geometry, p["velocity_threshold_deg_s"], int(p["min_duration_s"] * 1000)
        )
    for r in sessions.itertuples():
        t0 = time.perf_counter()
        rec = read_gaze(args.study / r.et_file)
        t1 = time.perf_counter()
        ok = rec.valid
        n_ours += len(ivt(rec.times_s[ok], rec.x_px[ok], rec.y_px[ok], rec.geometry, **p))
        t2 = time.perf_counter()
        process_gaze(
            rec,
            float(ads.loc[r.ad_id, "duration_s"]),
            shots[shots["ad_id"] == r.ad_id].reset_index(drop=True),
            cfg,
        )
        t3 = time.perf_counter()
        with warnings.catch_warnings():  # pymovements warns about experimental APIs
            warnings.simplefilter("ignore")
            n_pm += pymovements_ivt(
                rec, rec.geometry, p["velocity_threshold_deg_s"], int(p["min_duration_s"] * 1000)
            )
        t4 = time.perf_counter()
        t_read, t_ours, t_full, t_pm = (
            t_read + t1 - t0,
            t_ours + t2 - t1,
            t_full + t3 - t2,
            t_pm + t4 - t3,
        )
        n_samples += len(rec.times_s)
    n = len(sessions)
    print(f"{n} recordings, {n_samples} samples")
    for name, t in [("read (MNE ASC / pandas TSV)", t_read), ("ours: I-VT on arrays", t_ours),
                    ("ours: I-VT + all metrics", t_full), ("pymovements Gaze: pix2deg+pos2vel+ivt", t_pm)]:  # fmt: skip
        print(f"{name:40s} {n_samples / t:12,.0f} samples/s  {t / n * 1000:8.1f} ms/recording")
    print(f"fixations: ours {n_ours}, pymovements {n_pm}")


if __name__ == "__main__":
    main()
