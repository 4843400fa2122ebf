import json
import subprocess
import sys

import pytest

EXPERIMENT = """
claim: The tiny synthetic study has a fixed number of clicks for seed 0.
steps:
  - [synth, size=tiny]
results:
  clicks_total: {file: synthetic-tiny/outcomes.tsv, column: clicks, agg: sum}
  n_sessions: {file: synthetic-tiny/sessions.tsv, column: ad_id, agg: count}
tolerance: 0.5
"""


def _reproduce(tmp_path, *args):
    cmd = [
        sys.executable,
        "-m",
        "hmllm",
        "reproduce",
        f"paths.data_root={tmp_path / 'data'}",
        f"reproduce.experiments_dir={tmp_path / 'experiments'}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


@pytest.fixture
def tiny_experiment(tmp_path):
    folder = tmp_path / "experiments" / "tiny_clicks"
    folder.mkdir(parents=True)
    (folder / "experiment.yaml").write_text(EXPERIMENT)
    return folder


def test_reproduce_update_then_check_then_tamper(tmp_path, tiny_experiment):
    upd = _reproduce(tmp_path, "reproduce.mode=update")
    assert upd.returncode == 0, upd.stdout + upd.stderr
    committed = json.loads((tiny_experiment / "results.json").read_text())
    assert committed["n_sessions"] == 6  # 3 participants x 2 ads
    assert (tiny_experiment / "results.md").read_text().startswith("# tiny_clicks")

    ok = _reproduce(tmp_path, "tiny_clicks")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "2 passed, 0 failed" in ok.stdout

    committed["clicks_total"] += 3  # tampering with a committed number must fail the check
    (tiny_experiment / "results.json").write_text(json.dumps(committed))
    bad = _reproduce(tmp_path, "tiny_clicks")
    assert bad.returncode == 1
    assert "1 passed, 1 failed" in bad.stdout


def test_reproduce_unknown_experiment_is_a_clear_error(tmp_path, tiny_experiment):
    res = _reproduce(tmp_path, "nope")
    assert res.returncode == 2
    assert "unknown experiment(s) ['nope']; available: ['tiny_clicks']" in res.stderr
    assert "Traceback" not in res.stderr


def test_read_number_aggregates_a_queried_table(tmp_path):
    from hmllm.reproduce import read_number

    (tmp_path / "fairness.csv").write_text(
        "run,group,level,acc_mean\nm,all,P1,0.9\nm,female,P2,0.7\nm,male,P2,0.4\nx,male,P2,0.1\n"
    )
    where = {"file": "fairness.csv", "column": "acc_mean", "query": "run == 'm' and level == 'P2'"}
    assert read_number(tmp_path, {**where, "agg": "range"}) == pytest.approx(0.3)
    assert read_number(tmp_path, {**where, "agg": "min"}) == pytest.approx(0.4)
    assert read_number(tmp_path, {**where, "query": "group == 'female'"}) == pytest.approx(0.7)


def test_read_number_picks_a_list_item_by_its_fields(tmp_path):
    import json

    from hmllm.errors import DataError
    from hmllm.reproduce import read_number

    rows = [
        {"run": "a", "versus": "b", "ci95": [0.1, 0.3]},
        {"run": "a", "versus": "c", "ci95": [0.2, 0.4]},
    ]
    (tmp_path / "m.json").write_text(json.dumps({"comparisons": rows}))
    key = "comparisons/run=a&versus=c/ci95/0"
    assert read_number(tmp_path, {"file": "m.json", "key": key}) == pytest.approx(0.2)
    with pytest.raises(DataError, match="2 items match 'run=a'"):
        read_number(tmp_path, {"file": "m.json", "key": "comparisons/run=a/ci95/0"})
