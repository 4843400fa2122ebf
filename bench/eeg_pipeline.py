"""Bench: our full EEG index pipeline vs plain MNE filter + psd_array_welch on the same recordings.

Usage: ``.venv/bin/python bench/eeg_pipeline.py [STUDY_ROOT] [--n N] [--jobs 2]``. Without a
study root it generates N synthetic 32-channel 250 Hz 34 s recordings (30 s ad, blinks, one noisy
channel each) in memory. Both sides get the same recordings, already read, one BLAS thread, and
the same work product: band powers (delta…gamma) of 2 s windows every second of the ad.

- ours: :func:`eeg.pipeline.process_raw`, everything the batch does to a recording but reading
  the file — sync, band-pass, bad channels + interpolation, ocular regression, re-reference,
  Welch band powers, indices, amplitude rejection, per-second and per-shot tables, quality record
  and the video-locked copy for ISC;
- plain: :func:`mne.filter.filter_data` (same band-pass) then one
  :func:`mne.time_frequency.psd_array_welch` call over the windows (same sub-segments) and the
  band sums.

Prints the time per recording of both, their ratio (target <= 1.2), and recordings/second of ours
with ``--jobs`` processes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import mne
import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from omegaconf import OmegaConf
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eeg.indices import BANDS_HZ  # noqa: E402
from eeg.pipeline import process_raw  # noqa: E402

# a recording, the length of its ad (s) and the ad's shot table
Job = tuple[mne.io.BaseRaw, float, pd.DataFrame]


def _shots(duration_s: float) -> pd.DataFrame:
    """Shots of about 3 s (the bench does not need the real cuts)."""
    edges = np.linspace(0.0, duration_s, max(2, int(duration_s // 3)) + 1)
    return pd.DataFrame({"shot": np.arange(len(edges) - 1), "onset_s": edges[:-1],
                         "offset_s": edges[1:]})  # fmt: skip


def _recordings(study: Path | None, n: int) -> list[Job]:
    if study is not None:
        from eeg.io import read_recording

        ads = pd.read_csv(study / "stimuli" / "ads.tsv", sep="\t", dtype={"ad_id": str})
        dur = dict(zip(ads["ad_id"], ads["duration_s"].astype(float), strict=True))
        sessions = pd.read_csv(study / "sessions.tsv", sep="\t", dtype=str, keep_default_na=False)
        rows = sessions[sessions["eeg_file"] != ""].head(n)
        return [(read_recording(study / r.eeg_file), dur[r.ad_id], _shots(dur[r.ad_id]))
                for r in rows.itertuples()]  # fmt: skip
    from tests.eeg.conftest import make_raw

    return [(make_raw(duration_s=34.0, video_s=30.0, blinks=True, bad_channel="T7", seed=i),
             30.0, _shots(30.0)) for i in range(n)]  # fmt: skip


def ours(job: Job, cfg: dict) -> None:
    """Everything the batch does to one recording except file reading (no baseline)."""
    raw, duration_s, shots = job
    process_raw(raw, duration_s, shots, cfg, None)


def plain(job: Job, cfg: dict) -> None:
    """The minimum: MNE band-pass, then Welch band powers of the same windows."""
    raw, duration_s, _ = job
    sf = raw.info["sfreq"]
    p = cfg["preprocess"]
    data = mne.filter.filter_data(raw.get_data(picks="eeg"), sf, p["l_freq_hz"], p["h_freq_hz"],
                                  h_trans_bandwidth=p["h_trans_bandwidth_hz"], verbose=False)  # fmt: skip
    onset = raw.annotations.onset[list(raw.annotations.description).index("video_onset")]
    win = int(round(cfg["windows"]["window_s"] * sf))
    starts = np.round((onset - raw.first_time + np.arange(int(duration_s)) + 0.5) * sf - win / 2)
    segs = np.stack([data[:, s : s + win] for s in starts.astype(int)])  # (W, C, win)
    nper = int(round(sf))
    psd, f = mne.time_frequency.psd_array_welch(segs, sf, fmin=1.0, fmax=45.0, n_fft=nper,
                                                n_per_seg=nper, n_overlap=nper // 2,
                                                window="hann", verbose=False)  # fmt: skip
    {b: psd[..., (f >= lo) & (f < hi)].sum(-1) for b, (lo, hi) in BANDS_HZ.items()}


def _time(fn, jobs: list[Job], cfg: dict) -> float:
    with threadpool_limits(limits=1):
        fn(jobs[0], cfg)  # warm-up (imports, filter design caches)
        t0 = time.perf_counter()
        for j in jobs:
            fn(j, cfg)
    return (time.perf_counter() - t0) / len(jobs)


def _chunk(jobs: list[Job], cfg: dict) -> None:
    with threadpool_limits(limits=1):
        for j in jobs:
            ours(j, cfg)


def main() -> None:
    """Time both sides on the same recordings and print the ratio."""
    ap = argparse.ArgumentParser()
    ap.add_argument("study", nargs="?", type=Path)
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    cfg = OmegaConf.to_container(
        OmegaConf.load(ROOT / "configs" / "eeg" / "default.yaml"), resolve=True
    )
    jobs = _recordings(a.study, a.n)
    # interleaved rounds, best of each side: other users of a shared machine hit both alike
    t_ours, t_plain = np.inf, np.inf
    for _ in range(3):
        t_ours = min(t_ours, _time(ours, jobs, cfg))
        t_plain = min(t_plain, _time(plain, jobs, cfg))
    # start the workers first (joblib keeps them): the batch pays that once per study
    pool = Parallel(n_jobs=a.jobs)
    pool(delayed(_chunk)(jobs[:1], cfg) for _ in range(a.jobs))
    t0 = time.perf_counter()
    pool(delayed(_chunk)(jobs[i :: a.jobs], cfg) for i in range(a.jobs))
    wall = time.perf_counter() - t0
    raw = jobs[0][0]
    print(f"recordings: {len(jobs)} x {len(raw.ch_names)} ch, {raw.info['sfreq']:.0f} Hz, "
          f"{raw.times[-1]:.0f} s")  # fmt: skip
    print(f"ours (sync/band-pass/bad channels/ocular/reref/indices/tables): {t_ours * 1e3:.1f} ms per recording")  # fmt: skip
    print(f"plain MNE filter_data + psd_array_welch + band sums:            {t_plain * 1e3:.1f} ms per recording")  # fmt: skip
    print(f"ratio ours/plain: {t_ours / t_plain:.2f} (target <= 1.2)")
    print(f"throughput, ours with {a.jobs} processes: {len(jobs) / wall:.1f} recordings/s "
          "(workers started, recordings sent to them)")  # fmt: skip


if __name__ == "__main__":
    main()
