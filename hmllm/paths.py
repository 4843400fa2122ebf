"""Where things live: the shipped Hydra config tree and the user's data root."""

from __future__ import annotations

import os
from pathlib import Path

from hmllm.errors import ConfigError


def config_dir() -> Path:
    """Return the directory of the shipped Hydra configs.

    From a source checkout (editable install) this is ``<repo>/configs``; a built wheel carries the
    same tree as ``hmllm/_configs``.
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "_configs", here.parent / "configs"):
        if (candidate / "paths").is_dir():
            return candidate
    raise ConfigError(
        f"hmllm's config tree was not found next to {here} (looked for _configs/ and ../configs/); "
        "reinstall the package with `pip install -e .` or from a built wheel."
    )


def resolve_path(path: str | os.PathLike[str]) -> Path:
    """Resolve a user path against the directory the command was started from.

    Hydra may change the working directory for a run; paths given on the command line are meant
    relative to where the user typed them.
    """
    p = Path(os.path.expanduser(str(path)))
    if p.is_absolute():
        return p
    try:
        from hydra.core.hydra_config import HydraConfig

        base = Path(HydraConfig.get().runtime.cwd) if HydraConfig.initialized() else Path.cwd()
    except Exception:  # noqa: BLE001 - hydra absent or not running: the process cwd is right
        base = Path.cwd()
    return (base / p).resolve()


def ensure_writable_dir(path: str | os.PathLike[str], what: str) -> Path:
    """Create ``path`` if needed and check that files can be written there.

    Raises
    ------
    ConfigError
        If the directory cannot be created or written, naming ``what`` (e.g. ``paths.data_root``).
    """
    p = resolve_path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / ".hmllm-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"{what}={str(path)!r} is not a writable directory ({exc.strerror or exc}); "
            f"choose another one, e.g. `{what}=./data`."
        ) from None
    return p


def shot_table(source: str, study_root: Path, derivatives: Path) -> tuple[Path, str]:
    """Where the shot table for ``source`` lives, and what to do when it is missing.

    ``detected`` is ``hmllm video``'s output, ``truth`` a synthetic study's exact cuts, anything
    else a path. Shared by the EEG and eye-tracking batches, which raise their own error types.
    """
    if source == "detected":
        return (
            derivatives / "video" / "shots.parquet",
            "run `hmllm video` first (or `hmllm prepare`, which runs it)",
        )
    if source == "truth":
        return study_root / "truth" / "shots.parquet", "only synthetic studies have truth/"
    return Path(source), "check the path"
