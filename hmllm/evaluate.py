"""`hmllm evaluate`: test-set metrics for trained runs next to chance, priors and the oracle.

Rows always include chance, the majority class and the audience prior (frontier general models sit
near chance on P2), the oracle when the study is synthetic, and every trained run named in
``evaluate.runs``. 95 % intervals come from resampling test ads. A per-group table shows where a
model is worse for some audience.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from hmllm.errors import DataError  # noqa: E402
from hmllm.metrics import (  # noqa: E402
    accuracy,
    bootstrap_ci,
    ece,
    macro_f1,
    markdown_table,
    paired_bootstrap_diff,
    saliency_scores,
)
from hmllm.model import checkpoint  # noqa: E402
from hmllm.model.data import INDICES, load  # noqa: E402
from hmllm.model.ensemble import model_from_state  # noqa: E402
from hmllm.model.net import N_CLASSES  # noqa: E402
from hmllm.paths import resolve_path  # noqa: E402
from hmllm.train import build_model, predict_cells  # noqa: E402


def load_run(path: Path, prepared: Path):
    """Model + data of a trained run (checkpoint loaded with weights_only=True)."""
    st = checkpoint.load(path)
    mcfg = st["config"]["model"]
    data = load(prepared, use_signals=list(mcfg["align_signals"]))
    if data.vocab.feature_names != st["vocab"]["feature_names"]:
        raise DataError(
            f"{path} was trained on other features than {prepared} provides; re-train or point paths.prepared at its dataset"
        )
    model = model_from_state(st, lambda: build_model(mcfg, data))  # one model or an ensemble
    return model, data, st


def baseline_predictions(data, test: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Majority class and audience prior (most frequent class per group in training)."""
    train = pd.concat([p["labels"] for a, p in data.per_ad.items() if data.ads[a] == "train"])
    out = {}
    maj, prior = test.copy(), test.copy()
    for k in N_CLASSES:
        cls = train[f"{k}_class"][train[f"{k}_class"] >= 0]
        top = int(cls.mode().iloc[0])
        maj[f"pred_{k}"] = top
        by_group = (
            train[train[f"{k}_class"] >= 0]
            .groupby("group")[f"{k}_class"]
            .agg(lambda s: int(s.mode().iloc[0]))
        )
        prior[f"pred_{k}"] = test["group"].map(by_group).fillna(top).astype(int)
    out["majority class"], out["audience prior"] = maj, prior
    return out


ORACLES = {"oracle (noise ceiling)": "oracle.parquet",
           "oracle + hidden ad offsets": "oracle_ad.parquet"}  # fmt: skip


def oracle_predictions(
    prepared: Path, data, test: pd.DataFrame, name: str = "oracle.parquet"
) -> pd.DataFrame | None:
    """Classes from the noise-free truth, binned at the same quantile levels on training cells.

    ``oracle.parquet`` knows each cell's expectation from the ad's content and the audience (the
    noise ceiling of any model that sees the video); ``oracle_ad.parquet`` also knows each ad's
    random offset, which no video shows — an upper bound no model can reach.
    """
    path = prepared / name
    if not path.is_file():
        return None
    orc = pd.read_parquet(path)
    out = test.copy()
    merged = test[["ad_id", "shot", "group"]].merge(orc, on=["ad_id", "shot", "group"], how="left")
    for k in N_CLASSES:
        train_vals = orc.loc[orc["split"] == "train", k].dropna()
        cfgc = data.classes[k]
        # same quantile levels as the labels used (rank-based: the oracle's scale differs)
        n = len(cfgc["names"])
        qs = np.linspace(0, 1, n + 1)[1:-1] if cfgc.get("method") == "quantile" else None
        thr = np.quantile(train_vals, qs) if qs is not None else np.asarray(cfgc["thresholds"])
        out[f"pred_{k}"] = np.searchsorted(thr, merged[k].to_numpy(float), side="right")
    return out


def class_metrics(pred: pd.DataFrame, *, n_boot: int, seed: int) -> dict:
    """Accuracy (+CI) and macro-F1 per level (P1, P2) and index."""
    res = {}
    for level, sel in (("P1", pred["group"] == "all"), ("P2", pred["group"] != "all")):
        d = pred[sel]
        for k, nc in N_CLASSES.items():
            y, p = d[f"{k}_class"].to_numpy(), d[f"pred_{k}"].to_numpy()
            ok = d[f"{k}_class"] >= 0
            per_ad = (
                pd.DataFrame(
                    {"ad": d["ad_id"], "c": (d[f"{k}_class"] == d[f"pred_{k}"]) & ok, "t": ok}
                )
                .groupby("ad")
                .sum()
            )
            lo, hi = bootstrap_ci(
                per_ad["c"].to_numpy(float), per_ad["t"].to_numpy(float), n=n_boot, seed=seed
            )
            res[f"{level}.{k}"] = {
                "accuracy": accuracy(y, p),
                "ci95": [lo, hi],
                "macro_f1": macro_f1(y, p, nc),
                "n": int((y >= 0).sum()),
            }
        res[f"{level}.mean_accuracy"] = float(
            np.mean([res[f"{level}.{k}"]["accuracy"] for k in N_CLASSES])
        )
    return res


def per_ad_counts(pred: pd.DataFrame, ads: list[str], level: str = "P2") -> np.ndarray:
    """Correct and total labelled cells per index and test ad: shape (K indices, n_ads, 2)."""
    d = pred[(pred["group"] == "all") if level == "P1" else (pred["group"] != "all")]
    out = np.zeros((len(N_CLASSES), len(ads), 2))
    for i, k in enumerate(N_CLASSES):
        ok = d[f"{k}_class"] >= 0
        g = pd.DataFrame({"ad": d["ad_id"], "c": (d[f"{k}_class"] == d[f"pred_{k}"]) & ok, "t": ok})
        g = g.groupby("ad").sum().reindex(ads, fill_value=0)
        out[i, :, 0], out[i, :, 1] = g["c"].to_numpy(float), g["t"].to_numpy(float)
    return out


def comparisons(
    counts: dict[str, np.ndarray], runs: list[str], *, n_boot: int, seed: int
) -> list[dict]:
    """Each trained run against every other row on P2 mean accuracy (paired bootstrap over ads).

    ``beats`` is true when the whole 95 % interval of the difference lies above zero — the
    criterion "better by more than the bootstrap CI". ``of_oracle`` is the run's share of the
    oracle's accuracy when the study has one.
    """
    rows = []
    oracle = counts.get("oracle (noise ceiling)")
    for run in runs:
        for other, c in counts.items():
            if other == run:
                continue
            diff, lo, hi = paired_bootstrap_diff(counts[run], c, n=n_boot, seed=seed)
            rows.append({"run": run, "versus": other, "difference": diff, "ci95": [lo, hi],
                         "beats": bool(lo > 0)})  # fmt: skip
        if oracle is not None:
            acc = lambda c: float((c[:, :, 0].sum(1) / np.maximum(c[:, :, 1].sum(1), 1)).mean())  # noqa: E731
            rows.append({"run": run, "versus": "oracle (noise ceiling)", "of_oracle":
                         acc(counts[run]) / max(acc(oracle), 1e-9)})  # fmt: skip
    return rows


def evaluate(cfg) -> dict:
    """Evaluate ``evaluate.runs`` on the test split; writes ``<paths.runs>/eval/``."""
    e = OmegaConf.to_container(cfg.evaluate, resolve=True)
    prepared = resolve_path(cfg.paths.prepared)
    runs_root = resolve_path(cfg.paths.runs)
    found = [r for r in e["runs"] if (runs_root / r / "best.pt").is_file()]
    if not found:
        raise DataError(
            f"no trained run among {e['runs']} under {runs_root}; run `hmllm train` first"
        )
    results, fair_rows, extra, counts = {}, [], {}, {}
    data0 = None
    for name in found:
        model, data, st = load_run(runs_root / name / "best.pt", prepared)
        data0 = data0 or data
        test_ads = data.split_ads("test")
        pred = predict_cells(model, data, test_ads)
        results[name] = class_metrics(pred, n_boot=int(e["bootstrap"]), seed=int(e["seed"]))
        counts[name] = per_ad_counts(pred, test_ads)
        r = results[name]
        r["spearman"] = {
            k: float(spearmanr(pred[f"value_{k}"], pred[k], nan_policy="omit").statistic)
            for k in INDICES
        }
        probs = {k: pred[[f"p_{k}_{c}" for c in range(n)]].to_numpy() for k, n in N_CLASSES.items()}
        r["ece"] = {k: ece(pred[f"{k}_class"].to_numpy(), probs[k]) for k in N_CLASSES}
        ads = (
            pred.groupby("ad_id")[["pred_ctr", "pred_completion"]]
            .first()
            .join(data.ad_outcomes.set_index("ad_id")[["ctr", "completion_rate"]])
        )
        r["ad_effects"] = {"ctr_spearman": float(spearmanr(ads["pred_ctr"], ads["ctr"]).statistic) if len(ads) > 2 else None,
                           "ctr_mae": float((ads["pred_ctr"] - ads["ctr"]).abs().mean()),
                           "completion_spearman": float(spearmanr(ads["pred_completion"], ads["completion_rate"]).statistic) if len(ads) > 2 else None,
                           "completion_mae": float((ads["pred_completion"] - ads["completion_rate"]).abs().mean()), "n_ads": len(ads)}  # fmt: skip
        # saliency against measured gaze
        with torch.no_grad():
            sal_pred, sal_gt = [], []
            for ad in test_ads:
                b = data.batch([ad])
                if b.saliency is None:
                    break
                sal_pred.append(torch.softmax(model(b)["saliency"], -1).numpy())
                sal_gt.append(b.saliency.numpy())
        if sal_pred:
            r["saliency"] = saliency_scores(np.concatenate(sal_pred), np.concatenate(sal_gt))
        for g, d in pred.groupby("group"):
            accs = {
                f"acc_{k}": accuracy(d[f"{k}_class"].to_numpy(), d[f"pred_{k}"].to_numpy())
                for k in N_CLASSES
            }
            fair_rows.append({"run": name, "group": g, "level": "P1" if g == "all" else "P2", "n_cells": len(d),
                              **accs, "acc_mean": float(np.nanmean(list(accs.values())))})  # fmt: skip
        if name == found[0]:
            extra["test_pred"] = pred
            extra["probs"] = probs
    test = extra["test_pred"]
    test_ads = data0.split_ads("test")
    rows = {
        "chance": {
            f"{lv}.{k}": {"accuracy": 1.0 / n} for lv in ("P1", "P2") for k, n in N_CLASSES.items()
        }
    }
    for lv in ("P1", "P2"):
        rows["chance"][f"{lv}.mean_accuracy"] = float(
            np.mean([1.0 / n for n in N_CLASSES.values()])
        )
    for bname, bpred in baseline_predictions(data0, test).items():
        rows[bname] = class_metrics(bpred, n_boot=int(e["bootstrap"]), seed=int(e["seed"]))
        counts[bname] = per_ad_counts(bpred, test_ads)
    for oname, ofile in ORACLES.items():
        orc = oracle_predictions(prepared, data0, test, ofile)
        if orc is not None:
            rows[oname] = class_metrics(orc, n_boot=int(e["bootstrap"]), seed=int(e["seed"]))
            counts[oname] = per_ad_counts(orc, test_ads)
    all_rows = {**rows, **results}
    comp = comparisons(counts, found, n_boot=int(e["bootstrap"]), seed=int(e["seed"]))
    all_rows["comparisons"] = comp
    out = runs_root / "eval"
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(all_rows, indent=2, default=float))
    write_tables(all_rows, pd.DataFrame(fair_rows), out, test_ads=len(test_ads))
    plot_calibration(test, extra["probs"], out / "calibration.png")
    return all_rows


def write_tables(rows: dict, fair: pd.DataFrame, out: Path, test_ads: int) -> None:
    """``metrics.md`` (methods × P1/P2 × index with CIs) and ``fairness.md`` (per group)."""
    head = (
        "| method | "
        + " | ".join(f"{lv} {k.upper()}" for lv in ("P1", "P2") for k in N_CLASSES)
        + " | P2 mean |"
    )
    lines = [f"# Test-set accuracy ({test_ads} held-out ads; 95 % CI over ads)", "", head,
             "|" + "---|" * (2 * len(N_CLASSES) + 2)]  # fmt: skip
    comp = rows.get("comparisons", [])
    rows = {k: v for k, v in rows.items() if k != "comparisons"}
    for name, r in rows.items():
        cells = []
        for lv in ("P1", "P2"):
            for k in N_CLASSES:
                m = r.get(f"{lv}.{k}", {})
                ci = m.get("ci95")
                cells.append(
                    f"{m.get('accuracy', float('nan')):.3f}"
                    + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
                )
        lines.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {r.get('P2.mean_accuracy', float('nan')):.3f} |"
        )
    for name, r in rows.items():
        if "spearman" in r:
            lines += ["", f"## {name}", "- Spearman (continuous): " + ", ".join(f"{k.upper()} {v:.3f}" for k, v in r["spearman"].items()),
                      "- ECE: " + ", ".join(f"{k.upper()} {v:.3f}" for k, v in r["ece"].items()),
                      f"- ad effects: {json.dumps(r['ad_effects'])}"]  # fmt: skip
            if "saliency" in r:
                lines.append(
                    "- saliency: " + ", ".join(f"{k} {v:.3f}" for k, v in r["saliency"].items())
                )
    if comp:
        lines += ["", "## Paired comparisons (P2 mean accuracy; 95 % CI resampling test ads)", "",
                  "| run | versus | difference | 95 % CI | better beyond CI |", "|---|---|---|---|---|"]  # fmt: skip
        for c in comp:
            if "of_oracle" in c:
                lines.append(
                    f"| {c['run']} | oracle (noise ceiling) | {100 * c['of_oracle']:.0f} % of the oracle | | |"
                )
            else:
                lo, hi = c["ci95"]
                lines.append(f"| {c['run']} | {c['versus']} | {c['difference']:+.3f} | [{lo:+.3f}, {hi:+.3f}] | {'yes' if c['beats'] else 'no'} |")  # fmt: skip
    (out / "metrics.md").write_text("\n".join(lines) + "\n")
    fl = ["# Per-group accuracy (fairness)", "", markdown_table(fair) if len(fair) else "(no rows)"]
    (out / "fairness.md").write_text("\n".join(fl) + "\n")
    # the same table for scripts (experiments/fairness reads it)
    fair.to_csv(out / "fairness.csv", index=False)


def plot_calibration(pred: pd.DataFrame, probs: dict, path: Path) -> None:
    """Reliability diagram of the top-class probability per index."""
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    for k, pr in probs.items():
        y = pred[f"{k}_class"].to_numpy()
        ok = y >= 0
        conf, correct = pr[ok].max(1), pr[ok].argmax(1) == y[ok]
        bins = np.linspace(0, 1, 11)
        idx = np.digitize(conf, bins) - 1
        xs = [conf[idx == i].mean() for i in range(10) if (idx == i).sum() > 5]
        ys = [correct[idx == i].mean() for i in range(10) if (idx == i).sum() > 5]
        ax.plot(xs, ys, marker="o", label=k.upper())
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(cfg) -> None:
    """CLI entry of `hmllm evaluate`."""
    evaluate(cfg)
    out = resolve_path(cfg.paths.runs) / "eval"
    print((out / "metrics.md").read_text())
