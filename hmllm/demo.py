"""Small helpers for ``scripts/demo.sh``: pick a held-out ad to score, find the newest report.

``python -m hmllm.demo pick-ad [overrides]`` prints the path of the first test-split ad of the
prepared study; ``python -m hmllm.demo pick-audiences`` prints ``audience=[all,<largest group>]``;
``python -m hmllm.demo latest-report [overrides]`` prints the newest
``reports/*/index.html``. Overrides are the same Hydra overrides the demo passes to every step.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from hmllm.errors import DataError, HmllmError
from hmllm.paths import resolve_path


def _compose(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    from hmllm.paths import config_dir

    with initialize_config_dir(version_base="1.3", config_dir=str(config_dir())):
        return compose(config_name="prepare", overrides=[o for o in overrides if "=" in o])


def pick_ad(overrides: list[str]) -> Path:
    """The mp4 of the first held-out (test split) ad of the prepared study."""
    cfg = _compose(overrides)
    prepared = resolve_path(cfg.paths.prepared)
    ads_file = prepared / "ads.parquet"
    if not ads_file.is_file():
        raise DataError(f"{ads_file} not found; run `hmllm prepare` first")
    ads = pd.read_parquet(ads_file)
    test = ads[ads["split"] == "test"]["ad_id"].sort_values()
    ad_id = str((test if len(test) else ads["ad_id"].sort_values()).iloc[0])
    stimuli = resolve_path(cfg.paths.study_root) / "stimuli"
    table = pd.read_csv(stimuli / "ads.tsv", sep="\t")
    row = table[table["ad_id"] == ad_id]
    return stimuli / (str(row["file"].iloc[0]) if len(row) else f"{ad_id}.mp4")


def pick_audiences(overrides: list[str]) -> str:
    """``audience=[all,<largest P2 group>]`` for the demo's scoring step (groups vary by study)."""
    cfg = _compose(overrides)
    labels = resolve_path(cfg.paths.prepared) / "labels.parquet"
    if not labels.is_file():
        raise DataError(f"{labels} not found; run `hmllm prepare` first")
    lab = pd.read_parquet(labels, columns=["group", "n_participants"])
    p2 = (
        lab[lab["group"] != "all"]
        .groupby("group")["n_participants"]
        .median()
        .sort_values(ascending=False)
    )
    return "audience=[all" + (f",{p2.index[0]}" if len(p2) else "") + "]"


def latest_report(overrides: list[str]) -> Path:
    """The most recently written ``<paths.reports>/*/index.html``."""
    cfg = _compose(overrides)
    reports = resolve_path(cfg.paths.reports)
    found = sorted(reports.glob("*/index.html"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise DataError(f"no report under {reports}; run `hmllm score <video>` first")
    try:
        return found[-1].relative_to(Path.cwd())
    except ValueError:
        return found[-1]


def main(argv: list[str]) -> None:
    """``python -m hmllm.demo pick-ad|latest-report [overrides]``."""
    commands = {
        "pick-ad": pick_ad,
        "pick-audiences": pick_audiences,
        "latest-report": latest_report,
    }
    if not argv or argv[0] not in commands:
        print(
            "usage: python -m hmllm.demo pick-ad|pick-audiences|latest-report [key=value ...]",
            file=sys.stderr,
        )
        raise SystemExit(2)
    try:
        fn = commands[argv[0]]
        print(fn(argv[1:]))
    except HmllmError as exc:
        print(f"hmllm demo: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main(sys.argv[1:])
