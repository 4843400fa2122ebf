"""Dataset statistics report: class balance, group sizes, per-index distributions (PNG + markdown)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hmllm.data.labels import INDEX_NAMES  # noqa: E402
from hmllm.data.splits import SPLITS  # noqa: E402


def _pct(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{x:.1%}"


def class_balance(labels: pd.DataFrame, class_names: dict[str, list[str]]) -> pd.DataFrame:
    """Share of labelled cells per class, per index and split: ``index, split, class, n, share``."""
    rows = []
    for idx in INDEX_NAMES:
        for split in SPLITS:
            c = labels.loc[
                (labels["split"] == split) & (labels[f"{idx}_class"] >= 0), f"{idx}_class"
            ]
            for k, name in enumerate(class_names[idx]):
                n = int((c == k).sum())
                rows.append(
                    {
                        "index": idx,
                        "split": split,
                        "class": name,
                        "n": n,
                        "share": n / len(c) if len(c) else np.nan,
                    }
                )
    return pd.DataFrame(rows)


def group_sizes(labels: pd.DataFrame, pshot: pd.DataFrame, member: pd.DataFrame) -> pd.DataFrame:
    """Per group: participants in the study, labelled cells, median contributors per cell."""
    cells = labels.groupby("group").agg(
        cells=("shot", "size"), median_n=("n_participants", "median")
    )
    people = (
        member[member["participant_id"].isin(set(pshot["participant_id"]))]
        .groupby("group")
        .size()
        .rename("participants")
    )
    return (
        cells.join(people, how="left")
        .fillna({"participants": 0})
        .sort_values("participants", ascending=False)
        .reset_index()
    )


def write_stats(labels: pd.DataFrame, pshot: pd.DataFrame, member: pd.DataFrame, class_names: dict[str, list[str]],
                out: Path, *, dpi: int = 110) -> Path:  # fmt: skip
    """Write ``{class_balance,group_sizes,index_distributions}.png`` and ``stats.md`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    bal = class_balance(labels, class_names)
    fig, axes = plt.subplots(1, len(INDEX_NAMES), figsize=(4 * len(INDEX_NAMES), 3.4))
    for ax, idx in zip(axes, INDEX_NAMES, strict=True):
        b = (
            bal[bal["index"] == idx]
            .pivot(index="class", columns="split", values="share")
            .reindex(class_names[idx])
        )
        b = b[[s for s in SPLITS if s in b.columns]]
        b.plot.bar(ax=ax, rot=15)
        ax.set_title(f"{idx.upper()} classes")
        ax.set_ylabel("share of (shot, group) cells")
    fig.tight_layout()
    fig.savefig(out / "class_balance.png", dpi=dpi)
    plt.close(fig)

    sizes = group_sizes(labels, pshot, member)
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(sizes)), 3.6))
    ax.bar(sizes["group"], sizes["participants"], color="#66aa55", label="participants")
    ax.plot(
        sizes["group"],
        sizes["median_n"],
        "o",
        color="#333333",
        label="median contributors per shot",
    )
    ax.set_ylabel("participants")
    ax.tick_params(axis="x", labelrotation=70)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "group_sizes.png", dpi=dpi)
    plt.close(fig)

    fig, axes = plt.subplots(2, len(INDEX_NAMES), figsize=(4 * len(INDEX_NAMES), 5.6))
    for j, idx in enumerate(INDEX_NAMES):
        axes[0, j].hist(pshot[f"{idx}_raw"].dropna(), bins=40, color="#4477aa")
        axes[0, j].set_title(f"{idx.upper()} per participant (raw)")
        axes[1, j].hist(labels[idx].dropna(), bins=40, color="#aa5566")
        axes[1, j].set_title(f"{idx.upper()} group means (normalised)")
    fig.tight_layout()
    fig.savefig(out / "index_distributions.png", dpi=dpi)
    plt.close(fig)

    lines = ["# Dataset statistics", "", f"{labels['ad_id'].nunique()} ads, {labels['group'].nunique()} groups, "
             f"{len(labels)} labelled (ad, shot, group) cells, {pshot['participant_id'].nunique()} participants.", "",
             "## Class balance (share of labelled cells)", "", "| index | class | " + " | ".join(SPLITS) + " |",
             "|---|---|" + "---|" * len(SPLITS)]  # fmt: skip
    for idx in INDEX_NAMES:
        for name in class_names[idx]:
            row = bal[(bal["index"] == idx) & (bal["class"] == name)].set_index("split")["share"]
            lines.append(
                f"| {idx.upper()} | {name} | "
                + " | ".join(_pct(row.get(s, np.nan)) for s in SPLITS)
                + " |"
            )
    lines += [
        "",
        "## Groups",
        "",
        "| group | participants | cells | median contributors per cell |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r.group} | {int(r.participants)} | {int(r.cells)} | {r.median_n:g} |"
        for r in sizes.itertuples()
    ]
    lines += [
        "",
        "## Index distributions",
        "",
        "| index | raw mean | raw SD | group-mean SD | missing shots |",
        "|---|---|---|---|---|",
    ]
    for idx in INDEX_NAMES:
        raw = pshot[f"{idx}_raw"]
        lines.append(
            f"| {idx.upper()} | {raw.mean():.3g} | {raw.std():.3g} | {labels[idx].std():.3g} | {raw.isna().mean():.1%} |"
        )
    lines += ["", "![class balance](class_balance.png)", "", "![group sizes](group_sizes.png)", "",
              "![index distributions](index_distributions.png)"]  # fmt: skip
    (out / "stats.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out
