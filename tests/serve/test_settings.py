"""configs/serve.yaml composes into valid settings; bad values fail with the key named."""

from __future__ import annotations

import pytest

from hmllm.errors import ConfigError
from hmllm.serve.settings import ServeSettings
from tests.conftest import compose


def test_shipped_config_builds_settings(tmp_path, monkeypatch):
    for var in ("HMLLM_SERVE_DATA_DIR", "HMLLM_SERVE_WORKERS", "HMLLM_SERVE_MAX_UPLOAD_MB"):
        monkeypatch.delenv(var, raising=False)
    cfg = compose("serve", [f"paths.data_root={tmp_path}"])
    s = ServeSettings.from_cfg(cfg)
    assert s.host == "127.0.0.1"
    assert s.data_dir == tmp_path / "serve"
    assert s.checkpoint == tmp_path / "runs" / "hypergraph" / "best.pt"
    assert s.score_cfg["cache"] == f"{tmp_path}/cache" and s.score_cfg["progress"] is False
    assert s.max_upload_bytes == 200 * 2**20
    assert s.scorer == "score" and s.audiences is None


def test_env_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("HMLLM_SERVE_WORKERS", "3")
    monkeypatch.setenv("HMLLM_SERVE_MAX_UPLOAD_MB", "1.5")
    s = ServeSettings.from_cfg(
        compose("serve", [f"paths.data_root={tmp_path}", "serve.scorer=dryrun"])
    )
    assert s.workers == 3 and s.max_upload_bytes == int(1.5 * 2**20)


@pytest.mark.parametrize(
    ("override", "match"),
    [("serve.workers=0", "serve.workers=0"), ("serve.scorer=evil", "serve.scorer='evil'"),
     ("serve.max_upload_mb=-1", "serve.max_upload_mb"), ("serve.audiences=[]", "serve.audiences")],
    ids=["workers", "scorer", "upload-size", "audiences"],
)  # fmt: skip
def test_bad_values_name_the_key(tmp_path, override, match):
    cfg = compose("serve", [f"paths.data_root={tmp_path}", "serve.scorer=dryrun", override])
    with pytest.raises(ConfigError, match=match):
        ServeSettings.from_cfg(cfg)


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    from hmllm.serve.app import create_app

    cfg = compose("serve", [f"paths.data_root={tmp_path}", "serve.scorer=dryrun"])
    with pytest.raises(ConfigError, match="serve.checkpoint=.*does not exist"):
        create_app(ServeSettings.from_cfg(cfg))


def test_score_overrides_reach_the_scorer_config(tmp_path):
    cfg = compose(
        "serve", [f"paths.data_root={tmp_path}", "serve.score_overrides=['score_cfg.mc_samples=3']"]
    )
    assert ServeSettings.from_cfg(cfg).score_cfg["mc_samples"] == 3
    bad = compose(
        "serve", [f"paths.data_root={tmp_path}", "serve.score_overrides=['+score_cfg.nope=[oops']"]
    )
    with pytest.raises(ConfigError, match="score_overrides"):
        ServeSettings.from_cfg(bad)
