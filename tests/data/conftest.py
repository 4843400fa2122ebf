"""A hand-made study on disk that follows docs/contracts.md §1–3, small enough to check by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import compose

# 8 participants: 4 women, 4 men; two age bands, two city tiers
PARTICIPANTS = pd.DataFrame(
    {
        "participant_id": [f"sub-{i:02d}" for i in range(8)],
        "age": [22, 23, 27, 28, 22, 24, 29, 30],
        "age_band": ["21-25", "21-25", "26-30", "26-30", "21-25", "21-25", "26-30", "26-30"],
        "gender": ["female"] * 4 + ["male"] * 4,
        "city_tier": ["tier1", "tier2"] * 4,
    }
)
ADS = [f"ad{i:03d}" for i in range(7)]
N_SHOTS = 3


def engagement(pid: int, ad: int, shot: int) -> float:
    """A known per-shot EN: content effect + a per-person offset + a gender effect."""
    return 1.0 + 0.3 * shot + 0.1 * ad + 0.05 * pid + (0.2 if pid < 4 else 0.0) * (shot == 1)


def write_study(root: Path, *, missing: tuple[tuple[int, int, int], ...] = ()) -> Path:
    """Write the hand-made study + derivatives under ``root``; ``missing`` marks (pid, ad, shot) EEG shots missing."""
    (root / "bids").mkdir(parents=True, exist_ok=True)
    PARTICIPANTS.to_csv(root / "bids" / "participants.tsv", sep="\t", index=False)
    ses = pd.DataFrame(
        [(p, a) for p in PARTICIPANTS["participant_id"] for a in ADS],
        columns=["participant_id", "ad_id"],
    )
    ses.to_csv(root / "sessions.tsv", sep="\t", index=False)
    pd.DataFrame(
        {"ad_id": ADS, "impressions": [1000] * len(ADS), "clicks": [10 * (i + 1) for i in range(len(ADS))],
         "completions": [500 + i for i in range(len(ADS))]}
    ).to_csv(root / "outcomes.tsv", sep="\t", index=False)  # fmt: skip
    deriv = root / "derivatives"
    for d in ("eeg", "eyetrack", "video"):
        (deriv / d).mkdir(parents=True, exist_ok=True)
    shots = pd.DataFrame(
        [
            (a, s, 2.0 * s, 2.0 * s + 2.0, 60 * s, 60 * s + 60, "cut" if s else "start")
            for a in ADS
            for s in range(N_SHOTS)
        ],
        columns=[
            "ad_id",
            "shot",
            "onset_s",
            "offset_s",
            "onset_frame",
            "offset_frame",
            "transition_in",
        ],
    )
    shots.to_parquet(deriv / "video" / "shots.parquet", index=False)
    feats = shots[["ad_id", "shot"]].assign(
        brightness=np.float32(0.7), motion=np.float32(0.01), face_count=np.float32(1.0), text_area=np.float32(0.0),
        loudness_db=np.float32(-20.0), speech_activity=np.float32(0.9), has_audio=np.float32(1.0),
    )  # fmt: skip
    feats.to_parquet(deriv / "video" / "features.parquet", index=False)
    eeg, eye, fix = [], [], []
    for i, pid in enumerate(PARTICIPANTS["participant_id"]):
        for a, ad in enumerate(ADS):
            for s in range(N_SHOTS):
                miss = (i, a, s) in missing
                en = np.nan if miss else engagement(i, a, s)
                eeg.append((pid, ad, s, "engagement", en, 0.0 if miss else 1.0, miss))
                eeg.append(
                    (
                        pid,
                        ad,
                        s,
                        "valence",
                        np.nan if miss else 0.5 * s - 0.02 * i,
                        0.0 if miss else 1.0,
                        miss,
                    )
                )
                eeg.append((pid, ad, s, "arousal", 0.1 * s, 1.0, False))
                eye.append((pid, ad, s, "emr", 0.9 - 0.1 * s + 0.01 * i, 1.0, False))
                eye.append((pid, ad, s, "fixation_count", 3.0 + s, 1.0, False))
                fix.append((pid, ad, s, 2.0 * s, 2.0 * s + 0.5, 0.25, 0.5, True))
                fix.append(
                    (pid, ad, s, 2.0 * s + 0.6, 2.0 * s + 0.8, 5.0, 5.0, False)
                )  # off video: ignored
    cols = ["participant_id", "ad_id", "shot", "index", "value", "valid_fraction", "missing"]
    pd.DataFrame(eeg, columns=cols).to_parquet(deriv / "eeg" / "per_shot.parquet", index=False)
    pd.DataFrame(eye, columns=cols).to_parquet(deriv / "eyetrack" / "per_shot.parquet", index=False)
    pd.DataFrame(
        fix,
        columns=["participant_id", "ad_id", "shot", "onset_s", "offset_s", "x", "y", "on_video"],
    ).to_parquet(deriv / "eyetrack" / "fixations.parquet", index=False)
    q = ses.assign(usable=True, flags="")
    q.to_parquet(deriv / "eeg" / "quality.parquet", index=False)
    q.to_parquet(deriv / "eyetrack" / "quality.parquet", index=False)
    return root


def prepare_cfg(root: Path, overrides: list[str] | None = None):
    """The shipped prepare config pointed at ``root``: no upstream stages, progress bars or stats figures."""
    return compose(
        "prepare",
        [f"paths.study_root={root}", "data.run_stages=[]", "data.progress=false", "data.stats.enabled=false",
         *(overrides or [])],
    )  # fmt: skip


@pytest.fixture
def hand_study(tmp_path) -> Path:
    """The hand-made study (fresh per test, so tests may break it)."""
    return write_study(tmp_path / "study")
