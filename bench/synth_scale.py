"""How long and how much disk does the synthetic generator need per 100 recordings?

Generates a small study at the chosen scale settings (default: the demo preset's recording settings
with 10 participants x 10 ads = 100 recordings), prints seconds and MB per 100 recordings and per
ad video, and extrapolates to the paper's scale (498 ads, 4,600 participants x 40 ads).

    python bench/synth_scale.py                       # demo settings
    python bench/synth_scale.py size=paper synth.n_jobs=2   # paper settings (720p ads, 500-1000 Hz)
    python bench/synth_scale.py size=paper synth.n_jobs=2 synth.n_ads=2 synth.n_participants=6 \
        synth.ads_per_participant=2                          # a smaller sample, same settings
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

from hmllm.paths import config_dir
from hmllm.synth import generate_study
from hmllm.synth.spec import validate
from hmllm.synth.video import write_ad
from hmllm.synth.world import make_ad


def main(overrides: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = ["synth.n_participants=10", "synth.ads_per_participant=10", "synth.n_ads=10",
                f"paths.data_root={tmp}", "synth.progress=false", "synth.overwrite=true"]  # fmt: skip
        # the caller's overrides come last, so a smaller sample (e.g. synth.n_participants=2) wins
        with initialize_config_dir(version_base="1.3", config_dir=str(config_dir())):
            cfg = compose("synth", overrides=[*base, *overrides])
        # ads first, timed on their own (generate_study then skips the finished mp4 files)
        s = validate(cfg)
        stimuli = Path(cfg.paths.study_root) / "stimuli"
        stimuli.mkdir(parents=True)
        t0 = time.perf_counter()
        for a in range(s["n_ads"]):
            ad = make_ad(a, s, s["seed"])
            write_ad(ad, stimuli / f"{ad.ad_id}.mp4", s["video"], s["seed"])
        ads_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        root = generate_study(cfg)
        total_s = time.perf_counter() - t0  # recordings + truth only
        size = lambda sub: sum(p.stat().st_size for p in (root / sub).rglob("*") if p.is_file())  # noqa: E731
        video_mb, bids_mb = size("stimuli") / 1e6, size("bids") / 1e6
        n_ads = cfg.synth.n_ads
        n_rec = cfg.synth.n_participants * cfg.synth.ads_per_participant
        print(f"settings: {' '.join(overrides) or 'demo'}; n_jobs={cfg.synth.n_jobs}")
        print(
            f"ads {ads_s / n_ads:.1f} s per ad (1 process); recordings {total_s:.1f} s for {n_rec} "
            f"= {total_s * 100 / n_rec:.0f} s per 100 recordings (n_jobs={cfg.synth.n_jobs})"
        )
        bids_mb = bids_mb * 100 / n_rec  # per 100 recordings from here on
        print(
            f"disk: recordings {bids_mb:.1f} MB per 100 recordings, "
            f"ads {video_mb / n_ads:.2f} MB per ad"
        )
        paper_rec = 4600 * 40
        print(
            f"paper scale ({paper_rec} recordings, 498 ads): ~{bids_mb * paper_rec / 100 / 1e3:.0f} GB "
            f"recordings + {video_mb / n_ads * 498 / 1e3:.1f} GB ads; "
            f"recordings ~{total_s * paper_rec / n_rec / 3600 * cfg.synth.n_jobs:.0f} core-hours, "
            f"ads ~{ads_s / n_ads * 498 / 3600:.1f} core-hours"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
