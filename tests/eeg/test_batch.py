import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from tests.conftest import compose


@pytest.mark.slow  # generates the tiny synthetic study (~1 min on 2 shared cores)
def test_tiny_study_end_to_end(tiny_study, data_root):
    from eeg.batch import process_study

    cfg = compose("eeg", ["size=tiny", f"paths.data_root={data_root}", "eeg.shots_source=truth",
                          "eeg.n_jobs=1", "eeg.progress=false"])  # fmt: skip
    out = process_study(cfg)
    q = pd.read_parquet(out / "quality.parquet")
    assert q["usable"].all()
    # the injected bad channels are found
    art = pd.read_parquet(tiny_study / "truth" / "artefacts.parquet")
    ps = pd.read_parquet(out / "per_shot.parquet")
    truth = pd.read_parquet(tiny_study / "truth" / "latent_shot.parquet")
    for index, col in [("engagement", "engagement"), ("valence", "valence")]:
        d = ps[(ps["index"] == index) & ~ps["missing"]].merge(
            truth, on=["participant_id", "ad_id", "shot"]
        )
        assert spearmanr(d["value"], d[col]).statistic > 0.5, index
    got = q.set_index(["participant_id", "ad_id"])["bad_channels"]
    for r in art.itertuples():
        injected = set(json.loads(r.bad_channels))
        found = {x.split(":")[0] for x in got[(r.participant_id, r.ad_id)].split(",") if x}
        assert found == injected, (r.participant_id, r.ad_id)
        # blinks: the regression finds about as many as were injected
        n = int(
            q.set_index(["participant_id", "ad_id"]).loc[(r.participant_id, r.ad_id), "n_blinks"]
        )
        blinks = json.loads(r.blinks_s)
        assert abs(n - len(blinks)) <= max(2, len(blinks) // 3)
    # ISC across the viewers of each ad, per second of the ad and per shot
    isc = pd.read_parquet(out / "isc.parquet")
    sessions = pd.read_csv(tiny_study / "sessions.tsv", sep="\t")
    ads = pd.read_csv(tiny_study / "stimuli" / "ads.tsv", sep="\t").set_index("ad_id")
    shots = pd.read_parquet(tiny_study / "truth" / "shots.parquet")
    for ad, g in isc.groupby("ad_id"):
        assert g["second"].dropna().tolist() == list(range(int(ads.loc[ad, "duration_s"])))
        assert sorted(g["shot"].dropna()) == sorted(shots.loc[shots["ad_id"] == ad, "shot"])
        assert g["n_viewers"].max() == (sessions["ad_id"] == ad).sum()
    assert np.isfinite(isc.loc[~isc["missing"], "value"]).all()
    # re-run: every recording comes from the cache, same numbers
    mtimes = {p: p.stat().st_mtime for p in (out / "recordings").iterdir()}
    process_study(cfg)
    assert {p: p.stat().st_mtime for p in (out / "recordings").iterdir()} == mtimes
    pd.testing.assert_frame_equal(pd.read_parquet(out / "per_shot.parquet"), ps)


def test_missing_detected_shots_says_run_video(tmp_path):
    from eeg.batch import load_shots
    from eeg.errors import EEGInputError

    with pytest.raises(EEGInputError, match="run `hmllm video` first"):
        load_shots("detected", tmp_path, tmp_path / "derivatives")


def test_cli_edge_converts_errors(tmp_path):
    from eeg.batch import run
    from hmllm.errors import DataError

    cfg = compose("eeg", [f"paths.data_root={tmp_path}"])
    with pytest.raises(DataError, match="sessions.tsv not found"):
        run(cfg)


GAIN = 10e-6  # V per unit of the shared source


@pytest.fixture
def isc_study(tmp_path):
    """Three viewers of one 12 s ad; a stimulus-driven source is shared in shot 0 (0–5 s) only."""
    import mne

    from tests.eeg.conftest import make_raw

    root = tmp_path / "study"
    (root / "eeg").mkdir(parents=True)
    (root / "stimuli").mkdir()
    rng = np.random.default_rng(0)
    sf, video_s = 250.0, 12.0
    stim = mne.filter.filter_data(
        rng.standard_normal(int(video_s * sf)), sf, 2.0, 20.0, verbose=False
    )
    stim[int(5.0 * sf) :] = 0.0  # the ad drives the EEG in its first shot only
    topo = rng.uniform(0.5, 1.5, 32)
    rows = []
    for i in range(3):
        onset = 1.0 + 0.4 * i
        raw = make_raw(duration_s=15.0, onset_s=onset, video_s=video_s, seed=i)
        a = int(onset * sf)
        raw._data[:, a : a + len(stim)] += np.outer(topo, stim) * GAIN
        raw.save(root / "eeg" / f"sub-{i}_eeg.fif", verbose=False)
        rows.append({"participant_id": f"sub-{i}", "ad_id": "ad000", "eeg_file": f"eeg/sub-{i}_eeg.fif",
                     "eeg_format": "fif", "baseline_eeg_file": ""})  # fmt: skip
    pd.DataFrame(rows).to_csv(root / "sessions.tsv", sep="\t", index=False)
    pd.DataFrame({"ad_id": ["ad000"], "duration_s": [video_s]}).to_csv(
        root / "stimuli" / "ads.tsv", sep="\t", index=False
    )
    shots = pd.DataFrame(
        {"ad_id": "ad000", "shot": [0, 1], "onset_s": [0.0, 5.0], "offset_s": [5.0, 12.0]}
    )
    shots.to_parquet(tmp_path / "shots.parquet", index=False)
    return root


def _isc_cfg(root, *extra):
    return compose("eeg", [f"paths.data_root={root.parent}", f"paths.study={root.name}",
                           f"eeg.shots_source={root.parent / 'shots.parquet'}", "eeg.n_jobs=1",
                           "eeg.progress=false", *extra])  # fmt: skip


def test_batch_writes_isc_per_second_and_shot(isc_study):
    from eeg.batch import process_study

    out = process_study(_isc_cfg(isc_study))
    isc = pd.read_parquet(out / "isc.parquet")
    cols = ["ad_id", "second", "shot", "index", "value", "n_viewers", "missing"]
    assert list(isc.columns) == cols
    per_sec = isc[isc["second"].notna()]
    assert sorted(per_sec["second"]) == list(range(12))
    assert sorted(isc.loc[isc["shot"].notna(), "shot"]) == [0, 1]
    assert (isc["index"] == "isc").all() and (isc["ad_id"] == "ad000").all()
    assert (isc["n_viewers"] == 3).all() and not isc["missing"].any()
    shot = isc[isc["shot"].notna()].set_index("shot")["value"]
    assert shot[0] > shot[1] + 0.3  # the shared source is found where it is
    sec = per_sec.set_index("second")["value"]
    assert sec[:2].min() > sec[8:].max()


def test_batch_without_isc_removes_a_stale_table(isc_study):
    from eeg.batch import process_study

    out = process_study(_isc_cfg(isc_study))
    assert (out / "isc.parquet").is_file()
    process_study(_isc_cfg(isc_study, "eeg.isc.enabled=false"))
    assert not (out / "isc.parquet").exists()


def test_changing_isc_settings_reuses_the_recordings(isc_study):
    from eeg.batch import process_study

    out = process_study(_isc_cfg(isc_study))
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "recordings").iterdir()}
    before = pd.read_parquet(out / "isc.parquet")
    process_study(_isc_cfg(isc_study, "eeg.isc.window_s=3.0"))
    assert {p: p.stat().st_mtime_ns for p in (out / "recordings").iterdir()} == mtimes
    after = pd.read_parquet(out / "isc.parquet")
    assert not after["value"].equals(before["value"])
