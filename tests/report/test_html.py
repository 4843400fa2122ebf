from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from hmllm.errors import ConfigError, DataError
from tests.report.example import REPORT_CFG, XSS, example_result, write_example


class _Refs(HTMLParser):
    """Collect every URL-bearing attribute and every tag outside <script> bodies."""

    def __init__(self):
        super().__init__()
        self.refs, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        for k, v in attrs:
            if k in ("src", "href", "action", "poster", "data", "srcset") and v:
                self.refs.append(v)


def _parse(html: str) -> _Refs:
    p = _Refs()
    p.feed(html)
    return p


def test_example_result_validates_against_schema():
    from hmllm.score.pipeline import validate_result

    validate_result(example_result())


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda r: r.pop("shots"), "shots"),
        (lambda r: r["predictions"][0].update(index="xyz"), "predictions/0/index"),
        (lambda r: r["effects"][0].update(ctr=1.7), "effects/0/ctr"),
        (lambda r: r["shots"][0].update(keyframe="../../etc/passwd"), "shots/0/keyframe"),
        (lambda r: r.update(schema_version="0.1"), "schema_version"),
    ],
    ids=["missing-shots", "bad-index", "ctr-above-1", "path-traversal", "old-version"],
)
def test_schema_rejects_bad_results(mutate, where):
    from hmllm.score.pipeline import validate_result

    r = example_result()
    mutate(r)
    with pytest.raises(DataError, match=where.split("/")[0]):
        validate_result(r)


def test_report_has_no_external_reference(example_report):
    html = (example_report / "index.html").read_text()
    refs = _parse(html).refs
    assert refs, "the report should reference its media"
    for ref in refs:
        assert ref.startswith("data:") or "://" not in ref, ref
    assert "cdn." not in html.lower().split("<script>")[0]  # no CDN link in the head


def test_report_inlines_plotly_and_video(example_report):
    html = (example_report / "index.html").read_text()
    assert "Plotly.newPlot" in html
    video = [a for t, a in _parse(html).tags if t == "video"]
    assert len(video) == 1 and video[0]["src"].startswith("data:video/mp4;base64,")


def test_large_video_is_linked_relatively(tmp_path):
    from hmllm.report import render_report

    res = write_example(tmp_path)
    render_report(res, tmp_path / "index.html", {**REPORT_CFG, "inline_video_max_mb": 0})
    video = [a for t, a in _parse((tmp_path / "index.html").read_text()).tags if t == "video"]
    assert video[0]["src"] == "video.mp4"


def test_xss_in_file_name_and_transcript_is_escaped(example_report):
    html = (example_report / "index.html").read_text()
    tags = _parse(html).tags
    assert not [a for t, a in tags if t == "img" and "onerror" in a]
    assert "<script>window.__xss" not in html
    assert "&lt;img src=x onerror=" in html  # the name is shown, as text


def test_script_json_cannot_close_the_script_element():
    from hmllm.report.html import script_json

    text = script_json({"t": "</script><script>alert(1)</script>"})
    assert "</script" not in text and json.loads(text)["t"].startswith("</script>")


def test_unknown_palette_is_a_config_error(tmp_path):
    from hmllm.report import render_report

    res = write_example(tmp_path)
    with pytest.raises(ConfigError, match="report.palette must be one of"):
        render_report(res, tmp_path / "index.html", {**REPORT_CFG, "palette": "rainbow"})


def test_colourblind_palette_is_preselected(tmp_path):
    from hmllm.report import render_report

    res = write_example(tmp_path)
    html = render_report(
        res, tmp_path / "i.html", {**REPORT_CFG, "palette": "colorblind"}
    ).read_text()
    assert '<body class="cb">' in html


def test_invalid_result_file_is_a_data_error(tmp_path):
    from hmllm.report import render_report

    (tmp_path / "result.json").write_text("{not json")
    with pytest.raises(DataError, match="not a readable score result"):
        render_report(tmp_path / "result.json", tmp_path / "index.html", REPORT_CFG)


def test_report_sections_present(example_report):
    html = (example_report / "index.html").read_text()
    for section in ("Storyboard", "Key moments", "Dynamic response", "Effect indicators", "Caveats",
                    "Predicted gaze", "median 9 participants"):  # fmt: skip
        assert section in html, section
    # plain-language summary, derived from the values
    assert "Engagement peaks in shot 2 for women 26–30" in html


def test_compare_page_is_self_contained(tmp_path):
    from hmllm.report import render_compare

    a = write_example(tmp_path / "a", name="variant_a.mp4")
    b = write_example(tmp_path / "b", name=f"variant {XSS}.mp4")
    (tmp_path / "cmp").mkdir()
    out = render_compare([a, b], tmp_path / "cmp" / "index.html", REPORT_CFG)
    html = out.read_text()
    assert html.count("<video") == 2 and "variant_a.mp4" in html
    assert not [x for t, x in _parse(html).tags if t == "img" and "onerror" in x]
    for ref in _parse(html).refs:
        assert ref.startswith("data:") or "://" not in ref, ref


def test_cli_report_rerenders(tmp_path, capsys):
    from hmllm.report.run import run
    from tests.conftest import compose

    res = write_example(tmp_path)
    run(compose("report", [f"result={res}", "report.static=false"]))
    assert (tmp_path / "index.html").stat().st_size > 100_000
    assert "report:" in capsys.readouterr().out


def test_cli_report_missing_result(tmp_path):
    from hmllm.report.run import run
    from tests.conftest import compose

    with pytest.raises(ConfigError, match="no such file"):
        run(compose("report", [f"result={tmp_path / 'nope.json'}"]))


def test_an_ensemble_says_so_and_an_older_result_still_renders(tmp_path):
    from hmllm.report import render_report

    res = write_example(tmp_path)
    render_report(res, tmp_path / "single.html", REPORT_CFG)  # no "ensemble" key: schema 1.0
    assert "models trained with different seeds" not in (tmp_path / "single.html").read_text()
    result = json.loads(res.read_text())
    result["model"]["ensemble"] = 3
    res.write_text(json.dumps(result))
    render_report(res, tmp_path / "ensemble.html", REPORT_CFG)
    text = " ".join((tmp_path / "ensemble.html").read_text().split())
    assert "an average of 3 models trained with different seeds" in text
    assert "how much the 3 models disagree" in text
