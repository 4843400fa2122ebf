"""Audience ids for scoring: validate against the model's groups, accept friendly spellings."""

from __future__ import annotations

import re

from hmllm.errors import ConfigError

_GENDER = {"women": "female", "woman": "female", "female": "female", "f": "female",
           "men": "male", "man": "male", "male": "male", "m": "male", "all": "all", "everyone": "all"}  # fmt: skip


def normalise_audience(text: str) -> str:
    """``women_26_30`` / ``Women 26-30`` / ``female_26-30`` → ``female_26-30``; ``everyone`` → ``all``."""
    t = text.strip().lower().replace(" ", "_")
    m = re.fullmatch(r"([a-z]+)(?:_(\d{2})[-_](\d{2})|_(under20|over50))?", t)
    if not m:
        return text.strip()
    gender = _GENDER.get(m.group(1), m.group(1))
    if m.group(2):
        band = f"{m.group(2)}-{m.group(3)}"
    elif m.group(4):
        band = m.group(4)
    else:
        return gender
    return f"{gender}_{band}"


def resolve_audiences(requested: list[str] | str, known: list[str], k: int) -> list[str]:
    """Validate requested audiences (default: all known); unknown ones name the known ones."""
    if isinstance(requested, str):
        requested = [requested]
    if not requested:
        return list(known)
    out = []
    for r in requested:
        g = normalise_audience(str(r))
        if g not in known:
            raise ConfigError(
                f"unknown audience {r!r}; this model knows {known} (groups with fewer than {k} "
                "participants in training are never reported)"
            )
        out.append(g)
    return list(dict.fromkeys(out))
