import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_datasets_folder_holds_no_python_and_does_not_shadow_hf_datasets():
    assert not list((REPO / "datasets").rglob("*.py"))
    code = (
        "import importlib.util as u; s = u.find_spec('datasets'); "
        "print('none' if s is None else (s.origin or 'namespace'))"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    origin = res.stdout.strip()
    # the installed Hugging Face package, never the repo's datasets/ folder as a namespace package
    # (transformers would then believe `datasets` is installed and fail on first use)
    assert "site-packages" in origin and origin.endswith("__init__.py"), origin


def test_editable_install_finds_the_repo_config_tree():
    from hmllm.paths import config_dir

    assert config_dir() == REPO / "configs"
    spec = importlib.util.find_spec("eeg")
    assert spec is not None and Path(spec.origin).parent == REPO / "eeg"


def test_built_wheel_carries_configs_and_finds_them(tmp_path):
    res = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                          str(tmp_path / "dist"), str(REPO)], capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("hmllm-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "hmllm/_configs/paths/default.yaml" in names
    assert any(n.startswith("eeg/") for n in names) and any(
        n.startswith("eyetrack/") for n in names
    )
    assert not any(n.startswith("datasets/") or n.startswith("tests/") for n in names)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    # run from an unrelated directory with the unpacked wheel first on the path
    code = (
        "import hmllm.paths as p, sys; d = p.config_dir(); print(d); "
        "sys.argv=['hmllm','synth','--cfg','job','paths.data_root=/tmp/x']; "
        "import hmllm.cli as c; c.main()"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert str(site / "hmllm" / "_configs") in run.stdout
    assert "study_root" in run.stdout
