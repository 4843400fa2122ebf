"""Render a score result as one self-contained, offline HTML report (Jinja2 with autoescape).

Everything is inline: plotly.js from the installed plotly package (no CDN), keyframes and heatmaps
as data URIs, and the video itself when it is small enough (otherwise it sits next to the HTML and
is referenced by a relative path, so the folder still works offline). User-supplied text (file
names, transcripts, audience ids) only reaches the page through autoescaped templates, through
JSON whose ``<``/``>``/``&`` are escaped, or through ``textContent`` in the page's script.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jinja2

from hmllm.errors import ConfigError, DataError

TEMPLATES = Path(__file__).with_name("templates")
PALETTES = ("redgreen", "colorblind")
_MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".mp4": "video/mp4",
         ".webm": "video/webm", ".mov": "video/quicktime", ".m4v": "video/mp4", ".mkv": "video/x-matroska"}  # fmt: skip


def _data_uri(path: Path) -> str:
    mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def plotly_js() -> str:
    """The minified plotly.js bundled with the installed ``plotly`` package (inlined, no CDN)."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise DataError(f"{path} is missing; reinstall plotly (`pip install plotly==7.1.0`)")
    return path.read_text(encoding="utf-8")


def script_json(obj) -> str:
    """JSON that is safe inside ``<script>``: no ``<``, ``>`` or ``&`` can end the element."""
    text = json.dumps(obj, ensure_ascii=False)
    for ch, esc in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(ch, esc)
    return text


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )


def _inside(base: Path, rel: str) -> Path | None:
    """``base/rel`` if it stays inside ``base`` (result files are untrusted input)."""
    p = (base / rel).resolve()
    return p if p.is_relative_to(base.resolve()) and p.is_file() else None


def _check_cfg(cfg: dict) -> None:
    if cfg["palette"] not in PALETTES:
        raise ConfigError(f"report.palette must be one of {list(PALETTES)}, got {cfg['palette']!r}")
    if float(cfg["inline_video_max_mb"]) < 0:
        raise ConfigError(
            f"report.inline_video_max_mb must be >= 0, got {cfg['inline_video_max_mb']}"
        )


def _view(result_path: Path, cfg: dict, base_rel: str = "") -> dict:
    """Load a result and inline its media; ``base_rel`` prefixes relative links (A/B pages)."""
    try:
        result = json.loads(result_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{result_path}: not a readable score result ({exc})") from None
    from hmllm.score.pipeline import validate_result

    validate_result(result)
    base = result_path.parent
    video = _inside(base, result["ad"]["video_file"])
    if video is not None and video.stat().st_size <= float(cfg["inline_video_max_mb"]) * 1e6:
        src = _data_uri(video)
    else:  # a relative link: still works offline when the folder is opened
        src = base_rel + result["ad"]["video_file"]
    images = {}
    refs = [s[k] for s in result["shots"] for k in ("keyframe", "thumbnail")]
    refs += [h["file"] for h in result.get("heatmaps", [])]
    for rel in refs:
        p = _inside(base, rel)
        if p is not None:
            images[rel] = _data_uri(p)
    return {"result": result, "video_src": src, "images": images}


def render_report(result_path: str | Path, out_html: str | Path, cfg: dict) -> Path:
    """Write the self-contained report of one ad.

    Parameters
    ----------
    result_path
        A ``result.json`` written by :func:`hmllm.score.score_ads` (media paths relative to it).
    out_html
        The HTML file to write (normally ``index.html`` beside the result).
    cfg
        The ``report`` config group as a dict (``palette``, ``inline_video_max_mb``).

    Returns
    -------
    Path
        ``out_html``.
    """
    _check_cfg(cfg)
    v = _view(Path(result_path), cfg)
    html = _env().get_template("report.html.j2").render(
        r=v["result"], video_src=v["video_src"], plotly_js=plotly_js(), palette=cfg["palette"],
        data_json=script_json({"result": v["result"], "images": v["images"]}),
    )  # fmt: skip
    out_html = Path(out_html)
    out_html.write_text(html, encoding="utf-8")
    return out_html


def render_compare(result_paths: list[Path], out_html: str | Path, cfg: dict) -> Path:
    """Write the A/B page: variants side by side, shot-aligned, with their effect indicators.

    The page sits in a sibling folder of the variants' report folders, so non-inlined videos are
    linked as ``../<ad>/<video>``.
    """
    _check_cfg(cfg)
    out_html = Path(out_html)
    views = []
    for p in result_paths:
        p = Path(p)
        rel = "" if p.parent.resolve() == out_html.parent.resolve() else f"../{p.parent.name}/"
        views.append(_view(p, cfg, base_rel=rel))
    html = _env().get_template("compare.html.j2").render(
        variants=[v["result"] for v in views], videos=[v["video_src"] for v in views],
        plotly_js=plotly_js(), palette=cfg["palette"],
        data_json=script_json([{"result": v["result"], "images": v["images"]} for v in views]),
    )  # fmt: skip
    out_html.write_text(html, encoding="utf-8")
    return out_html
