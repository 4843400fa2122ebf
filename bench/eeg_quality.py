"""Bench: how well `hmllm eeg` recovers the synthetic study's hidden per-shot engagement and valence.

Usage: ``.venv/bin/python bench/eeg_quality.py DATA_ROOT [STUDY]`` after ``hmllm synth`` into
``DATA_ROOT`` (``STUDY`` is the folder name under it, default ``synthetic-demo``). Runs the EEG
batch with the true shot boundaries (``eeg.shots_source=truth``) into that study's derivatives and
prints the median per-recording and the pooled Spearman correlation of each per-shot index with
its hidden latent (``truth/latent_shot.parquet``); arousal is compared with engagement.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import compose  # noqa: E402

# our index -> the hidden latent it should follow
PAIRS = {"engagement": "engagement", "valence": "valence", "arousal": "engagement"}


def main() -> None:
    """Run the batch and print Spearman per index."""
    ap = argparse.ArgumentParser()
    ap.add_argument("data_root", type=Path)
    ap.add_argument("study", nargs="?", default="synthetic-demo")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    from eeg.batch import process_study

    cfg = compose("eeg", [f"paths.data_root={a.data_root}", f"paths.study={a.study}",
                          "eeg.shots_source=truth", f"eeg.n_jobs={a.jobs}", "eeg.progress=false"])  # fmt: skip
    t0 = time.perf_counter()
    out = process_study(cfg)
    wall = time.perf_counter() - t0
    ps = pd.read_parquet(out / "per_shot.parquet")
    truth = pd.read_parquet(a.data_root / a.study / "truth" / "latent_shot.parquet")
    n_rec = ps[["participant_id", "ad_id"]].drop_duplicates().shape[0]
    print(f"{n_rec} recordings in {wall:.1f} s (cached recordings are not re-computed)")
    for index, latent in PAIRS.items():
        d = ps[(ps["index"] == index) & ~ps["missing"]].merge(
            truth, on=["participant_id", "ad_id", "shot"]
        )
        per_rec = d.groupby(["participant_id", "ad_id"]).apply(
            lambda g, lat=latent: spearmanr(g["value"], g[lat]).statistic, include_groups=False
        )
        pooled = spearmanr(d["value"], d[latent]).statistic
        print(
            f"{index:>10} vs {latent:<10}: median per recording {per_rec.median():.3f}, "
            f"pooled {pooled:.3f} (n = {len(d)} shots)"
        )


if __name__ == "__main__":
    main()
