"""A checkpoint trained on a fake prepared set whose columns are the real handcrafted features.

Training on fake labels keeps the score tests fast (seconds) while every stage — probe, PySceneDetect,
decord keyframes, handcrafted features, the real predictor — runs for real on a real mp4. The slow
end-to-end test trains on the `tiny` synthetic study instead (``tiny_checkpoint``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.report.example import write_mp4

# the handcrafted extractor's columns (hmllm.video.features), in the order it writes them
HANDCRAFTED = ["hue_sin", "hue_cos", "saturation", "brightness", "brightness_sd", "colourfulness",
               "edge_density", "text_area", "face_count", "face_area", "motion", "flow", "duration_s",
               "position", "cut_rate_per_10s", "loudness_db", "speech_activity", "spectral_centroid_hz",
               "spectral_flatness", "has_audio"]  # fmt: skip


def _fake_prepared(root: Path) -> Path:
    from tests.model.conftest import make_prepared

    make_prepared(root, n_ads=8, n_shots=4)
    f = pd.read_parquet(root / "features.parquet")
    rng = np.random.default_rng(1)
    rename = {f"f{i}": HANDCRAFTED[i] for i in range(6)}
    f = f.rename(columns=rename)
    for name in HANDCRAFTED[6:]:
        f[name] = rng.normal(size=len(f)).astype(np.float32)
    f.to_parquet(root / "features.parquet", index=False)
    return root


@pytest.fixture(scope="session")
def fast_checkpoint(tmp_path_factory) -> Path:
    """``best.pt`` of a 3-epoch hypergraph run on the fake handcrafted-feature dataset."""
    from hmllm.train import train
    from tests.conftest import compose
    from tests.model.conftest import train_overrides

    prepared = _fake_prepared(tmp_path_factory.mktemp("fake-hc") / "prepared")
    runs = tmp_path_factory.mktemp("runs")
    over = train_overrides(prepared, runs, "trainer.epochs=3", "trainer.patience=3")
    train(compose("train", over))
    return next(runs.rglob("best.pt"))


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_prepared, data_root) -> Path:
    """``best.pt`` trained on the `tiny` synthetic study (slow: synth + prepare + train)."""
    from hmllm.train import train
    from tests.conftest import compose

    runs = data_root / "runs-score"
    train(compose("train", ["size=tiny", f"paths.data_root={data_root}", f"paths.runs={runs}",
                            "trainer.progress=false", "trainer.tensorboard=false", "trainer.epochs=3"]))  # fmt: skip
    return next(runs.rglob("best.pt"))


@pytest.fixture(scope="session")
def ad_mp4(tmp_path_factory) -> Path:
    """The 6 s, 3-shot example ad (cuts at 2.0 s and 4.5 s)."""
    return write_mp4(tmp_path_factory.mktemp("ads") / "spring ad.mp4")
