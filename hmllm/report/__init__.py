"""Per-shot reports: one self-contained HTML file (offline) plus PNG/PDF exports."""

from hmllm.report.html import render_compare, render_report
from hmllm.report.static import export_static

__all__ = ["export_static", "render_compare", "render_report"]
