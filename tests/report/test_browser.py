"""Real headless Chromium opens the report: storyboard, legend and chart clicks drive the video."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.report.example import SHOTS

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("HMLLM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "report"


@pytest.fixture(scope="module")
def page(example_report):
    if not Path(CHROMIUM).is_file():
        msg = (
            f"Chromium not found at {CHROMIUM} (apt-get install -y chromium, or set HMLLM_CHROMIUM)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser test cannot run on CI: {msg}")
        pytest.skip(msg)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("playwright is not installed (pip install -e .[dev])")
        pytest.skip("playwright is not installed (pip install -e .[dev])")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            pg = browser.new_page(viewport={"width": 1360, "height": 1000})
            external: list[str] = []
            errors: list[str] = []
            pg.on(
                "request",
                lambda r: (
                    external.append(r.url)
                    if not r.url.startswith(("file:", "data:", "blob:"))
                    else None
                ),
            )
            pg.on("pageerror", lambda e: errors.append(str(e)))
            pg.goto((example_report / "index.html").as_uri())
            pg.wait_for_function(
                "window.hmllmReport && document.querySelector('#chart .legendtoggle')"
            )
            pg.wait_for_function("document.getElementById('video').readyState >= 1", timeout=15_000)
            pg.external, pg.errors = external, errors
            yield pg
        finally:
            browser.close()


def _current_time(page) -> float:
    page.wait_for_function("!document.getElementById('video').seeking", timeout=10_000)
    return page.evaluate("document.getElementById('video').currentTime")


def test_page_loads_offline_without_errors(page):
    assert page.external == [], page.external
    assert page.errors == [], page.errors
    assert page.evaluate("window.__xss") is None  # the XSS string in name/transcript never ran
    assert "<img src=x" in page.inner_text("header h1")  # shown as text
    page.screenshot(path=str(ARTIFACTS / "report_full.png"), full_page=True)


def test_click_storyboard_shot_seeks_into_it(page):
    onset, offset = SHOTS[2]
    page.click(".storyboard .shot[data-shot='2']")
    t = _current_time(page)
    assert onset <= t < offset
    page.wait_for_function(
        "document.querySelector(\".shot[data-shot='2']\").classList.contains('active')"
    )
    page.screenshot(path=str(ARTIFACTS / "report_shot_clicked.png"))


def test_click_legend_hides_curve(page):
    assert page.evaluate("document.getElementById('chart').data[0].visible") in (None, True)
    page.locator("#chart .legendtoggle").first.click()
    page.wait_for_function("document.getElementById('chart').data[0].visible === 'legendonly'")
    page.locator("#chart").screenshot(path=str(ARTIFACTS / "report_legend_hidden.png"))
    page.locator("#chart .legendtoggle").first.click()  # and back
    page.wait_for_function("document.getElementById('chart').data[0].visible === true")


def test_click_chart_point_seeks_video(page):
    page.click(".storyboard .shot[data-shot='0']")
    assert _current_time(page) < SHOTS[0][1]
    # pixel position of a point inside shot 1 (second shot), from Plotly's own axis mapping
    target = 3.0
    xy = page.evaluate(
        """(t) => { const c = document.getElementById('chart'), L = c._fullLayout;
             const d = c.data[0], i = d.x.findIndex(x => x >= t);
             const r = c.querySelector('.nsewdrag').getBoundingClientRect();
             return [r.left + L.xaxis.l2p(d.x[i]), r.top + L.yaxis.l2p(d.y[i]), d.x[i]]; }""",
        target,
    )
    page.mouse.move(xy[0], xy[1])
    page.mouse.click(xy[0], xy[1])
    page.wait_for_function(
        f"Math.abs(document.getElementById('video').currentTime - {xy[2]}) < 0.2"
    )
    t = _current_time(page)
    assert SHOTS[1][0] <= t < SHOTS[1][1]
    # the playback marker (last layout shape) follows the video
    page.wait_for_function(
        f"(() => {{ const s = document.getElementById('chart').layout.shapes; return Math.abs(s[s.length - 1].x0 - {xy[2]}) < 0.2; }})()"
    )
    page.screenshot(path=str(ARTIFACTS / "report_chart_clicked.png"))


def test_palette_switch_recolours_table(page):
    before = page.evaluate("document.querySelector('#shot-table td.v').style.background")
    page.select_option("#palette", "cb")
    after = page.evaluate("document.querySelector('#shot-table td.v').style.background")
    assert before != after
    page.select_option("#palette", "rg")
