"""Audience ids for scoring: validate against the model's groups and accept friendly spellings.

Canonical ids are those of ``prepared/groups.parquet`` (contract §4): ``all``, ``female``,
``male``, ``all_26-30``, ``female_26-30`` … Users may also type ``women_26_30``, ``Women 26-30``,
``men``, ``everyone``.
"""

from __future__ import annotations

import re

from hmllm.errors import ConfigError

_GENDER = {"women": "female", "woman": "female", "female": "female", "f": "female",
           "men": "male", "man": "male", "male": "male", "m": "male",
           "all": "all", "everyone": "all", "viewers": "all"}  # fmt: skip
_PATTERN = re.compile(
    r"([a-z]+)(?:[_ ](\d{1,2})[-_ ](\d{1,2})|[_ ](under20|over50|under_20|over_50))?"
)


def normalise_audience(text: str) -> str:
    """Map a friendly spelling to a canonical id.

    ``women_26_30`` / ``Women 26-30`` / ``female_26-30`` → ``female_26-30``; ``everyone`` →
    ``all``; ``men_over_50`` → ``male_over50``. Anything else is returned stripped, unchanged
    (``city_tier=tier1``), so that validation can name it.
    """
    t = re.sub(r"\s+", " ", str(text).strip().lower())
    m = _PATTERN.fullmatch(t)
    if not m or m.group(1) not in _GENDER:
        return str(text).strip()
    gender = _GENDER[m.group(1)]
    if m.group(2):
        return f"{gender}_{m.group(2)}-{m.group(3)}"
    if m.group(4):
        return f"{gender}_{m.group(4).replace('_', '')}"
    return gender


def resolve_audiences(requested: list[str] | str | None, known: list[str], k: int) -> list[str]:
    """Validate requested audiences against the groups a checkpoint was trained with.

    Parameters
    ----------
    requested
        Ids or aliases; empty or ``None`` means every known group.
    known
        The checkpoint's groups (only groups with at least ``k`` participants exist there).
    k
        The k-anonymity floor the model was trained with (named in the error).

    Returns
    -------
    list of str
        Canonical ids, in the order requested, without duplicates.

    Raises
    ------
    ConfigError
        For an unknown audience, listing the known groups and the k-anonymity floor.
    """
    if requested is None:
        requested = []
    if isinstance(requested, str):
        requested = [requested]
    if not requested:
        return list(known)
    out = []
    for r in requested:
        g = normalise_audience(r)
        if g not in known:
            raise ConfigError(
                f"unknown audience {str(r)!r} (read as {g!r}); this model knows {sorted(known)}. "
                f"Groups with fewer than {k} participants in training are never reported "
                f"(k-anonymity); pick one of the known groups, e.g. audience={known[0]}"
            )
        out.append(g)
    return list(dict.fromkeys(out))
