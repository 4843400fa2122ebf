"""`hmllm validity`: what a measured index explains of an ad's outcomes beyond its video features.

The field disputes which neural and gaze measures carry signal about an ad's effect in the market
rather than restating what its content already predicts. For every outcome (CTR, completion rate)
and every measured index (EN, EM, EMR, ISC, ...) this compares, cross-validated over ads, the R² of
a ridge regression on the video's features alone with the R² after adding the ad's mean of that
index::

    ΔR² = R²(video + index) − R²(video)

Both R² are out-of-fold: each ad is predicted by a model fitted without it (leave-one-ad-out or
seeded K-fold); standardisation and the principal components of the video features are fitted in
each training fold only. The 95 % interval of ΔR² resamples ads (bootstrap of the out-of-fold
predictions); the p-value permutes the index across ads and refits every fold, the null being "the
index adds nothing the video does not already carry".

Inputs (docs/contracts.md §4, §2): ``prepared/ads.parquet`` (outcomes), ``prepared/features.parquet``
(shot features, averaged per ad, plus the shot count), ``prepared/participant_shot.parquet`` (the
indices per participant and shot, averaged per ad) and, if present, ``derivatives/eeg/isc.parquet``
(per-second ISC, averaged per ad). Writes ``validity.json``, ``validity.md`` and ``validity.png``.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from tqdm import tqdm  # noqa: E402

from hmllm.errors import ConfigError, DataError  # noqa: E402
from hmllm.paths import resolve_path  # noqa: E402

CV_SCHEMES = ("loo", "kfold")
TRANSFORMS = ("logit", "none")


def ad_table(
    prepared: Path, indices: list[str], *, values: str = "normalised", isc_file: Path | None = None
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """One row per ad: outcomes, video features and the measured indices.

    Parameters
    ----------
    prepared : Path
        A prepared dataset (``hmllm prepare``).
    indices : list of str
        Columns of ``participant_shot.parquet`` (``en``, ``em``, ``emr``) averaged per ad over
        participants and shots.
    values : {"normalised", "raw"}
        The participant-normalised values the labels use, or ``<index>_raw`` (signal units).
    isc_file : Path, optional
        ``isc.parquet`` of the EEG batch; each of its ``index`` names becomes a column (mean of
        the valid per-second values, else of the per-shot values). Skipped when absent.

    Returns
    -------
    table : DataFrame
        Indexed by ``ad_id``: ``ads.parquet`` columns, ``video_<feature>`` columns and one column
        per measured index.
    video_cols, measured_cols : list of str
        The video-feature and measured-index columns of ``table``.
    """
    need = ["ads.parquet", "features.parquet", "participant_shot.parquet"]
    missing = [n for n in need if not (prepared / n).is_file()]
    if missing:
        raise DataError(f"{prepared} lacks {missing}; run `hmllm prepare` (or set paths.prepared)")
    if values not in ("normalised", "raw"):
        raise ConfigError(f"validity.values must be normalised or raw, got {values!r}")
    ads = pd.read_parquet(prepared / "ads.parquet").set_index("ad_id")
    feats = pd.read_parquet(prepared / "features.parquet")
    fcols = [c for c in feats.columns if c not in ("ad_id", "shot", "split")]
    video = feats.groupby("ad_id")[fcols].mean().add_prefix("video_")
    video["video_n_shots"] = feats.groupby("ad_id")["shot"].nunique().astype(float)
    # a feature missing for some ad, or the same for all, cannot be part of a per-ad design
    video = video.loc[:, video.notna().all() & (video.nunique() > 1)]
    ps = pd.read_parquet(prepared / "participant_shot.parquet")
    cols = {i: i if values == "normalised" else f"{i}_raw" for i in indices}
    absent = [c for c in cols.values() if c not in ps.columns]
    if absent:
        raise ConfigError(
            f"validity.indices: {prepared / 'participant_shot.parquet'} has no column(s) {absent}; "
            f"it has {[c for c in ps.columns if c not in ('participant_id', 'ad_id', 'shot')]}"
        )
    measured = ps.groupby("ad_id")[list(cols.values())].mean()
    measured.columns = list(cols)
    if isc_file is not None and Path(isc_file).is_file():
        isc = pd.read_parquet(isc_file)
        ok = isc[~isc["missing"].astype(bool)] if "missing" in isc else isc
        per_second = ok[ok["second"].notna()] if "second" in ok else ok.iloc[:0]
        rows = per_second if len(per_second) else ok
        per_ad = rows.groupby(["ad_id", "index"])["value"].mean().unstack("index")
        measured = measured.join(per_ad.drop(columns=[c for c in per_ad if c in measured]))
    table = ads.join(video, how="inner").join(measured, how="left")
    return table, list(video.columns), list(measured.columns)


def cv_folds(n: int, scheme: str, n_folds: int, seed: int) -> list[np.ndarray]:
    """Test indices of each fold: every ad alone (``loo``) or a seeded K-fold partition."""
    if scheme not in CV_SCHEMES:
        raise ConfigError(f"validity.cv must be one of {CV_SCHEMES}, got {scheme!r}")
    if scheme == "loo":
        return [np.array([i]) for i in range(n)]
    if not 2 <= n_folds <= n:
        raise ConfigError(f"validity.n_folds must be between 2 and the {n} ads, got {n_folds}")
    return np.array_split(np.random.default_rng(seed).permutation(n), n_folds)


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu, sd = train.mean(0), train.std(0)
    sd[sd < 1e-12] = 1.0  # a constant column carries nothing; keep it finite
    return (train - mu) / sd, (test - mu) / sd


def _video_designs(video: np.ndarray, folds: list[np.ndarray], n_components: int | None) -> list:
    """Per fold: train/test indices and standardised principal components of the video features."""
    out = []
    for te in folds:
        tr = np.setdiff1d(np.arange(len(video)), te)
        ztr, zte = _standardise(video[tr], video[te])
        k = ztr.shape[1] if n_components is None else min(int(n_components), *ztr.shape)
        _, _, vt = np.linalg.svd(ztr, full_matrices=False)
        out.append((tr, te, ztr @ vt[:k].T, zte @ vt[:k].T))
    return out


def _oof(designs: list, extra: np.ndarray | None, y: np.ndarray, alpha: float) -> np.ndarray:
    """Out-of-fold ridge predictions of ``y`` from the fold designs (+ ``extra`` columns)."""
    pred = np.empty_like(y)
    for tr, te, vtr, vte in designs:
        if extra is not None:
            vtr, vte = np.c_[vtr, extra[tr]], np.c_[vte, extra[te]]
        xtr, xte = _standardise(vtr, vte)
        ytr = y[tr] - y[tr].mean()
        beta = np.linalg.solve(xtr.T @ xtr + alpha * np.eye(xtr.shape[1]), xtr.T @ ytr)
        pred[te] = y[tr].mean() + xte @ beta
    return pred


def r2(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination along the last axis: 1 − SSE / SS around the mean of ``y``."""
    ss_tot = ((y - y.mean(-1, keepdims=True)) ** 2).sum(-1)
    return 1.0 - ((y - pred) ** 2).sum(-1) / np.where(ss_tot > 0, ss_tot, np.nan)


def delta_r2(video: np.ndarray, extra: np.ndarray, y: np.ndarray, *, folds: list[np.ndarray],
             alpha: float, n_components: int | None, n_boot: int, n_perm: int,
             seed: int) -> dict:  # fmt: skip
    """Cross-validated R² of video alone vs video + ``extra``, with a bootstrap CI and permutation p.

    Parameters
    ----------
    video : ndarray, shape (n_ads, n_features)
        Video features per ad.
    extra : ndarray, shape (n_ads, n_extra)
        The measured index (or indices) per ad.
    y : ndarray, shape (n_ads,)
        The outcome (already transformed).
    folds : list of ndarray
        Test indices per fold (:func:`cv_folds`).
    alpha : float
        Ridge penalty on the standardised design.
    n_components : int or None
        Principal components of the video features kept (fitted per training fold).
    n_boot, n_perm : int
        Bootstrap resamples of ads; permutations of ``extra`` across ads.
    seed : int
        Seed of the resamples and permutations.

    Returns
    -------
    dict
        ``n_ads``, ``r2_video``, ``r2_with``, ``delta_r2``, ``ci95`` ([lo, hi] bootstrap
        percentile), ``p_perm`` (one-sided, ΔR² at least as large under permutation).
    """
    designs = _video_designs(video, folds, n_components)
    p_video, p_with = _oof(designs, None, y, alpha), _oof(designs, extra, y, alpha)
    r2_video, r2_with = float(r2(y, p_video)), float(r2(y, p_with))
    delta = r2_with - r2_video
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), size=(n_boot, len(y)))
    boot = r2(y[idx], p_with[idx]) - r2(y[idx], p_video[idx])
    lo, hi = np.nanpercentile(boot, [2.5, 97.5]) if n_boot else (np.nan, np.nan)
    null = np.array(
        [float(r2(y, _oof(designs, extra[rng.permutation(len(y))], y, alpha))) - r2_video
         for _ in range(n_perm)]
    )  # fmt: skip
    return {"n_ads": len(y), "r2_video": r2_video, "r2_with": r2_with, "delta_r2": delta,
            "ci95": [float(lo), float(hi)],
            "p_perm": float((1 + np.sum(null >= delta - 1e-12)) / (1 + n_perm))}  # fmt: skip


def _transform(y: np.ndarray, how: str, eps: float) -> np.ndarray:
    if how not in TRANSFORMS:
        raise ConfigError(f"validity.transform must be one of {TRANSFORMS}, got {how!r}")
    if how == "none":
        return y
    p = np.clip(y, eps, 1.0 - eps)
    return np.log(p / (1.0 - p))


def validity(cfg) -> dict:
    """Run every outcome × index comparison of ``cfg.validity``; write JSON, markdown and a plot."""
    v = OmegaConf.to_container(cfg.validity, resolve=True)
    prepared = resolve_path(cfg.paths.prepared)
    table, video_cols, measured = ad_table(
        prepared, list(v["indices"]), values=v["values"],
        isc_file=resolve_path(v["isc_file"]) if v.get("isc_file") else None,
    )  # fmt: skip
    missing = [o for o in v["outcomes"] if o not in table.columns]
    if missing:
        raise ConfigError(
            f"validity.outcomes {missing} are not columns of {prepared / 'ads.parquet'}"
        )
    candidates = {m: [m] for m in measured}
    if v["combined"] and len(measured) > 1:
        candidates["all"] = list(measured)
    results: dict[str, dict] = {}
    jobs = [(o, c) for o in v["outcomes"] for c in candidates]
    for outcome, name in tqdm(jobs, desc="validity", unit="test", disable=not v["progress"]):
        cols = candidates[name]
        sub = table[[outcome, *video_cols, *cols]].dropna()
        row: dict = {"indices": cols, "n_ads": len(sub)}
        if len(sub) >= int(v["min_ads"]):
            y = _transform(sub[outcome].to_numpy(float), v["transform"], float(v["logit_eps"]))
            folds = cv_folds(len(sub), v["cv"], int(v["n_folds"]), int(v["seed"]))
            row.update(delta_r2(sub[video_cols].to_numpy(float), sub[cols].to_numpy(float), y,
                                folds=folds, alpha=float(v["alpha"]), n_components=v["n_components"],
                                n_boot=int(v["bootstrap"]), n_perm=int(v["permutations"]),
                                seed=int(v["seed"])))  # fmt: skip
        else:
            row["skipped"] = (
                f"{len(sub)} ads have {outcome} and {cols}; need validity.min_ads={v['min_ads']}"
            )
        results.setdefault(outcome, {})[name] = row
    out = resolve_path(v["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    summary = {"prepared": str(prepared), "n_ads": len(table), "video_features": video_cols,
               "measured": measured, "settings": {k: v[k] for k in ("values", "transform", "n_components", "alpha",
                                                                  "cv", "n_folds", "seed", "bootstrap", "permutations")},
               "results": results}  # fmt: skip
    (out / "validity.json").write_text(json.dumps(summary, indent=2) + "\n")
    write_markdown(summary, out / "validity.md")
    plot(results, out / "validity.png", dpi=int(v["dpi"]))
    return summary


def write_markdown(summary: dict, path: Path) -> None:
    """A table of R² and ΔR² per outcome × index."""
    s = summary["settings"]
    n_video = len(summary["video_features"])
    k = n_video if s["n_components"] is None else min(int(s["n_components"]), n_video)
    lines = [
        "# Predictive validity: variance in ad outcomes explained beyond the video's features",
        "",
        f"{summary['n_ads']} ads; ridge (alpha {s['alpha']}) on {k} principal components of "
        f"{n_video} video features (fitted per training fold); cross-validation: "
        f"{s['cv']}; outcome transform: {s['transform']}; index values: {s['values']}. "
        f"95 % CI: {s['bootstrap']} bootstrap resamples of ads; p: {s['permutations']} permutations.",
        "",
        "| outcome | index | ads | R² video | R² video + index | ΔR² | 95 % CI | p (perm.) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for outcome, rows in summary["results"].items():
        for name, r in rows.items():
            if "skipped" in r:
                lines.append(
                    f"| {outcome} | {name} | {r['n_ads']} | skipped: {r['skipped']} | | | | |"
                )
                continue
            lo, hi = r["ci95"]
            lines.append(f"| {outcome} | {name} | {r['n_ads']} | {r['r2_video']:.3f} | {r['r2_with']:.3f} | "
                         f"{r['delta_r2']:+.3f} | [{lo:+.3f}, {hi:+.3f}] | {r['p_perm']:.3f} |")  # fmt: skip
    path.write_text("\n".join(lines) + "\n")


def plot(results: dict, path: Path, *, dpi: int) -> None:
    """Bars of ΔR² per index, one panel per outcome, with the bootstrap 95 % interval."""
    fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 3.4), squeeze=False)
    for ax, (outcome, rows) in zip(axes[0], results.items(), strict=True):
        names = [n for n, r in rows.items() if "delta_r2" in r]
        d = np.array([rows[n]["delta_r2"] for n in names])
        ci = np.array([rows[n]["ci95"] for n in names]).reshape(-1, 2)
        ax.bar(names, d, yerr=np.abs(ci.T - d), capsize=4, color="tab:blue")
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_title(outcome)
        ax.set_ylabel("ΔR² over video features")
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def run(cfg) -> None:
    """CLI entry of `hmllm validity`."""
    validity(cfg)
    print((resolve_path(cfg.validity.out_dir) / "validity.md").read_text())
