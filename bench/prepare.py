"""How long does `hmllm prepare` take per 100 recordings on this machine (2 cores by default)?

Generates a study (default: the demo preset's recording settings with 10 participants x 10 ads =
100 recordings; generation is not timed), then runs `prepare_study` from scratch — video, EEG, gaze
and the labelling stage — and prints seconds per stage and per 100 recordings. A second run shows
the resumed (all cached) cost.

    python bench/prepare.py                                  # 100 recordings, n_jobs=2
    python bench/prepare.py data.n_jobs=1                    # one core
    python bench/prepare.py --study /path/to/copy_of_study   # an existing study (see below)

With ``--study`` the study is used in place and its ``derivatives/`` and ``prepared/`` are rebuilt,
so point it at a copy you can spare.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from hmllm.data.prepare import prepare_study
from hmllm.paths import config_dir


def _compose(name: str, overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(config_dir())):
        return compose(name, overrides=overrides)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--study", type=Path, default=None, help="existing study root (rebuilt in place)"
    )
    ap.add_argument(
        "overrides", nargs="*", help="Hydra overrides for `prepare` (and `synth` when generating)"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.study is None:
            from hmllm.synth import generate_study

            base = ["synth.n_participants=10", "synth.ads_per_participant=10", "synth.n_ads=10",
                    f"paths.data_root={tmp}", "synth.progress=false"]  # fmt: skip
            synth_over = [o for o in args.overrides if o.startswith(("synth.", "size="))]
            t0 = time.perf_counter()
            root = generate_study(_compose("synth", [*base, *synth_over]))
            print(f"generated {root} in {time.perf_counter() - t0:.1f} s (not counted)")
        else:
            root = args.study.resolve()
            for sub in ("derivatives", "prepared"):
                shutil.rmtree(root / sub, ignore_errors=True)
        over = [o for o in args.overrides if not o.startswith("synth.")]
        base = [
            f"paths.study_root={root}",
            f"paths.cache={tmp}/cache",
            "data.n_jobs=2",
            "data.progress=false",
        ]
        cfg = _compose("prepare", [*base, *over])
        n_rec = len(pd.read_csv(root / "sessions.tsv", sep="\t"))
        t0 = time.perf_counter()
        out = prepare_study(cfg)
        total = time.perf_counter() - t0
        meta = json.loads((out / "prepared.json").read_text())
        t1 = time.perf_counter()
        prepare_study(cfg)
        resumed = time.perf_counter() - t1
    per100 = 100.0 * total / n_rec
    print(
        f"recordings: {n_rec}; ads: {meta['n_ads']}; labels: {meta['n_labels']}; n_jobs={cfg.data.n_jobs}"
    )
    for stage, s in meta["timings_s"].items():
        print(f"  {stage:<9} {s:8.1f} s   ({100.0 * s / n_rec:6.1f} s per 100 recordings)")
    print(
        f"prepare total {total:.1f} s = {per100:.1f} s per 100 recordings; resumed re-run {resumed:.1f} s"
    )


if __name__ == "__main__":
    main()
