"""A model-free scorer for exercising the service (``serve.scorer=dryrun``): probe, segment, report.

It predicts nothing. It writes, per video, ``result.json`` with the probed metadata and fixed-length
segments standing in for shots, and an ``index.html`` that plays the video and seeks to a segment
when clicked — enough for the upload → job → report path, the browser test and the load benchmark
to run without a trained checkpoint. Real scoring is ``hmllm.score.score_ads``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

_REPORT = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html><html><head><meta charset="utf-8"><title>Dry run: {{ name }}</title></head>
<body><h1>Dry run (no model): {{ name }}</h1>
<p>{{ "%.2f"|format(duration_s) }} s, {{ "%.1f"|format(fps) }} fps, audiences: {{ audiences|join(", ") }}</p>
<video id="ad" src="{{ src }}" controls preload="auto" width="480"></video>
<ol id="shots">{% for s in shots %}
<li><a href="#" class="shot" data-onset="{{ s.onset_s }}">segment {{ s.shot }}: {{ s.onset_s }}–{{ s.offset_s }} s</a></li>
{% endfor %}</ol>
<script>
document.querySelectorAll("a.shot").forEach(function (a) {
  a.addEventListener("click", function (e) {
    e.preventDefault();
    var v = document.getElementById("ad");
    v.currentTime = parseFloat(a.dataset.onset);
  });
});
</script></body></html>
"""
)


def dryrun_score(
    videos: list[Path],
    audiences: list[str],
    *,
    checkpoint: Path | None,
    out_dir: Path,
    cfg: Any = None,
    segment_s: float = 2.0,
    seconds_per_video: float = 0.0,
) -> list[Path]:
    """Write a probe-only ``result.json`` + ``index.html`` per video into ``out_dir``.

    Parameters
    ----------
    videos : list of Path
        Videos to describe.
    audiences : list of str
        Audience ids (echoed in the report).
    checkpoint : Path or None
        Ignored (no model is used).
    out_dir : Path
        Output folder; one video writes ``out_dir/index.html``, several write ``out_dir/<stem>/``.
    cfg : object, optional
        Ignored.
    segment_s : float
        Length of the stand-in segments, s.
    seconds_per_video : float
        Simulated model time per video, s (sleeps; lets load tests have jobs in flight).

    Returns
    -------
    list of Path
        The ``result.json`` files written.
    """
    import av

    results = []
    for video in videos:
        time.sleep(seconds_per_video)
        folder = out_dir if len(videos) == 1 else out_dir / video.stem
        folder.mkdir(parents=True, exist_ok=True)
        with av.open(str(video)) as c:
            stream = c.streams.video[0]
            duration_s = c.duration / 1_000_000 if c.duration else 0.0
            fps = float(stream.average_rate or 0)
        n = max(1, int(-(-duration_s // segment_s)))
        shots = [
            {
                "shot": i,
                "onset_s": round(i * segment_s, 3),
                "offset_s": round(min((i + 1) * segment_s, duration_s), 3),
            }
            for i in range(n)
        ]
        result = {
            "schema_version": "dryrun-1",
            "ad": {"file": video.name, "duration_s": duration_s, "fps": fps},
            "audiences": audiences,
            "shots": shots,
        }
        path = folder / "result.json"
        path.write_text(json.dumps(result, indent=2))
        src = quote(os.path.relpath(video, folder).replace(os.sep, "/"))
        html = _REPORT.render(
            name=video.name,
            duration_s=duration_s,
            fps=fps,
            audiences=audiences,
            shots=shots,
            src=src,
        )
        (folder / "index.html").write_text(html)
        results.append(path)
    return results
