"""A real headless Chromium uploads an ad through the page, waits for the report, clicks a shot."""

from __future__ import annotations

import base64

import pytest

from tests.serve.conftest import TOKENS, fast_scorer
from tests.serve.live import live_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # ~13 s: Chromium start + a real job


def test_upload_report_and_seek(browser, settings, tmp_path):
    from hmllm.serve.app import create_app
    from tests.serve.conftest import write_mp4

    # a 4 s ad in 1 s segments, so the third segment (onset 2 s) is clearly not the start
    ad = write_mp4(tmp_path / "synthetic ad.mp4", seconds=4.0, seed=3)
    upload_and_seek(browser, create_app(settings, scorer=fast_scorer), ad, "male_18-25")


def upload_and_seek(browser, app, ad, audience: str, *, job_timeout_ms: int = 30_000) -> None:
    """Log in, drop ``ad`` on the upload page, wait for the report, click a shot, see the seek."""
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
        assert ad.name in page.text_content("#chosen")
        page.select_option("#audiences", [audience])
        page.click("#submit")
        try:
            page.wait_for_url(f"{url}/jobs/*", timeout=20_000)
        except Exception:
            pytest.fail(
                f"upload did not lead to a job page; page says: {page.text_content('#message')!r}"
            )
        page.wait_for_selector(
            "iframe#report, #job-status[data-status=failed]", timeout=job_timeout_ms
        )
        # the status page polls and reloads itself when the job ends
        assert page.text_content("#job-status") == "done", page.text_content("main")
        frame = page.frame_locator("iframe#report")
        frame.locator("video").wait_for()
        shot = frame.locator(".shot").nth(2)  # dry-run <a class=shot> and real <button class=shot>
        onset_s = float(shot.get_attribute("data-onset"))
        assert onset_s > 0.5  # a later shot, so seeking is visible
        shot.click()
        handle = page.frame(url=lambda u: "/files/" in u)
        handle.wait_for_function(
            f"Math.abs(document.querySelector('video').currentTime - {onset_s}) < 0.05",
            timeout=10_000,
        )
        # the history page lists the job with its (escaped) name
        page.goto(f"{url}/jobs")
        assert ad.name in page.text_content("#history")
        assert errors == []
