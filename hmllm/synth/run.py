"""`hmllm synth`: write a synthetic study under ``paths.study_root``."""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


def run(cfg) -> None:
    """Generate the study and print where it is and how big it came out."""
    from hmllm.synth import generate_study

    t0 = time.perf_counter()
    root = generate_study(cfg)
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    n_rec = sum(1 for _ in open(root / "sessions.tsv")) - 1
    print(f"synthetic study: {root}  ({n_rec} recordings, {size / 1e6:.1f} MB, "
          f"{time.perf_counter() - t0:.1f} s)")  # fmt: skip
