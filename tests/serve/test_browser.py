"""A real headless Chromium uploads an ad through the page, waits for the report, clicks a shot."""

from __future__ import annotations

import base64
import os
import shutil

import pytest

from tests.serve.conftest import TOKENS, fast_scorer
from tests.serve.live import live_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # ~13 s: Chromium start + a real job

CHROMIUM = (
    os.environ.get("HMLLM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture()
def browser():
    if CHROMIUM is None:
        msg = "Chromium not found (apt-get install -y chromium, or set HMLLM_CHROMIUM)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser test cannot run on CI: {msg}")
        pytest.skip(msg)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def test_upload_report_and_seek(browser, settings, mp4, tmp_path):
    from hmllm.serve.app import create_app

    # a longer ad so seeking to segment 3 (onset 2 s) is clearly not the start
    from tests.serve.conftest import write_mp4

    ad = write_mp4(tmp_path / "synthetic ad.mp4", seconds=4.0, seed=3)
    app = create_app(settings, scorer=fast_scorer)
    with live_server(app) as url:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}/")
        assert page.url.endswith("/login")
        page.fill("input[name=token]", TOKENS["alice"])
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/")
        # drag-and-drop: drop a File built from the ad's bytes onto the drop zone
        data = page.evaluate_handle(
            """([b64, name]) => {
                const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
                const dt = new DataTransfer();
                dt.items.add(new File([bytes], name, {type: "video/mp4"}));
                return dt;
            }""",
            [base64.b64encode(ad.read_bytes()).decode(), ad.name],
        )
        page.dispatch_event("#drop", "drop", {"dataTransfer": data})
        assert "synthetic ad.mp4" in page.text_content("#chosen")
        page.select_option("#audiences", ["male_18-25"])
        page.click("#submit")
        try:
            page.wait_for_url(f"{url}/jobs/*", timeout=20_000)
        except Exception:
            pytest.fail(f"upload did not lead to a job page; page says: {page.text_content('#message')!r}")
        page.wait_for_selector("iframe#report", timeout=30_000)  # status polling reloads when done
        assert page.text_content("#job-status") == "done"
        frame = page.frame_locator("iframe#report")
        frame.locator("video").wait_for()
        frame.locator("a.shot").nth(2).click()
        handle = page.frame(url=lambda u: "/files/" in u)
        handle.wait_for_function(
            "Math.abs(document.querySelector('video').currentTime - 2.0) < 0.05", timeout=10_000
        )
        # the history page lists the job with its (escaped) name
        page.goto(f"{url}/jobs")
        assert "synthetic ad.mp4" in page.text_content("#history")
        assert errors == []
