from __future__ import annotations

import pytest

from tests.report.example import REPORT_CFG, write_example


@pytest.mark.parametrize("palette", ["redgreen", "colorblind"])
def test_static_export_writes_png_and_pdf(tmp_path, palette):
    from hmllm.report import export_static

    res = write_example(tmp_path, name="price $5 $off.mp4")  # '$' must not switch on mathtext
    png, pdf = export_static(res, tmp_path, {**REPORT_CFG, "palette": palette})
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5_000


def test_static_export_is_deterministic(tmp_path):
    from hmllm.report import export_static

    res = write_example(tmp_path)
    first = [p.read_bytes() for p in export_static(res, tmp_path, REPORT_CFG)]
    second = [p.read_bytes() for p in export_static(res, tmp_path, REPORT_CFG)]
    assert first == second
