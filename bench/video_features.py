"""Benchmark: shot-feature time per ad vs decord decoding the same frames alone.

Usage::

    .venv/bin/python bench/video_features.py --study data/synthetic-demo [--features handcrafted]

For each ad it times (1) ``decord.VideoReader.get_batch`` on exactly the frames the extractor
decodes, in the same order and at the same size — the floor any extractor pays; (2)
``shot_features`` without cache (decode + features, file geometry probed afresh); and, for
context, ``probe`` and ``detect_shots``. (1) and (2) alternate ``--repeats`` times per ad and the
fastest of each counts, so both see the same machine load. Prints per-ad times and the ratio
(2)/(1) of wall-clock times — the target for handcrafted features is ≤ 1.5× — and, because
wall-clock ratios on a shared machine move with its load, the same ratio of process CPU times
(all threads; decord and OpenCV both use more than one) and the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    """Run the benchmark and print a table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--study", type=Path, required=True, help="study root with stimuli/ads.tsv")
    ap.add_argument("--features", default="handcrafted", help="features config group")
    ap.add_argument("--max-ads", type=int, default=20, help="ads to time")
    ap.add_argument("--repeats", type=int, default=2, help="timings per ad (fastest counts)")
    args = ap.parse_args()

    import decord
    from omegaconf import OmegaConf

    from hmllm.paths import config_dir
    from hmllm.video import detect_shots, probe, shot_features
    from hmllm.video.features import _size, handcrafted_frame_indices
    from hmllm.video.frames import _geometry, shot_frame_indices

    cfg = OmegaConf.to_container(
        OmegaConf.load(config_dir() / "features" / f"{args.features}.yaml")
    )
    cfg["transcript"] = False
    ads = pd.read_csv(args.study / "stimuli" / "ads.tsv", sep="\t", dtype={"ad_id": str})
    rows, load0 = [], os.getloadavg()[0]
    for ad, file in list(zip(ads["ad_id"], ads["file"], strict=True))[: args.max_ads]:
        path = args.study / "stimuli" / file
        t0 = time.perf_counter()
        info = probe(path)
        t1 = time.perf_counter()
        shots = detect_shots(path, fps=info.fps, n_frames=info.n_frames, min_scene_len=10)
        t2 = time.perf_counter()
        if args.features == "handcrafted":  # each sample and its successor, as the extractor asks
            idx = handcrafted_frame_indices(shots, cfg)
        else:
            idx = np.concatenate(shot_frame_indices(shots, int(cfg.get("frames_per_shot", 3))))
        size = (
            _size(path, cfg)
            if "short_side_px" in cfg
            else (cfg.get("width_px"), cfg.get("height_px"))
        )
        decode, feats, decode_cpu, feats_cpu = [], [], [], []
        for _ in range(args.repeats):
            t3, c3 = time.perf_counter(), time.process_time()
            vr = decord.VideoReader(
                str(path), width=size[0] or -1, height=size[1] or -1, num_threads=1
            )
            vr.get_batch(list(idx)).asnumpy()
            decode.append(time.perf_counter() - t3)
            decode_cpu.append(time.process_time() - c3)
            # a decord reader's decoding thread keeps a core busy while the reader lives on after
            # get_batch: free it before timing the extractor (which frees its own reader)
            del vr
            _geometry.cache_clear()  # the extractor pays for probing the frame size itself
            t4, c4 = time.perf_counter(), time.process_time()
            shot_features(path, shots, cfg, None, video_sha256=info.sha256)
            feats.append(time.perf_counter() - t4)
            feats_cpu.append(time.process_time() - c4)
        rows.append({"ad_id": ad, "duration_s": info.duration_s, "shots": len(shots),
                     "frames": len(idx), "probe_s": t1 - t0, "shots_s": t2 - t1,
                     "decode_only_s": min(decode), "features_s": min(feats),
                     "ratio": min(feats) / min(decode),
                     "cpu_ratio": min(feats_cpu) / min(decode_cpu)})  # fmt: skip
    df = pd.DataFrame(rows)
    pd.set_option("display.width", 160)
    print(df.round(3).to_string(index=False))
    print(f"\nmedian per ad: decode-only {df['decode_only_s'].median():.3f} s, decode+features "
          f"{df['features_s'].median():.3f} s, ratio {df['ratio'].median():.2f}x "
          f"(CPU time {df['cpu_ratio'].median():.2f}x; total: decode-only "
          f"{df['decode_only_s'].sum():.1f} s, features {df['features_s'].sum():.1f} s = "
          f"{df['features_s'].sum() / df['decode_only_s'].sum():.2f}x; "
          f"shots {df['shots_s'].sum():.1f} s, probe {df['probe_s'].sum():.1f} s for {len(df)} ads)")  # fmt: skip
    print(
        f"load average (1 min) before {load0:.2f}, after {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
