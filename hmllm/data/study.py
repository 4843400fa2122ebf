"""Read a study's tables (participants, sessions) with validation at the door (contract §1)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hmllm.errors import DataError

LAYOUT_HINT = "see datasets/README.md for the study layout"


def read_tsv(path: Path, what: str) -> pd.DataFrame:
    """Read a BIDS-style TSV (``n/a`` = missing) or raise a DataError naming the file and what it holds."""
    if not path.is_file():
        raise DataError(f"{path} not found: it should hold {what} ({LAYOUT_HINT})")
    try:
        return pd.read_csv(
            path, sep="\t", dtype={"participant_id": str, "ad_id": str}, na_values=["n/a"]
        )
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(
            f"{path} is not a readable tab-separated table ({exc}); {LAYOUT_HINT}"
        ) from None


def read_participants(root: Path, attributes: list[str]) -> pd.DataFrame:
    """``bids/participants.tsv`` with the columns the audience config needs.

    Parameters
    ----------
    root : Path
        The study root.
    attributes : list of str
        Columns that must exist (``gender``, ``age_band`` and any extra audience attribute).

    Returns
    -------
    DataFrame
        One row per participant; ``participant_id`` unique.
    """
    path = root / "bids" / "participants.tsv"
    df = read_tsv(path, "one row per participant with demographics")
    need = ["participant_id", *attributes]
    missing = [a for a in need if a not in df.columns]
    if missing:
        raise DataError(f"{path} lacks column(s) {missing}; add them, or remove them from the audience config "
                        "(audience.extra_attributes)")  # fmt: skip
    dup = sorted(df.loc[df["participant_id"].duplicated(), "participant_id"])
    if dup:
        raise DataError(
            f"{path}: participant(s) {dup[:5]} listed more than once; keep one row each"
        )
    for a in attributes:
        empty = df.loc[df[a].isna(), "participant_id"].tolist()
        if empty:
            raise DataError(
                f"{path}: column {a!r} is empty for {empty[:5]}; fill it in (groups need it)"
            )
    return df.reset_index(drop=True)


def read_sessions(root: Path, participants: pd.DataFrame) -> pd.DataFrame:
    """``sessions.tsv``: one row per recording; every participant must be in participants.tsv."""
    path = root / "sessions.tsv"
    ses = read_tsv(path, "one row per recording (participant x ad)")
    missing = [c for c in ("participant_id", "ad_id") if c not in ses.columns]
    if missing:
        raise DataError(f"{path} lacks column(s) {missing}; {LAYOUT_HINT}")
    unknown = sorted(set(ses["participant_id"]) - set(participants["participant_id"]))
    if unknown:
        raise DataError(f"{path}: participant(s) {unknown[:5]} are not in bids/participants.tsv; "
                        "add them there or drop their sessions")  # fmt: skip
    if ses.empty:
        raise DataError(f"{path} lists no recordings")
    return ses
