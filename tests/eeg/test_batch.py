import json

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
