"""Audience groups (P1 = everyone, P2 = demographic groups) and their members."""

from __future__ import annotations

import pandas as pd

from hmllm.errors import ConfigError

GROUP_COLUMNS = ["group", "level", "gender", "age_band", "attribute", "value"]


def group_id(gender: str, age_band: str) -> str:
    """Id of a gender × age-band group as in the paper's code: ``all``, ``female``, ``all_26-30``."""
    if gender == "all" and age_band == "all":
        return "all"
    return gender if age_band == "all" else f"{gender}_{age_band}"


def parse_group_id(group: str) -> tuple[str, str, str]:
    """Inverse of :func:`group_id`, also for one-attribute groups (``city_tier=tier1``).

    Returns ``("attribute", name, value)`` or ``("demographic", gender, age_band)`` where a missing
    part is ``"all"``: ``female`` → ``("demographic", "female", "all")``.
    """
    if "=" in group:
        attr, value = group.split("=", 1)
        return "attribute", attr, value
    gender, _, band = group.partition("_")
    return "demographic", gender, band or "all"


def audience_groups(participants: pd.DataFrame, audience: dict) -> pd.DataFrame:
    """Every candidate audience group, before the k-anonymity floor.

    Parameters
    ----------
    participants : DataFrame
        ``participant_id, gender, age_band`` (+ any extra attribute columns).
    audience : dict
        The ``audience`` config: ``genders``, ``age_bands``, ``extra_attributes``.

    Returns
    -------
    DataFrame
        ``group, level, gender, age_band, attribute, value``: gender {all, configured genders} ×
        age {all, configured bands} (marginals included, P1 = ``all``), then one group per value of
        each extra attribute (``city_tier=tier1``). Only values present in the study are listed.

    Raises
    ------
    ConfigError
        If an extra attribute is not a participants.tsv column.
    """
    present_g = set(participants["gender"].astype(str))
    present_b = set(participants["age_band"].astype(str))
    genders = ["all", *[g for g in audience["genders"] if g in present_g]]
    bands = ["all", *[b for b in audience["age_bands"] if b in present_b]]
    rows = [
        {"group": group_id(g, b), "level": "P1" if (g, b) == ("all", "all") else "P2", "gender": g,
         "age_band": b, "attribute": "", "value": ""}
        for g in genders
        for b in bands
    ]  # fmt: skip
    for attr in audience.get("extra_attributes") or []:
        if attr not in participants.columns:
            raise ConfigError(
                f"audience.extra_attributes: {attr!r} is not a column of bids/participants.tsv "
                f"(columns: {sorted(participants.columns)}); remove it or add the column"
            )
        for v in sorted(participants[attr].dropna().astype(str).unique()):
            rows.append({"group": f"{attr}={v}", "level": "P2", "gender": "all", "age_band": "all",
                         "attribute": attr, "value": v})  # fmt: skip
    return pd.DataFrame(rows, columns=GROUP_COLUMNS)


def members(participants: pd.DataFrame, group: dict) -> pd.Series:
    """Boolean mask over ``participants`` rows: who belongs to ``group`` (a groups-table record)."""
    m = pd.Series(True, index=participants.index)
    if group["gender"] != "all":
        m &= participants["gender"].astype(str) == group["gender"]
    if group["age_band"] != "all":
        m &= participants["age_band"].astype(str) == group["age_band"]
    if group.get("attribute"):
        m &= participants[group["attribute"]].astype(str) == group["value"]
    return m


def membership(participants: pd.DataFrame, groups: pd.DataFrame) -> pd.DataFrame:
    """Long table ``participant_id, group``: one row per (participant, group they belong to)."""
    frames = [
        pd.DataFrame(
            {
                "participant_id": participants.loc[members(participants, g), "participant_id"],
                "group": g["group"],
            }
        )
        for g in groups.to_dict("records")
    ]
    return pd.concat(frames, ignore_index=True)
