"""Training throughput of the response model: shots/s and the time of one epoch.

Trains a few epochs of ``hmllm train`` on a prepared dataset (default: the demo study under
``paths.data_root``; without one, a fake prepared dataset of the same shape as the test fixture)
and prints cells (shot × audience group) per second, shots per second and seconds per epoch.

    python bench/train_throughput.py                                  # demo study, 5 epochs
    python bench/train_throughput.py paths.data_root=/tmp/demo model=late_fusion trainer.epochs=3
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from hydra import compose, initialize_config_dir

from hmllm.paths import config_dir, resolve_path
from hmllm.train import train


def main(overrides: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # one model's throughput: an ensemble (trainer.ensemble) trains its members one after another
        base = [f"paths.runs={tmp}/runs", "run_name=bench", "trainer.epochs=5", "trainer.patience=100",
                "trainer.progress=false", "trainer.tensorboard=false", "trainer.ensemble=1"]  # fmt: skip
        with initialize_config_dir(version_base="1.3", config_dir=str(config_dir())):
            cfg = compose("train", overrides=[*base, *overrides])
        prepared = resolve_path(cfg.paths.prepared)
        if not (prepared / "labels.parquet").is_file():
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.model.conftest import make_prepared  # the test suite's fake dataset

            prepared = make_prepared(Path(tmp) / "prepared", n_ads=40)
            print(
                f"no prepared dataset at {resolve_path(cfg.paths.prepared)}; using a fake one (40 ads)"
            )
            with initialize_config_dir(version_base="1.3", config_dir=str(config_dir())):
                cfg = compose("train", overrides=[*base, *overrides, f"paths.prepared={prepared}"])
        labels = pd.read_parquet(prepared / "labels.parquet")
        groups_per_shot = len(labels) / len(labels[["ad_id", "shot"]].drop_duplicates())
        t0 = time.perf_counter()
        summary = train(cfg)
        wall = time.perf_counter() - t0
        m = pd.read_csv(Path(summary["run_dir"]) / "metrics.csv")
        cells_s = summary["cells_per_s"]
        print(f"dataset {prepared} ({len(labels)} cells, {groups_per_shot:.1f} groups per shot)")
        print(
            f"model={cfg.model.name} threads={cfg.trainer.threads} epochs={len(m)} wall {wall:.1f} s"
        )
        print(
            f"throughput: {cells_s:.0f} cells/s = {cells_s / groups_per_shot:.1f} shots/s (incl. validation)"
        )
        print(f"one epoch: median {m['epoch_s'].median():.2f} s (train + validation + checkpoint)")


if __name__ == "__main__":
    main(sys.argv[1:])
