"""`hmllm report result=<path/to/result.json>`: re-render a saved score result."""

from __future__ import annotations

from omegaconf import OmegaConf

from hmllm.errors import ConfigError
from hmllm.paths import resolve_path


def run(cfg) -> None:
    """Render ``index.html`` (and ``report.png``/``report.pdf``) next to the given result.json."""
    from hmllm.report import export_static, render_report

    if not cfg.result:
        raise ConfigError(
            "give the result to render: `hmllm report result=reports/<ad>/result.json`"
        )
    path = resolve_path(cfg.result)
    if not path.is_file():
        raise ConfigError(
            f"result={cfg.result!r}: no such file ({path}); `hmllm score` writes reports/<ad>/result.json"
        )
    rep = OmegaConf.to_container(cfg.report, resolve=True)
    out = render_report(path, path.parent / "index.html", rep)
    if rep["static"]:
        export_static(path, path.parent, rep)
    print(f"report: {out}")
