"""Shared fixtures: compose the real shipped configs and build tiny studies once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def compose(command: str, overrides: list[str] | None = None):
    """Compose ``configs/<command>.yaml`` with overrides, as the CLI would (no run dir)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from hmllm.paths import config_dir

    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(config_dir())):
        return hydra_compose(config_name=command, overrides=list(overrides or []))


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    """A session-wide data root for generated studies."""
    return tmp_path_factory.mktemp("hmllm-data")


@pytest.fixture(scope="session")
def tiny_study(data_root) -> Path:
    """The `tiny` synthetic study (2 ads, 3 participants), generated once per session."""
    from hmllm.synth import generate_study

    cfg = compose("synth", ["size=tiny", f"paths.data_root={data_root}"])
    return generate_study(cfg)


@pytest.fixture(scope="session")
def tiny_prepared(tiny_study, data_root) -> Path:
    """The tiny study run through video + signals + labels (`hmllm prepare size=tiny`)."""
    from hmllm.data.prepare import prepare_study

    cfg = compose("prepare", ["size=tiny", f"paths.data_root={data_root}"])
    return prepare_study(cfg)
