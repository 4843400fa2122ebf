"""End to end with the real scorer: a tiny checkpoint trained on the `tiny` synthetic study."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.serve.conftest import TOKENS, auth, wait_done

pytestmark = pytest.mark.slow  # synth + prepare + a short training run: minutes on 2 cores


@pytest.fixture(scope="module")
def real_settings(tiny_prepared, data_root, tmp_path_factory):
    """Settings for the real scorer with a tiny checkpoint trained once for this module."""
    import json

    from hmllm.serve.settings import ServeSettings
    from hmllm.train import train
    from tests.conftest import compose

    runs = tmp_path_factory.mktemp("serve-runs")
    over = [f"paths.data_root={data_root}", "size=tiny", f"paths.runs={runs}", "trainer.progress=false",
            "trainer.tensorboard=false", "trainer.epochs=3"]  # fmt: skip
    train(compose("train", over))
    serve_dir = tmp_path_factory.mktemp("serve-real")
    tokens = serve_dir / "tokens.json"
    tokens.write_text(json.dumps({v: k for k, v in TOKENS.items()}))
    cfg = compose("serve", [f"paths.data_root={data_root}", f"paths.runs={runs}", "size=tiny",
                            f"serve.data_dir={serve_dir}", f"serve.tokens_file={tokens}"])  # fmt: skip
    return ServeSettings.from_cfg(cfg)


@pytest.fixture(scope="module")
def real_ad(tiny_study) -> Path:
    return sorted((tiny_study / "stimuli").glob("*.mp4"))[0]


def test_real_scorer_roundtrip(real_settings, real_ad):
    from fastapi.testclient import TestClient

    from hmllm.serve.app import create_app

    app = create_app(real_settings)
    groups = app.state.groups
    with TestClient(app) as client, open(real_ad, "rb") as f:
        r = client.post("/api/jobs", files={"file": (real_ad.name, f)}, data={"audiences": groups[:2]},
                        headers=auth("alice"))  # fmt: skip
        assert r.status_code == 202, r.text
        job = wait_done(client, r.json()["id"], timeout_s=600)
        assert job["status"] == "done", job["error"]
        result = client.get(f"/api/jobs/{job['id']}/result", headers=auth("alice")).json()
        assert "schema_version" in result and len(result["shots"]) >= 2
        report = client.get(job["report_url"], headers=auth("alice"))
        assert report.status_code == 200 and "<video" in report.text


@pytest.mark.browser
def test_real_report_in_browser_seeks(browser, real_settings, real_ad):
    from hmllm.serve.app import create_app
    from tests.serve.test_browser import upload_and_seek

    app = create_app(real_settings)
    upload_and_seek(browser, app, real_ad, app.state.groups[0], job_timeout_ms=600_000)
