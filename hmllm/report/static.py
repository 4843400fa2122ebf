"""Static export of a report (one-page PNG + PDF with matplotlib) for slide decks."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

LABEL = {"en": "Engagement (EN)", "em": "Emotion (EM)", "emr": "Eye-movement ratio (EMR)"}
CMAP = {"redgreen": "RdYlGn_r", "colorblind": "PuOr_r"}  # high = red / orange, low = green / purple


def _plain(text: str) -> str:
    """Matplotlib reads ``$...$`` as math; user text (file names, ids) must print literally."""
    return str(text).replace("$", r"\$")


def _figure(result: dict, base: Path, cfg: dict):
    shots = result["shots"]
    auds = [a["id"] for a in result["audiences"]]
    n_thumb = min(len(shots), int(cfg.get("max_storyboard_shots", 12)))
    fig = plt.figure(figsize=(13.33, 7.5))  # 16:9 slide
    fig.suptitle(
        f"{_plain(result['ad']['name'])} — per-shot response (predicted)",
        fontsize=13,
        x=0.04,
        ha="left",
    )
    w = 0.92 / max(n_thumb, 1)
    for i, s in enumerate(shots[:n_thumb]):
        ax = fig.add_axes((0.04 + i * w, 0.80, w - 0.006, 0.11))
        p = base / s["thumbnail"]
        if p.is_file():
            ax.imshow(plt.imread(p))
        ax.set_title(f"{s['shot'] + 1} · {s['onset_s']:.1f}–{s['offset_s']:.1f}s", fontsize=6.5)
        ax.axis("off")
    times = np.asarray(result["curves"]["times_s"])
    for j, k in enumerate(("en", "em", "emr")):
        ax = fig.add_axes((0.06, 0.09 + (2 - j) * 0.225, 0.56, 0.19))
        for a in auds:
            ax.step(times, result["curves"]["groups"][a][k], where="post", label=_plain(a), lw=1.6)
        for s in shots:
            ax.axvline(s["onset_s"], color="#cccccc", lw=0.6, zorder=0)
        ax.set_ylabel(k.upper())
        ax.set_xlim(0, result["ad"]["duration_s"])
        ax.tick_params(labelsize=7)
        if j == 0:
            ax.legend(fontsize=7, loc="upper right", ncol=min(len(auds), 4))
        if j < 2:
            ax.set_xticklabels([])
        else:
            ax.set_xlabel("time (s)")
    # per-shot engagement of the first audience as a coloured strip (red high / green low)
    ax = fig.add_axes((0.67, 0.58, 0.31, 0.16))
    vals = {(p["audience"], p["index"], p["shot"]): p["value"] for p in result["predictions"]}
    grid = np.array(
        [[vals.get((auds[0], k, s["shot"]), np.nan) for s in shots] for k in ("en", "em", "emr")]
    )
    rng = np.nanmax(grid, axis=1, keepdims=True) - np.nanmin(grid, axis=1, keepdims=True)
    norm = (grid - np.nanmin(grid, axis=1, keepdims=True)) / np.where(rng > 0, rng, 1)
    ax.imshow(
        norm,
        aspect="auto",
        cmap=CMAP.get(cfg.get("palette", "redgreen"), "RdYlGn_r"),
        vmin=0,
        vmax=1,
    )
    ax.set_yticks(range(3), ["EN", "EM", "EMR"], fontsize=7)
    ax.set_xticks(range(len(shots)), [str(s["shot"] + 1) for s in shots], fontsize=6)
    high = "red" if cfg.get("palette", "redgreen") == "redgreen" else "orange"
    ax.set_title(_plain(f"per shot, {auds[0]} ({high} = high)"), fontsize=8)  # fmt: skip
    ax = fig.add_axes((0.67, 0.04, 0.31, 0.48))
    ax.axis("off")
    eff = [f"{e['group']}: CTR {e['ctr']:.2%} [{e['ctr_lo']:.2%}, {e['ctr_hi']:.2%}], "
           f"completion {e['completion']:.0%} [{e['completion_lo']:.0%}, {e['completion_hi']:.0%}]"
           for e in result["effects"]]  # fmt: skip
    text = "Summary\n" + "\n".join(f"• {t}" for t in result["summary"][:7])
    text += "\n\nEffect indicators (predicted)\n" + "\n".join(eff[:6])
    text += f"\n\nModel: {result['model']['model']} · {result['model']['n_train_ads']} training ads"
    ax.text(0, 1, _plain(text), va="top", fontsize=7.5, wrap=True, family="DejaVu Sans")
    return fig


def export_static(
    result_path: str | Path, out_dir: str | Path, cfg: dict | None = None
) -> list[Path]:
    """Write ``report.png`` and ``report.pdf`` (one 16:9 page) for a score result.

    Parameters
    ----------
    result_path
        ``result.json`` of one ad (thumbnails are read relative to it).
    out_dir
        Folder for the two files.
    cfg
        The ``report`` config group (``palette``, ``static_dpi``, ``max_storyboard_shots``).

    Returns
    -------
    list of Path
        ``[report.png, report.pdf]``.
    """
    cfg = dict(cfg or {})
    result_path, out_dir = Path(result_path), Path(out_dir)
    result = json.loads(result_path.read_text(encoding="utf-8"))
    fig = _figure(result, result_path.parent, cfg)
    png, pdf = out_dir / "report.png", out_dir / "report.pdf"
    fig.savefig(png, dpi=int(cfg.get("static_dpi", 110)))
    # fixed metadata so re-runs give identical files
    with PdfPages(
        pdf, metadata={"Creator": "hmllm", "Producer": "hmllm", "CreationDate": None}
    ) as pp:
        pp.savefig(fig)
    plt.close(fig)
    return [png, pdf]
