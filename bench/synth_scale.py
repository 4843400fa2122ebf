"""How long and how much disk does the synthetic generator need per 100 recordings?

Generates a small study at the chosen scale settings (default: the demo preset's recording settings
with 10 participants x 10 ads = 100 recordings), prints seconds and MB per 100 recordings and per
ad video, and extrapolates to the paper's scale (498 ads, 4,600 participants x 40 ads).

    python bench/synth_scale.py                       # demo settings
    python bench/synth_scale.py size=paper synth.n_jobs=2   # paper settings (720p ads, 500-1000 Hz)
"""

from __future__ import annotations

import sys
import tempfile
import time

from hydra import compose, initialize_config_dir

from hmllm.paths import config_dir
from hmllm.synth import generate_study


def main(overrides: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = ["synth.n_participants=10", "synth.ads_per_participant=10", "synth.n_ads=10",
                f"paths.data_root={tmp}", "synth.progress=false"]  # fmt: skip
        with initialize_config_dir(version_base="1.3", config_dir=str(config_dir())):
            cfg = compose("synth", overrides=[*overrides, *base])
        t0 = time.perf_counter()
        root = generate_study(cfg)
        total_s = time.perf_counter() - t0
        size = lambda sub: sum(p.stat().st_size for p in (root / sub).rglob("*") if p.is_file())  # noqa: E731
        video_mb, bids_mb = size("stimuli") / 1e6, size("bids") / 1e6
        n_rec = 100
        print(f"settings: {' '.join(overrides) or 'demo'}; n_jobs={cfg.synth.n_jobs}")
        print(f"total {total_s:.1f} s for 10 ads + {n_rec} recordings")
        print(
            f"disk: recordings {bids_mb:.1f} MB per 100 recordings, ads {video_mb / 10:.2f} MB per ad"
        )
        paper_rec = 4600 * 40
        print(
            f"paper scale ({paper_rec} recordings, 498 ads): ~{bids_mb * paper_rec / 100 / 1e3:.0f} GB "
            f"recordings + {video_mb / 10 * 498 / 1e3:.1f} GB ads; "
            f"~{total_s * paper_rec / 100 / 3600:.0f} h wall with n_jobs={cfg.synth.n_jobs} "
            f"(~{total_s * paper_rec / 100 / 3600 * cfg.synth.n_jobs:.0f} core-hours)"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
