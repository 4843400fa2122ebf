"""Upload → job → result through the JSON API, and every refusal of issue 10."""

from __future__ import annotations

import pytest

from tests.serve.conftest import TOKENS, auth, wait_done


def upload(client, path, name="ad.mp4", user="alice", audiences=("female_26-30",), headers=None):
    with open(path, "rb") as f:
        return client.post(
            "/api/jobs",
            files={"file": (name, f, "video/mp4")},
            data={"audiences": list(audiences)},
            headers=auth(user) if headers is None else headers,
        )


def test_upload_job_result_roundtrip(client, mp4):
    r = upload(client, mp4)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running")
    assert r.headers["location"] == f"/api/jobs/{job['id']}"
    done = wait_done(client, job["id"])
    assert done["status"] == "done", done
    result = client.get(f"/api/jobs/{job['id']}/result", headers=auth("alice")).json()
    assert result["audiences"] == ["female_26-30"]
    assert result["ad"]["file"] == "ad.mp4"
    assert result["ad"]["duration_s"] == pytest.approx(3.0, abs=0.2)
    assert len(result["shots"]) == 3  # 3 s at 1 s segments
    report = client.get(done["report_url"], headers=auth("alice"))
    assert report.status_code == 200 and "<video" in report.text
    video = client.get(
        f"/jobs/{job['id']}/files/input/ad.mp4", headers={**auth("alice"), "Range": "bytes=0-99"}
    )
    assert video.status_code == 206 and len(video.content) == 100
    assert [j["id"] for j in client.get("/api/jobs", headers=auth("alice")).json()["jobs"]] == [
        job["id"]
    ]


def test_uploads_are_content_addressed(client, mp4, settings):
    a = upload(client, mp4, name="one.mp4").json()
    b = upload(client, mp4, name="two.mp4").json()
    assert a["uploads"] == b["uploads"]
    sha = a["uploads"][0]
    blobs = [p for p in settings.uploads_dir.rglob("*") if p.is_file()]
    assert [p.name for p in blobs] == [sha]
    import hashlib

    assert hashlib.sha256(mp4.read_bytes()).hexdigest() == sha


def test_no_audience_means_all(client, mp4):
    job = upload(client, mp4, audiences=()).json()
    assert job["audiences"] == ["female_26-30", "male_18-25"]


def test_audiences_endpoint(client):
    assert client.get("/api/audiences", headers=auth("bob")).json() == {
        "audiences": ["female_26-30", "male_18-25"]
    }


def test_scorer_failure_is_reported(client, mp4):
    job = upload(client, mp4, name="crash.mp4").json()
    done = wait_done(client, job["id"])
    assert done["status"] == "failed"
    assert "scorer exploded on purpose" in done["error"]
    assert client.get(f"/api/jobs/{job['id']}/result", headers=auth("alice")).status_code == 409


# ---- refusals ---------------------------------------------------------------------------------


def test_too_large_declared_is_413(client, tmp_path):
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (600 * 1024))
    r = upload(client, big)
    assert r.status_code == 413
    assert "max_upload_mb" in r.json()["detail"]


def test_too_large_streamed_without_length_is_413(client):
    """Drive the ASGI app directly so we can count how much of a chunked body it pulled."""
    import asyncio

    chunk, n_chunks = 64 * 1024, 64  # 4 MiB offered against the 512 KiB limit
    pulled = 0
    sent: list[dict] = []
    head = b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n'

    async def receive() -> dict:
        nonlocal pulled
        pulled += 1
        if pulled > n_chunks:
            return {"type": "http.disconnect"}
        body = head if pulled == 1 else b"\0" * chunk
        return {"type": "http.request", "body": body, "more_body": pulled < n_chunks}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/jobs",
        "raw_path": b"/api/jobs",
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "headers": [
            (b"authorization", f"Bearer {TOKENS['alice']}".encode()),
            (b"content-type", b"multipart/form-data; boundary=xx"),
            (b"transfer-encoding", b"chunked"),
        ],
        "app": client.app,
    }
    asyncio.run(client.app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert pulled <= 10  # cut off just past 512 KiB, not after reading all 4 MiB


def test_text_with_mp4_extension_is_415(client, tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is not a video at all\n" * 100)
    r = upload(client, fake)
    assert r.status_code == 415
    assert "not a video" in r.json()["detail"]


def test_image_is_415(client, tmp_path):
    import av
    import numpy as np

    png = tmp_path / "still.mp4"
    with av.open(str(png), "w", format="image2", options={"update": "1"}) as c:
        s = c.add_stream("png", rate=1)
        s.width = s.height = 16
        s.pix_fmt = "rgb24"
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
        for p in [*s.encode(frame), *s.encode()]:
            c.mux(p)
    r = upload(client, png)
    assert r.status_code == 415
    assert "not accepted" in r.json()["detail"] or "not a video" in r.json()["detail"]


def test_real_mp4_named_txt_is_accepted(client, mp4):
    r = upload(client, mp4, name="notes.txt")
    assert r.status_code == 202
    assert r.json()["filename"] == "notes.txt"


def test_path_traversal_filename_is_sanitised(client, mp4, settings):
    r = upload(client, mp4, name="../../etc/passwd")
    assert r.status_code == 202
    job = r.json()
    assert job["filename"] == "passwd"
    wait_done(client, job["id"])
    assert (settings.results_dir / job["id"] / "input" / "passwd").is_file()
    assert not (settings.data_dir.parent / "etc").exists()


def test_path_traversal_in_report_files_is_404(client, mp4):
    job = upload(client, mp4).json()
    wait_done(client, job["id"])
    for path in ("../../jobs.sqlite3", "..%2F..%2Fjobs.sqlite3", "/etc/passwd"):
        r = client.get(f"/jobs/{job['id']}/files/{path}", headers=auth("alice"))
        assert r.status_code == 404, path


def test_unknown_audience_is_422(client, mp4):
    r = upload(client, mp4, audiences=("female_26-30", "martians"))
    assert r.status_code == 422
    assert "martians" in r.json()["detail"]


def test_request_cannot_smuggle_config(client, mp4):
    with open(mp4, "rb") as f:
        r = client.post(
            "/api/jobs",
            files={"file": ("ad.mp4", f, "video/mp4")},
            data={
                "audiences": ["female_26-30"],
                "_target_": "os.system",
                "checkpoint": "/etc/passwd",
            },
            headers=auth("alice"),
        )
    assert r.status_code == 202
    job = r.json()
    assert set(job) >= {"id", "status"} and "checkpoint" not in job


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope-nope-nope-nope"}, {"Authorization": "Basic YWxpY2U6eA=="}],
    ids=["missing", "invalid", "wrong-scheme"],
)
def test_missing_or_invalid_token_is_401(client, mp4, headers):
    assert upload(client, mp4, headers=headers).status_code == 401
    assert client.get("/api/jobs", headers=headers).status_code == 401


def test_other_users_job_is_404(client, mp4):
    job = upload(client, mp4, user="alice").json()
    wait_done(client, job["id"])
    for url in (
        f"/api/jobs/{job['id']}",
        f"/api/jobs/{job['id']}/result",
        f"/jobs/{job['id']}",
        f"/jobs/{job['id']}/files/index.html",
    ):
        assert client.get(url, headers=auth("bob")).status_code == 404, url
    assert client.get("/api/jobs/0123456789abcdef", headers=auth("bob")).status_code == 404
    assert client.get("/api/jobs", headers=auth("bob")).json() == {"jobs": []}


def test_xss_filename_is_escaped(client, mp4):
    evil = "<img src=x onerror=alert(1)><script>alert(2)</script>.mp4"
    job = upload(client, mp4, name=evil).json()
    for url in ("/jobs", f"/jobs/{job['id']}"):
        page = client.get(url, headers=auth("alice"))
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]


def test_templates_escape_even_unsanitised_names(client):
    """Defence in depth: a raw name reaching the store is still rendered inert."""
    evil = '<script>alert("x")</script>"><img src=x onerror=alert(1)>'
    job = client.app.state.store.create_job("alice", ["0" * 64], evil, ["female_26-30"])
    for url in ("/jobs", f"/jobs/{job.id}", "/compare"):
        page = client.get(url, headers=auth("alice")).text
        assert "<script>alert" not in page and "<img src=x" not in page, url
    assert (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
        in client.get(f"/jobs/{job.id}", headers=auth("alice")).text
    )


def test_xss_in_sanitiser_and_template_both():
    from hmllm.serve.sniff import sanitize_filename

    assert sanitize_filename('<img onerror="x">.mp4') == "_img onerror_x_.mp4"
    assert sanitize_filename("<b>x</b>.mp4") == "b_.mp4"  # "/" ends a folder name
    assert sanitize_filename("C:\\Users\\me\\ad.mp4") == "ad.mp4"
    assert sanitize_filename("..") == "upload"
    assert sanitize_filename("a\x00b\nc.mp4") == "abc.mp4"


def test_login_cookie_flow(client):
    assert client.get("/", follow_redirects=False).status_code == 303
    bad = client.post("/login", data={"token": "wrong-wrong-wrong-wrong"}, follow_redirects=False)
    assert bad.status_code == 401
    ok = client.post("/login", data={"token": TOKENS["bob"]}, follow_redirects=False)
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = client.get("/")
    assert page.status_code == 200 and "female_26-30" in page.text and "bob" in page.text
    client.post("/logout")
    client.cookies.clear()
    assert client.get("/", follow_redirects=False).status_code == 303


def test_openapi_lists_api(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/api/jobs",
        "/api/jobs/{job_id}",
        "/api/jobs/{job_id}/result",
        "/api/audiences",
    } <= set(paths)


def test_compare_page_embeds_both_reports(client, mp4):
    a = upload(client, mp4, name="first.mp4").json()
    b = upload(client, mp4, name="second.mp4", audiences=("male_18-25",)).json()
    wait_done(client, a["id"])
    wait_done(client, b["id"])
    page = client.get(f"/compare?a={a['id']}&b={b['id']}", headers=auth("alice"))
    assert page.status_code == 200
    assert page.text.count("<iframe") == 2
    assert (
        f"/jobs/{a['id']}/files/index.html" in page.text
        and f"/jobs/{b['id']}/files/index.html" in page.text
    )
    assert client.get(f"/compare?a={a['id']}", headers=auth("bob")).status_code == 404
