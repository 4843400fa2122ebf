"""Compose the shipped configs from Python, exactly as the CLI would (no run directory)."""

from __future__ import annotations

from omegaconf import DictConfig


def compose_config(command: str, overrides: list[str] | None = None) -> DictConfig:
    """``configs/<command>.yaml`` composed with ``overrides`` (Hydra's compose API)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from hmllm.paths import config_dir

    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(config_dir())):
        return compose(config_name=command, overrides=list(overrides or []))
