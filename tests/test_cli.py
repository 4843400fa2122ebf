import subprocess
import sys
from pathlib import Path

import pytest

from hmllm.cli import COMMANDS, _split_positionals
from hmllm.paths import config_dir

REPO = Path(__file__).resolve().parents[1]


def _hmllm(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "hmllm", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_every_command_has_a_primary_config_and_a_target():
    missing = [name for name in COMMANDS if not (config_dir() / f"{name}.yaml").is_file()]
    assert not missing, f"commands without configs/<name>.yaml: {missing}"


def test_top_level_help_lists_commands_and_groups():
    res = _hmllm("--help")
    assert res.returncode == 0
    for name in COMMANDS:
        assert f"  {name} " in res.stdout
    assert "paths" in res.stdout and "launcher" in res.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_cfg_job_composes_every_command(name, tmp_path):
    res = _hmllm(name, "--cfg", "job", f"paths.data_root={tmp_path}")
    assert res.returncode == 0, res.stderr
    assert "paths:" in res.stdout


def test_command_help_lists_config_groups():
    res = _hmllm("synth", "--help")
    assert res.returncode == 0
    assert "== Configuration groups ==" in res.stdout
    assert "size: " in res.stdout


def test_unknown_command_and_bad_override_are_one_line_errors(tmp_path):
    res = _hmllm("trian")
    assert res.returncode == 2 and "unknown command 'trian'" in res.stderr
    res = _hmllm("synth", "no_such_key=1", f"paths.data_root={tmp_path}")
    assert res.returncode != 0
    assert "Traceback" not in res.stderr and "no_such_key" in res.stderr


def test_text_where_a_number_belongs_is_a_one_line_error(tmp_path):
    res = _hmllm("train", "trainer.ensemble=two", f"paths.data_root={tmp_path}")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "a setting that must be a number is not one" in res.stderr
    assert "trainer.ensemble=two" in res.stderr


def test_positional_paths_are_separated_from_hydra_arguments():
    pos, rest = _split_positionals(["a.mp4", "audience=all", "--cfg", "job", "-m", "b c.mp4"])
    assert pos == ["a.mp4", "b c.mp4"]
    assert rest == ["audience=all", "--cfg", "job", "-m"]


def test_positional_args_rejected_where_a_command_takes_none(tmp_path):
    res = _hmllm("synth", "stray.mp4", f"paths.data_root={tmp_path}")
    assert res.returncode == 2 and "unexpected argument(s) ['stray.mp4']" in res.stderr
