"""Score new ads: probe → shots → keyframes → features → per-shot, per-audience predictions.

``score_ads([video...], [audience...], checkpoint=..., out_dir=..., cfg=...)`` writes, per ad,
``<out_dir>/<ad>/result.json`` (validated against ``schema.json``) and the report
(``index.html``, ``report.png``, ``report.pdf``); several ads also get an A/B comparison page.
"""

from __future__ import annotations

from hmllm.score.pipeline import run, score_ads, score_video

__all__ = ["run", "score_ads", "score_video"]
