"""Prepared tables → per-ad tensors for the response model (contract §4)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hmllm.errors import DataError
from hmllm.model.net import Batch

INDICES = ("en", "em", "emr")


@dataclass
class Vocab:
    """Everything needed to turn tables into tensors the same way at train and predict time."""

    feature_names: list[str]
    feature_mean: list[float]
    feature_std: list[float]
    groups: list[str]
    group_attrs: dict[str, dict[str, str]]
    genders: list[str]
    age_bands: list[str]
    signal_names: list[str] = field(default_factory=list)
    signal_mean: list[float] = field(default_factory=list)
    signal_std: list[float] = field(default_factory=list)

    def audience_vector(self, group: str) -> np.ndarray:
        """One-hot gender (incl. all) and age band (incl. all) of a group, float32."""
        a = self.group_attrs[group]
        v = np.zeros(len(self.genders) + len(self.age_bands), np.float32)
        v[self.genders.index(a["gender"])] = 1
        v[len(self.genders) + self.age_bands.index(a["age_band"])] = 1
        return v


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


@dataclass
class PreparedData:
    """The prepared dataset held as per-ad tensors."""

    vocab: Vocab
    ads: dict[str, str]  # ad_id -> split
    per_ad: dict[str, dict]  # ad_id -> arrays
    classes: dict
    saliency_hw: tuple[int, int]
    ad_outcomes: pd.DataFrame

    def batch(self, ad_ids: list[str]) -> Batch:
        """Concatenate cells of ``ad_ids`` into one :class:`Batch`."""
        parts = [self.per_ad[a] for a in ad_ids]
        cat = lambda k: np.concatenate([p[k] for p in parts])  # noqa: E731
        ad_idx = np.concatenate([np.full(len(p["shot"]), i) for i, p in enumerate(parts)])
        t = lambda x, dt=torch.float32: torch.as_tensor(x, dtype=dt)  # noqa: E731
        return Batch(
            feats=t(cat("feats")), audience=t(cat("audience")), ad=t(ad_idx, torch.long),
            shot=t(cat("shot"), torch.long), group=t(cat("group"), torch.long),
            gender=t(cat("gender"), torch.long), age=t(cat("age"), torch.long),
            classes={k: t(cat(f"c_{k}"), torch.long) for k in INDICES}, values=t(cat("values")),
            signals=t(cat("signals")) if parts[0]["signals"] is not None else None,
            saliency=t(cat("saliency")) if parts[0]["saliency"] is not None else None,
            ad_targets=t(np.stack([p["ad_target"] for p in parts])),
        )  # fmt: skip

    def split_ads(self, split: str) -> list[str]:
        """Ads of a split that have labels, sorted (an ad seen by fewer than k viewers has none)."""
        return sorted(a for a, s in self.ads.items() if s == split and a in self.per_ad)


def load(prepared: str | Path, *, use_signals: list[str] | None = None) -> PreparedData:
    """Read a prepared dataset; standardise features and signals with TRAIN statistics.

    ``use_signals``: prefixes of signal columns kept for alignment (e.g. ``["sig_eeg", "sig_eyetrack"]``).
    """
    prepared = Path(prepared)
    need = ["labels.parquet", "features.parquet", "groups.parquet", "classes.json", "ads.parquet"]
    missing = [n for n in need if not (prepared / n).is_file()]
    if missing:
        raise DataError(
            f"{prepared} lacks {missing}; run `hmllm prepare` first (or point paths.prepared at a prepared dataset)"
        )
    labels = pd.read_parquet(prepared / "labels.parquet")
    feats = pd.read_parquet(prepared / "features.parquet")
    groups = pd.read_parquet(prepared / "groups.parquet")
    classes = json.loads((prepared / "classes.json").read_text())
    ads = pd.read_parquet(prepared / "ads.parquet")
    split = dict(zip(ads["ad_id"], ads["split"], strict=True))
    fnames = [c for c in feats.columns if c not in ("ad_id", "shot", "split")]
    train_f = feats[feats["ad_id"].map(split) == "train"][fnames].to_numpy(np.float64)
    mean, std = np.nanmean(train_f, 0), np.nanstd(train_f, 0)
    std[~np.isfinite(std) | (std < 1e-9)] = 1.0
    mean[~np.isfinite(mean)] = 0.0
    sig, snames, smean, sstd = None, [], [], []
    if use_signals and (prepared / "signals.parquet").is_file():
        sig = pd.read_parquet(prepared / "signals.parquet")
        snames = [c for c in sig.columns if any(c.startswith(p) for p in use_signals)]
        if snames:
            tr = sig[sig["ad_id"].map(split) == "train"][snames].to_numpy(np.float64)
            smean, sstd = np.nanmean(tr, 0), np.nanstd(tr, 0)
            sstd[~np.isfinite(sstd) | (sstd < 1e-9)] = 1.0
            smean[~np.isfinite(smean)] = 0.0
            sig = sig.set_index(["ad_id", "shot", "group"])
        else:
            sig = None
    genders = ["all", "male", "female"]
    bands = ["all", *sorted({b for b in groups["age_band"] if b != "all"})]
    vocab = Vocab(fnames, mean.tolist(), std.tolist(), groups["group"].tolist(),
                  {r.group: {"gender": r.gender, "age_band": r.age_band} for r in groups.itertuples()},
                  genders, bands, snames, list(map(float, smean)), list(map(float, sstd)))  # fmt: skip
    sal = None
    if (prepared / "saliency.npz").is_file():
        z = np.load(prepared / "saliency.npz")
        sal = {
            (a, int(s), g): m
            for a, s, g, m in zip(z["ad_id"], z["shot"], z["group"], z["maps"], strict=True)
        }
        hw = tuple(z["maps"].shape[1:])
    else:
        hw = (18, 32)
    fidx = feats.set_index(["ad_id", "shot"])
    g_index = {g: i for i, g in enumerate(vocab.groups)}
    ad_out = ads.set_index("ad_id")
    per_ad = {}
    for ad_id, lab in labels.groupby("ad_id", sort=True):
        lab = lab.sort_values(["group", "shot"])
        f = fidx.loc[list(zip(lab["ad_id"], lab["shot"], strict=True)), fnames].to_numpy(np.float64)
        f = np.nan_to_num((f - mean) / std).astype(np.float32)
        aud = np.stack([vocab.audience_vector(g) for g in lab["group"]])
        s_arr = None
        if sig is not None:
            s = sig.reindex(list(zip(lab["ad_id"], lab["shot"], lab["group"], strict=True)))[
                snames
            ].to_numpy(np.float64)
            s_arr = np.nan_to_num((s - smean) / sstd).astype(np.float32)
        sal_arr = None
        if sal is not None:
            sal_arr = (
                np.stack(
                    [
                        sal.get((ad_id, int(s), g), np.full(hw, 1.0 / (hw[0] * hw[1])))
                        for s, g in zip(lab["shot"], lab["group"], strict=True)
                    ]
                )
                .reshape(len(lab), -1)
                .astype(np.float32)
            )
        o = ad_out.loc[ad_id]
        per_ad[ad_id] = {
            "feats": f, "audience": aud, "shot": lab["shot"].to_numpy(), "group": lab["group"].map(g_index).to_numpy(),
            "gender": np.array([genders.index(vocab.group_attrs[g]["gender"]) for g in lab["group"]]),
            "age": np.array([bands.index(vocab.group_attrs[g]["age_band"]) for g in lab["group"]]),
            **{f"c_{k}": lab[f"{k}_class"].to_numpy(np.int64) for k in INDICES},
            "values": lab[list(INDICES)].to_numpy(np.float32), "signals": s_arr, "saliency": sal_arr,
            "ad_target": np.array([_logit(np.array(o.get("ctr", np.nan))), _logit(np.array(o.get("completion_rate", np.nan)))], np.float32),
            "labels": lab,
        }  # fmt: skip
    return PreparedData(vocab, split, per_ad, classes, hw, ads)
