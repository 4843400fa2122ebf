"""The ``hmllm`` command: one thin dispatcher over Hydra-configured subcommands.

``hmllm <command> [key=value ...] [-m] [--cfg job]`` composes ``configs/<command>.yaml`` with
the overrides and calls the command's ``run(cfg)``. Everything after the command name is Hydra's own
command line, so multiruns (``-m``), ``--cfg job``, ``--help`` and tab-completion behave as in any
Hydra app.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hmllm.errors import HmllmError
from hmllm.paths import config_dir

log = logging.getLogger("hmllm")


@dataclass(frozen=True)
class Command:
    """One subcommand: where its ``run(cfg)`` lives and what it does."""

    target: str  # "module:function"
    summary: str
    positional: str | None = None  # config key that collects bare positional args (e.g. videos)


COMMANDS: dict[str, Command] = {
    "synth": Command("hmllm.synth.run:run", "write a synthetic Video-SME study (ads, EEG, gaze)"),
    "video": Command("hmllm.video.run:run", "split ads into shots and compute shot features"),
    "eeg": Command("eeg.batch:run", "EEG → per-second/per-shot engagement & emotion (batch)"),
    "eyetrack": Command("eyetrack.batch:run", "gaze → per-second/per-shot EMR & heatmaps (batch)"),
    "prepare": Command("hmllm.data.prepare:run", "signals + shots → P1/P2 labels, splits, tables"),
    "train": Command("hmllm.train:run", "train a model (hypergraph by default) on a prepared set"),
    "evaluate": Command("hmllm.evaluate:run", "score a checkpoint: P1/P2 accuracy, saliency, CIs"),
    "validity": Command(
        "hmllm.validity:run", "ΔR² of CTR/completion per measured index beyond video features"
    ),
    "score": Command(
        "hmllm.score:run", "predict per-shot responses for new ads + report", "videos"
    ),
    "report": Command("hmllm.report.run:run", "render a report from a saved score result"),
    "reproduce": Command(
        "hmllm.reproduce:run", "rerun experiments and compare with committed", "reproduce.names"
    ),
    "serve": Command("hmllm.serve.run:run", "web upload service for creative testers"),
    "lm": Command("hmllm.lm.run:run", "language stage: train / ask the instruction-tuned LM"),
}

# Hydra flags that consume the next argument (so it is not mistaken for a positional path).
_FLAGS_WITH_VALUE = {
    "--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
    "--config-dir", "-cd", "--experimental-rerun", "--info", "-i",
}  # fmt: skip


def _load(target: str) -> Callable:
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


def _config_groups() -> list[str]:
    root = config_dir()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name != "hydra")


def _usage() -> str:
    width = max(len(n) for n in COMMANDS)
    lines = [
        "usage: hmllm <command> [key=value ...] [-m] [--cfg job] [--help]",
        "",
        "commands:",
        *(f"  {name:<{width}}  {c.summary}" for name, c in COMMANDS.items()),
        "",
        "config groups (pick one with group=option; `hmllm <command> --help` lists options):",
        "  " + ", ".join(_config_groups()),
        "",
        "examples:",
        "  hmllm synth size=tiny paths.data_root=/tmp/hmllm",
        "  hmllm train model.fusion=hypergraph,late -m",
        "  hmllm score ad.mp4 audience=female_26-30",
    ]
    return "\n".join(lines)


def _split_positionals(args: list[str]) -> tuple[list[str], list[str]]:
    """Separate bare positional arguments (file paths) from Hydra's command line."""
    positional, hydra_args = [], []
    skip = False
    for a in args:
        if skip:
            hydra_args.append(a)
            skip = False
        elif a in _FLAGS_WITH_VALUE:
            hydra_args.append(a)
            skip = a not in ("--info", "-i")  # --info's value is optional
        elif a.startswith("-") or "=" in a or a.startswith("+") or a.startswith("~"):
            hydra_args.append(a)
        else:
            positional.append(a)
    return positional, hydra_args


def _quote_list(values: list[str]) -> str:
    quoted = ",".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values)
    return f"[{quoted}]"


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``hmllm`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return
    if argv[0] in ("-V", "--version"):
        from hmllm import __version__

        print(f"hmllm {__version__}")
        return
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"hmllm: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        raise SystemExit(2)
    command = COMMANDS[name]
    positional, hydra_args = _split_positionals(rest)
    if positional:
        if command.positional is None:
            print(
                f"hmllm {name}: unexpected argument(s) {positional}; settings are given as "
                "key=value (see `hmllm {name} --help`)",
                file=sys.stderr,
            )
            raise SystemExit(2)
        hydra_args.append(f"{command.positional}={_quote_list(positional)}")
    run_command(name, hydra_args)


def _precheck_data_root(name: str, hydra_args: list[str]) -> None:
    """Fail with one line when ``paths.data_root`` cannot hold outputs.

    Hydra creates its run directory under the data root before any hmllm code runs, and would
    report an unwritable root as a stack trace; checking first keeps the message actionable.
    """
    if any(a.startswith("-") for a in hydra_args):  # multirun/--cfg/--help: let Hydra handle it
        return
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from hmllm.paths import ensure_writable_dir

    try:
        with initialize_config_dir(version_base="1.3", config_dir=str(config_dir())):
            cfg = compose(config_name=name, overrides=hydra_args)
        root = cfg.paths.data_root
    except (HydraException, OmegaConfBaseException, ValueError):
        return  # Hydra reports composition errors itself, in its own words
    try:
        ensure_writable_dir(root, "paths.data_root")
    except HmllmError as exc:
        print(f"hmllm {name}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


#: How Python's int() and float() start their message for text that is not a number.
NOT_A_NUMBER = ("invalid literal for int()", "could not convert string to float")


def run_command(name: str, hydra_args: list[str]) -> None:
    """Compose ``configs/<name>.yaml`` with ``hydra_args`` and call the command's ``run``."""
    import hydra
    from omegaconf import DictConfig

    command = COMMANDS[name]
    _precheck_data_root(name, hydra_args)

    def task(cfg: DictConfig) -> None:
        try:
            fn = _load(command.target)
            fn(cfg)
        except HmllmError as exc:
            print(f"hmllm {name}: error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        except ValueError as exc:
            # int("two") / float("fast"): a setting given as text where a number belongs (commands
            # convert config values as they read them); anything else is a bug and is re-raised
            if not str(exc).startswith(NOT_A_NUMBER):
                raise
            given = " ".join(a for a in hydra_args if "=" in a) or "(none)"
            print(f"hmllm {name}: error: a setting that must be a number is not one ({exc}); "
                  f"check the overrides given ({given}) and the YAML files in configs/",
                  file=sys.stderr)  # fmt: skip
            raise SystemExit(2) from None
        except KeyboardInterrupt:
            print(f"hmllm {name}: interrupted; re-run the same command to resume", file=sys.stderr)
            raise SystemExit(130) from None

    task.__module__ = "hmllm.cli"
    task.__name__ = name
    saved = sys.argv
    sys.argv = [f"hmllm {name}", *hydra_args, f"hydra.job.name={name}"]
    try:
        hydra.main(version_base="1.3", config_path=str(config_dir()), config_name=name)(task)()
    finally:
        sys.argv = saved


def config_path_for(name: str) -> Path:
    """Path of the primary config file of a command (used by tests and docs)."""
    return config_dir() / f"{name}.yaml"


if __name__ == "__main__":  # pragma: no cover
    main()
