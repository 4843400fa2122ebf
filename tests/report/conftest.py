from __future__ import annotations

import pytest

from tests.report.example import REPORT_CFG, XSS, write_example


@pytest.fixture(scope="session")
def example_report(tmp_path_factory):
    """An example result rendered to index.html (with an XSS string in the file name and transcript)."""
    from hmllm.report import render_report

    folder = tmp_path_factory.mktemp("report")
    result = write_example(folder, name=f"ad {XSS}.mp4", transcript=f"Buy now {XSS}")
    render_report(result, folder / "index.html", REPORT_CFG)
    return folder
