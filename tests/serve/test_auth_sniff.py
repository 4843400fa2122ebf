"""Token parsing/hashing and container sniffing tables."""

from __future__ import annotations

import pytest

from hmllm.errors import ConfigError
from hmllm.serve.auth import TokenAuth, hash_token, load_tokens
from hmllm.serve.sniff import UnsupportedMedia, probe_video

ALLOWED = {
    "allowed_containers": ("mov", "mp4"),
    "allowed_codecs": ("h264",),
    "max_duration_s": 60.0,
}


def test_hashed_and_plain_tokens_resolve():
    auth = TokenAuth({hash_token("a" * 20): "alice", "b" * 20: "bob"})
    assert auth.user_for("a" * 20) == "alice"
    assert auth.user_for("b" * 20) == "bob"
    assert auth.user_for("c" * 20) is None
    assert auth.user_for(None) is None


@pytest.mark.parametrize(
    ("tokens", "match"),
    [
        ({"short": "alice"}, "at least 16"),
        ({"x" * 20: "bad user!"}, "user name"),
        ({"sha256:nothex": "alice"}, "64 hex"),
    ],
    ids=["short-token", "bad-user", "bad-digest"],
)
def test_bad_token_config_is_refused(tokens, match):
    with pytest.raises(ConfigError, match=match):
        TokenAuth(tokens)


def test_env_tokens_parsed(tmp_path):
    f = tmp_path / "tokens.json"
    f.write_text('{"%s": "alice"}' % ("f" * 20))
    tokens = load_tokens(f, env=f"{'e' * 20}:bob,{hash_token('g' * 20)}:carol")
    auth = TokenAuth(tokens)
    assert (auth.user_for("f" * 20), auth.user_for("e" * 20), auth.user_for("g" * 20)) == (
        "alice",
        "bob",
        "carol",
    )
    with pytest.raises(ConfigError, match="HMLLM_TOKENS"):
        load_tokens(None, env="no-user-here")


def test_probe_reads_real_mp4(mp4):
    info = probe_video(mp4, **ALLOWED)
    assert info.codec == "h264" and info.width_px == 64 and info.fps == pytest.approx(10.0)
    assert info.duration_s == pytest.approx(3.0, abs=0.2)


def test_probe_refuses_long_video(mp4):
    with pytest.raises(UnsupportedMedia, match="max_duration_s"):
        probe_video(mp4, **{**ALLOWED, "max_duration_s": 1.0})


def test_probe_refuses_disallowed_codec(mp4):
    with pytest.raises(UnsupportedMedia, match="codec 'h264' is not accepted"):
        probe_video(mp4, **{**ALLOWED, "allowed_codecs": ("vp9",)})


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"GIF89a" + b"\0" * 100,
        b"%PDF-1.4\n" + b"x" * 500,
        b"\x00\x00\x00\x18ftypmp42" + b"\0" * 40,
    ],
    ids=["empty", "gif-header", "pdf", "truncated-mp4-header"],
)
def test_probe_refuses_non_video_bytes(tmp_path, payload):
    f = tmp_path / "x.mp4"
    f.write_bytes(payload)
    with pytest.raises(UnsupportedMedia):
        probe_video(f, **ALLOWED)


@pytest.mark.parametrize(
    ("fmt", "encoder", "codec"),
    [("webm", "libvpx-vp9", "vp9"), ("matroska", "mpeg4", "mpeg4"), ("mov", "libx264", "h264")],
    ids=["webm-vp9", "mkv-mpeg4", "mov-h264"],
)
def test_probe_accepts_other_containers(tmp_path, fmt, encoder, codec):
    from tests.serve.conftest import write_mp4

    video = write_mp4(
        tmp_path / "clip.bin", seconds=1.0, fmt=fmt, encoder=encoder
    )  # no telling extension
    info = probe_video(
        video,
        allowed_containers=("mov", "mp4", "matroska", "webm"),
        allowed_codecs=("h264", "vp9", "mpeg4"),
        max_duration_s=60.0,
    )
    assert info.codec == codec
