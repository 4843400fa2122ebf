"""Benchmark: shot boundaries against a synthetic study's truth, per transition type.

Usage::

    .venv/bin/python bench/video_shots.py --study data/synthetic-demo [--no-dissolve]

Runs :func:`hmllm.video.detect_shots` with ``configs/video/default.yaml`` on every ad and matches
predicted boundaries to the true ones (``truth/shots.parquet``) one-to-one within ``--tolerance``
frames, nearest first. Prints per type (cut, fade, dissolve) how many true boundaries were found and
labelled with their type, the cut F1 (every unmatched prediction counts as a false cut) and the
dissolve precision (predictions labelled ``dissolve`` that match a true dissolve).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _match(pred: np.ndarray, true: np.ndarray, tolerance: int) -> dict[int, int]:
    """Greedy nearest-first one-to-one matching: {prediction index: truth index}."""
    pairs = sorted((abs(int(p) - int(t)), i, j) for i, p in enumerate(pred)
                   for j, t in enumerate(true) if abs(int(p) - int(t)) <= tolerance)  # fmt: skip
    got: dict[int, int] = {}
    for _, i, j in pairs:
        if i not in got and j not in got.values():
            got[i] = j
    return got


def main() -> None:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--study", type=Path, required=True, help="synthetic study root (has truth/)")
    ap.add_argument("--tolerance", type=int, default=2, help="largest boundary error, frames")
    ap.add_argument("--no-dissolve", action="store_true", help="turn the dissolve detector off")
    args = ap.parse_args()

    from omegaconf import OmegaConf

    from hmllm.paths import config_dir
    from hmllm.video import detect_shots, probe

    v = OmegaConf.to_container(OmegaConf.load(config_dir() / "video" / "default.yaml"))
    truth = pd.read_parquet(args.study / "truth" / "shots.parquet")
    kinds = ("cut", "fade", "dissolve")
    found = {k: [0, 0] for k in kinds}  # true boundaries found, and found with the right type
    n_pred, labelled, labelled_ok, seconds = 0, {k: 0 for k in kinds}, {k: 0 for k in kinds}, 0.0
    for ad in sorted(truth["ad_id"].unique()):
        path = args.study / "stimuli" / f"{ad}.mp4"
        info = probe(path)
        t0 = time.perf_counter()
        shots = detect_shots(path, detector=v["detector"], fps=info.fps, n_frames=info.n_frames,
                             fade_threshold=v["fade_threshold"],
                             dissolve=None if args.no_dissolve else v["dissolve"],
                             **v["detector_params"])  # fmt: skip
        seconds += time.perf_counter() - t0
        t = truth[(truth["ad_id"] == ad) & (truth["shot"] > 0)]
        p = shots[shots["shot"] > 0]
        tk, pk = t["transition_in"].to_numpy(), p["transition_in"].to_numpy()
        got = _match(p["onset_frame"].to_numpy(), t["onset_frame"].to_numpy(), args.tolerance)
        n_pred += len(p)
        for i, j in got.items():
            found[tk[j]][0] += 1
            found[tk[j]][1] += pk[i] == tk[j]
        for i, k in enumerate(pk):
            labelled[k] += 1
            labelled_ok[k] += i in got and tk[got[i]] == k
    n_true = truth[truth["shot"] > 0]["transition_in"].value_counts()
    tp_cut = found["cut"][0]
    prec = tp_cut / max(1, n_pred - found["fade"][0] - found["dissolve"][0])
    rec = tp_cut / max(1, n_true.get("cut", 0))
    print(f"{truth['ad_id'].nunique()} ads, ±{args.tolerance} frames, dissolve detector "
          f"{'off' if args.no_dissolve else 'on'}, shot detection {seconds:.1f} s in total")  # fmt: skip
    for k in kinds:
        print(f"  {k:9s} true {n_true.get(k, 0):3d}  found {found[k][0]:3d}  found+labelled "
              f"{found[k][1]:3d}  predicted as {k} {labelled[k]:3d} (correct {labelled_ok[k]})")  # fmt: skip
    print(f"  cut P/R/F1 {prec:.3f}/{rec:.3f}/{2 * prec * rec / max(prec + rec, 1e-9):.3f}; "
          f"dissolve recall {found['dissolve'][1] / max(1, n_true.get('dissolve', 0)):.2f}, "
          f"precision {labelled_ok['dissolve'] / max(1, labelled['dissolve']):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
