"""Train / val / test splits by ad: an ad never appears in two splits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hmllm.errors import ConfigError, DataError

SPLITS = ("train", "val", "test")


def split_ads(ad_ids: list[str], *, seed: int, test_fraction: float, min_test_ads: int, val_fraction: float,
              min_train_ads: int = 1) -> dict[str, str]:  # fmt: skip
    """Assign each ad to one split, seeded.

    Parameters
    ----------
    ad_ids : list of str
        The study's ads (order does not matter: they are sorted first, so the result depends only on
        the set of ids and ``seed``).
    seed : int
        Seed of the permutation.
    test_fraction : float
        Share of ads in test, in (0, 1); the paper's 72 / 498 = 0.1446 by default.
    min_test_ads : int
        Lower bound on test ads, so small studies still get a usable test set.
    val_fraction : float
        Share of the non-test ads carved out for validation, in [0, 1).
    min_train_ads : int
        Ads kept for training at least; validation is dropped first when there are too few ads.

    Returns
    -------
    dict
        ``ad_id → "train" | "val" | "test"``.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"data.split.test_fraction must be in (0, 1), got {test_fraction}")
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"data.split.val_fraction must be in [0, 1), got {val_fraction}")
    ads = sorted(set(ad_ids))
    if len(ads) < 2:
        raise DataError(f"need at least 2 ads to split into train and test, got {len(ads)}: {ads}")
    order = np.random.default_rng(seed).permutation(len(ads))
    n_test = max(int(round(test_fraction * len(ads))), int(min_test_ads), 1)
    n_test = min(n_test, len(ads) - max(1, int(min_train_ads)))
    n_rest = len(ads) - n_test
    n_val = int(round(val_fraction * n_rest)) if val_fraction > 0 else 0
    if val_fraction > 0 and n_val == 0 and n_rest - 1 >= max(2, int(min_train_ads)):
        n_val = 1  # a requested validation split gets at least one ad when training can spare it
    n_val = min(n_val, max(0, n_rest - max(1, int(min_train_ads))))
    split = {}
    for rank, i in enumerate(order):
        split[ads[i]] = "test" if rank < n_test else ("val" if rank < n_test + n_val else "train")
    return split


def subsample_participants(sessions: pd.DataFrame, split: dict[str, str], *, n_participants: int | None,
                           seed: int, splits: list[str]) -> pd.DataFrame:  # fmt: skip
    """Keep the recordings of ``n_participants`` seeded-random participants on the ads of ``splits``.

    For data-scale curves: labels of the ``splits`` ads (train and validation by default) come from
    fewer people while the other splits keep everyone, so accuracies at every size are measured on
    the same test labels. The participants are a prefix of one seeded permutation, so for one seed a
    smaller subsample is contained in every larger one (12 ⊂ 24 ⊂ 48).

    Parameters
    ----------
    sessions : DataFrame
        ``sessions.tsv`` (``participant_id``, ``ad_id``, ...), one row per recording.
    split : dict
        ``ad_id → "train" | "val" | "test"`` (:func:`split_ads`).
    n_participants : int or None
        Participants kept on the ``splits`` ads; None keeps everyone.
    seed : int
        Seed of the permutation of the sorted participant ids.
    splits : list of str
        Splits whose recordings are subsampled.

    Returns
    -------
    DataFrame
        ``sessions`` without the other participants' recordings of ``splits`` ads.
    """
    if n_participants is None:
        return sessions
    bad = sorted(set(splits) - set(SPLITS))
    if bad:
        raise ConfigError(f"data.subsample.splits has {bad}; allowed: {list(SPLITS)}")
    people = np.array(sorted(sessions["participant_id"].unique()))
    if not 1 <= int(n_participants) <= len(people):
        raise ConfigError(
            f"data.subsample.n_participants must be between 1 and the study's {len(people)} "
            f"participants, got {n_participants}; use null to keep everyone"
        )
    keep = set(people[np.random.default_rng(seed).permutation(len(people))[: int(n_participants)]])
    in_splits = sessions["ad_id"].map(split).isin(list(splits))
    return sessions[~in_splits | sessions["participant_id"].isin(keep)]
