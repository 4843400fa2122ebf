"""Entry point of ``hmllm serve``: build the app from ``configs/serve.yaml`` and run uvicorn."""

from __future__ import annotations

import logging

from omegaconf import DictConfig

from hmllm.serve.app import create_app
from hmllm.serve.settings import ServeSettings

log = logging.getLogger("hmllm.serve")


def run(cfg: DictConfig) -> None:
    """Serve until interrupted (Ctrl-C stops the worker after its current jobs; queued ones wait).

    Parameters
    ----------
    cfg : DictConfig
        The composed ``serve`` config (``cfg.serve.host``, ``port``, ``data_dir``, ...).
    """
    import uvicorn

    settings = ServeSettings.from_cfg(cfg)
    app = create_app(settings)
    log.info(
        "hmllm serve on http://%s:%d (data in %s)", settings.host, settings.port, settings.data_dir
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
