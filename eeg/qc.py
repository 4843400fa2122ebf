"""Quality-control figure of one recording: PSD per channel, bad channels, index curves + shots."""

from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
import pandas as pd


def plot_recording(
    clean: mne.io.BaseRaw,
    bad_channels: dict[str, str],
    per_second: pd.DataFrame,
    shots: pd.DataFrame,
    *,
    title: str = "",
    out: str | Path | None = None,
):
    """Draw (and optionally save) the QC figure of one recording.

    Parameters
    ----------
    clean
        Cleaned recording (V).
    bad_channels
        ``{channel: reason}`` found by preprocessing (drawn in red, labelled).
    per_second
        ``second, index, value, valid`` of this recording; engagement/valence/arousal are drawn.
    shots
        ``onset_s, offset_s`` (video time, s); cuts are drawn as vertical lines.
    title
        Figure title (e.g. ``participant / ad``).
    out
        PNG path to write; the figure is closed after saving.

    Returns
    -------
    matplotlib.figure.Figure | None
        The figure when ``out`` is None.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    psd = clean.compute_psd(fmin=1.0, fmax=min(60.0, clean.info["sfreq"] / 2), verbose=False)
    p, f = psd.get_data(return_freqs=True)
    fig, axes = plt.subplots(2, 1, figsize=(9, 6.5), constrained_layout=True)
    ax = axes[0]
    for name, row in zip(clean.ch_names, p, strict=True):
        bad = name in bad_channels
        ax.semilogy(f, row * 1e12, color="tab:red" if bad else "0.6", lw=1.5 if bad else 0.6,
                    label=f"{name} ({bad_channels[name]}, interpolated)" if bad else None)  # fmt: skip
    ax.set(xlabel="frequency (Hz)", ylabel="PSD (µV²/Hz)", title=f"{title}  cleaned spectra")
    if bad_channels:
        ax.legend(fontsize=8)
    ax = axes[1]
    for index in ("engagement", "valence", "arousal"):
        d = per_second[per_second["index"] == index].sort_values("second")
        if len(d):
            v = d["value"].to_numpy(float)
            z = (v - np.nanmean(v)) / (np.nanstd(v) + 1e-12)
            ax.plot(d["second"] + 0.5, z, label=index)
            bad = ~d["valid"].to_numpy(bool)
            ax.plot((d["second"] + 0.5)[bad], z[bad], "kx", ms=6)
    for t in shots["onset_s"].to_numpy()[1:]:
        ax.axvline(t, color="0.3", lw=0.8, ls=":")
    ax.set(
        xlabel="video time (s); dotted = cuts, x = rejected", ylabel="index (z within recording)"
    )
    ax.legend(fontsize=8)
    if out is None:
        return fig
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return None
