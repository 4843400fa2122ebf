"""Evaluation metrics: accuracy and macro-F1, calibration, bootstrap CIs over ads, saliency scores.

Saliency metrics follow the MIT/Tübingen saliency benchmark definitions (Bylinskii et al. 2019):
CC, KL, SIM on density maps; NSS and AUC-Judd against fixated cells (the measured map's top cells).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    """Share of correct classes (y = -1 entries ignored)."""
    ok = y >= 0
    return float((y[ok] == p[ok]).mean()) if ok.any() else float("nan")


def macro_f1(y: np.ndarray, p: np.ndarray, n_classes: int) -> float:
    """Macro-averaged F1 over classes present in y or p."""
    ok = y >= 0
    y, p = y[ok], p[ok]
    f1s = []
    for c in range(n_classes):
        tp = np.sum((y == c) & (p == c))
        fp = np.sum((y != c) & (p == c))
        fn = np.sum((y == c) & (p != c))
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s)) if f1s else float("nan")


def ece(y: np.ndarray, prob: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error of the top-class probability."""
    ok = y >= 0
    conf = prob[ok].max(1)
    correct = prob[ok].argmax(1) == y[ok]
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    return float(sum(abs(correct[bins == b].mean() - conf[bins == b].mean()) * (bins == b).mean()
                     for b in range(n_bins) if (bins == b).any()))  # fmt: skip


def bootstrap_ci(
    correct: np.ndarray, total: np.ndarray, *, n: int, seed: int
) -> tuple[float, float]:
    """95 % percentile interval of an accuracy, resampling whole ads with replacement.

    ``correct`` and ``total`` are per-ad counts, so one resample is two sums (fast enough for
    thousands of resamples).
    """
    if len(total) == 0 or total.sum() == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(total), size=(n, len(total)))
    acc = correct[pick].sum(1) / np.maximum(total[pick].sum(1), 1)
    return float(np.percentile(acc, 2.5)), float(np.percentile(acc, 97.5))


def paired_bootstrap_diff(
    a: np.ndarray, b: np.ndarray, *, n: int, seed: int
) -> tuple[float, float, float]:
    """Difference of two methods' mean accuracy on the same test ads, with a paired 95 % interval.

    ``a`` and ``b`` are per-index, per-ad counts of shape (K, n_ads, 2) — correct and total — on
    the same ads in the same order. A method's score is the mean over the K indices of its pooled
    accuracy; each resample draws ads with replacement once and scores both methods on them, so
    ad-to-ad difficulty cancels (much tighter than comparing two separate intervals).
    Returns (difference, low, high).
    """

    def score(c: np.ndarray, pick: np.ndarray | slice) -> np.ndarray:
        cor, tot = c[:, pick, 0].sum(-1), c[:, pick, 1].sum(-1)
        return (cor / np.maximum(tot, 1)).mean(0)

    if a.shape != b.shape or a.shape[1] == 0:
        return float("nan"), float("nan"), float("nan")
    diff = float(score(a, slice(None)) - score(b, slice(None)))
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, a.shape[1], size=(n, a.shape[1]))
    d = score(a, pick) - score(b, pick)  # (n,)
    return diff, float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))


def markdown_table(df: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A GitHub-markdown table of ``df`` (no extra dependency)."""
    cols = list(df.columns)
    fmt = lambda v: format(v, floatfmt) if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def saliency_scores(pred: np.ndarray, gt: np.ndarray, top_frac: float = 0.1) -> dict[str, float]:
    """CC, KL, SIM, NSS, AUC-Judd of predicted maps against measured ones; shapes (N, H*W)."""
    eps = 1e-12
    p = pred / (pred.sum(1, keepdims=True) + eps)
    g = gt / (gt.sum(1, keepdims=True) + eps)
    pc, gc = p - p.mean(1, keepdims=True), g - g.mean(1, keepdims=True)
    cc = (pc * gc).sum(1) / (np.sqrt((pc**2).sum(1) * (gc**2).sum(1)) + eps)
    kl = (g * np.log(eps + g / (p + eps))).sum(1)
    sim = np.minimum(p, g).sum(1)
    k = max(1, int(top_frac * g.shape[1]))
    fix = np.zeros_like(g, bool)
    np.put_along_axis(fix, np.argsort(-g, 1)[:, :k], True, axis=1)
    z = (p - p.mean(1, keepdims=True)) / (p.std(1, keepdims=True) + eps)
    nss = np.array([z[i][fix[i]].mean() for i in range(len(z))])
    auc = []
    for i in range(len(p)):
        pos, neg = p[i][fix[i]], p[i][~fix[i]]
        auc.append(
            float(
                (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
            )
        )
    return {"CC": float(np.nanmean(cc)), "KL": float(np.nanmean(kl)), "SIM": float(np.nanmean(sim)),
            "NSS": float(np.nanmean(nss)), "AUC": float(np.mean(auc))}  # fmt: skip
