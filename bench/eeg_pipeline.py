"""Bench: our full EEG index pipeline vs plain MNE filter + psd_array_welch on the same recordings.

Usage: ``.venv/bin/python bench/eeg_pipeline.py [STUDY_ROOT] [--n N] [--jobs 2]``. Without a
study root it generates N synthetic 32-channel 250 Hz 30 s recordings in memory. Prints the time per
recording of both, their ratio (target <= 1.2), and recordings/second with ``--jobs`` processes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import mne
import numpy as np
from joblib import Parallel, delayed
from omegaconf import OmegaConf
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eeg.indices import relative_band_powers, sliding_band_powers  # noqa: E402
from eeg.pipeline import _indices  # noqa: E402
from eeg.preprocess import preprocess  # noqa: E402
from eeg.sync import find_video_sync  # noqa: E402


def _recordings(study: Path | None, n: int) -> list[mne.io.BaseRaw]:
    if study is not None:
        from eeg.io import read_recording

        files = sorted(
            p
            for p in (study / "bids").rglob("*_eeg.*")
            if p.suffix in (".edf", ".vhdr") and "task-calm" not in p.name
        )
        return [read_recording(p) for p in files[:n]]
    from tests.eeg.conftest import make_raw

    return [
        make_raw(duration_s=34.0, video_s=30.0, blinks=True, bad_channel="T7", seed=i)
        for i in range(n)
    ]


def ours(raw: mne.io.BaseRaw, cfg: dict, duration_s: float) -> None:
    """Everything the batch does to one recording except file reading."""
    sync = find_video_sync(raw, duration_s)
    clean, _ = preprocess(raw, cfg["preprocess"])
    centres = sync.to_recording_time(np.arange(int(duration_s)) + 0.5)
    w = cfg["windows"]
    _, p = sliding_band_powers(
        clean.get_data(),
        clean.info["sfreq"],
        window_s=w["window_s"],
        step_s=w["step_s"],
        centres_s=centres,
    )
    _indices(p, clean.ch_names, cfg)
    relative_band_powers(p, clean.ch_names)


def plain(raw: mne.io.BaseRaw, cfg: dict, duration_s: float) -> None:
    """The minimum: MNE band-pass + Welch PSD of 2 s windows every 1 s."""
    sf = raw.info["sfreq"]
    data = mne.filter.filter_data(raw.get_data(picks="eeg"), sf, 1.0, 45.0, verbose=False)
    win = int(2 * sf)
    starts = np.arange(0, data.shape[1] - win + 1, int(sf))
    segs = np.stack([data[:, s : s + win] for s in starts])
    mne.time_frequency.psd_array_welch(segs, sf, fmin=1.0, fmax=45.0, n_fft=int(sf), verbose=False)


def _time(fn, recs, cfg, dur) -> float:
    with threadpool_limits(limits=1):
        fn(recs[0], cfg, dur)  # warm-up (imports, filter design caches)
        t0 = time.perf_counter()
        for r in recs:
            fn(r, cfg, dur)
    return (time.perf_counter() - t0) / len(recs)


def _chunk(recs, cfg, dur):
    with threadpool_limits(limits=1):
        for r in recs:
            ours(r, cfg, dur)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("study", nargs="?", type=Path)
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    cfg = OmegaConf.to_container(
        OmegaConf.load(ROOT / "configs" / "eeg" / "default.yaml"), resolve=True
    )
    recs = _recordings(a.study, a.n)
    dur = 30.0 if a.study is None else 15.0
    t_ours = _time(ours, recs, cfg, dur)
    t_plain = _time(plain, recs, cfg, dur)
    t0 = time.perf_counter()
    Parallel(n_jobs=a.jobs)(delayed(_chunk)(recs[i :: a.jobs], cfg, dur) for i in range(a.jobs))
    wall = time.perf_counter() - t0
    print(
        f"recordings: {len(recs)} x {len(recs[0].ch_names)} ch, {recs[0].info['sfreq']:.0f} Hz, {recs[0].times[-1]:.0f} s"
    )
    print(
        f"ours (notch/band-pass/bad channels/ocular/reref/indices): {t_ours * 1e3:.0f} ms per recording"
    )
    print(
        f"plain MNE filter + psd_array_welch:                      {t_plain * 1e3:.0f} ms per recording"
    )
    print(f"ratio ours/plain: {t_ours / t_plain:.2f} (target <= 1.2)")
    print(
        f"throughput with {a.jobs} processes: {len(recs) / wall:.2f} recordings/s (incl. worker start-up)"
    )


if __name__ == "__main__":
    main()
