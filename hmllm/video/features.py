"""Shot features, chosen by name (``FEATURE_EXTRACTORS``), cached by content hash.

``handcrafted`` — colour, brightness, motion, faces (OpenCV's shipped Haar cascade), text area,
edges, pacing, loudness and speech activity; cheap and interpretable (the report explains
predictions with them). ``hf`` — any Hugging Face vision encoder by hub id or local folder, mean-
pooled over each shot's sampled frames. ``cnn`` — a tiny conv net trained from scratch (contrastive,
self-supervised) on the frames it encodes, weights cached. Any extractor can add per-shot
transcript embeddings from ``.srt``/``.vtt`` sidecars (``transcript: true``).

Every extractor has the signature ``(path, shots, cfg, cache_dir) -> DataFrame(shot, float32...)``;
register new ones in :data:`FEATURE_EXTRACTORS`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from hmllm.errors import ConfigError, DataError
from hmllm.video.audio import audio_features, load_audio
from hmllm.video.frames import display_size, sample_frames, shot_frame_indices, video_size

log = logging.getLogger(__name__)
_CASCADE = None


def _face_cascade():
    global _CASCADE
    if _CASCADE is None:
        _CASCADE = cv2.CascadeClassifier(
            cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        )
        if _CASCADE.empty():
            raise DataError(
                "OpenCV's frontal-face Haar cascade is missing; reinstall opencv-python-headless 4.x"
            )
    return _CASCADE


def text_area_fraction(gray: np.ndarray) -> float:
    """Share of the frame covered by text-like regions (dense, wide strokes of high contrast)."""
    grad = cv2.morphologyEx(
        gray, cv2.MORPH_GRADIENT, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    )
    _, bw = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    joined = cv2.morphologyEx(
        bw, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 1))
    )
    n, _, stats, _ = cv2.connectedComponentsWithStats(joined)
    h, w = gray.shape
    area = 0
    for x, y, cw, ch, _area in stats[1:n]:
        fill = bw[y : y + ch, x : x + cw].mean() / 255
        if cw > 2.5 * ch and ch > h * 0.02 and ch < h * 0.2 and 0.2 < fill < 0.8:
            area += cw * ch
    return float(area / (h * w))


def detect_faces(gray: np.ndarray, min_face_frac: float, scale_factor: float) -> tuple[int, float]:
    """Number of frontal faces (OpenCV Haar cascade) and the frame fraction they cover."""
    h = gray.shape[0]
    faces = _face_cascade().detectMultiScale(
        gray, scale_factor, 4, minSize=(int(h * min_face_frac),) * 2
    )
    area = float(sum(fw * fh for _, _, fw, fh in faces) / gray.size) if len(faces) else 0.0
    return len(faces), area


def flow_magnitude(a: np.ndarray, b: np.ndarray, width_px: int) -> float:
    """Mean Farneback optical-flow magnitude between RGB frames ``a`` → ``b``, in frame widths/frame.

    Computed on grey frames downscaled to ``width_px`` (pixels) for speed.
    """
    h = max(8, int(round(a.shape[0] * width_px / a.shape[1])))
    ga, gb = (cv2.resize(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), (width_px, h), interpolation=cv2.INTER_AREA)
              for x in (a, b))  # fmt: skip
    flow = cv2.calcOpticalFlowFarneback(ga, gb, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    return float(np.linalg.norm(flow, axis=2).mean() / width_px)


def frame_stats(rgb: np.ndarray) -> dict[str, float]:
    """Colour, brightness, edges and text of one RGB frame (faces: :func:`detect_faces`)."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    rgb = rgb[::2, ::2]  # colour statistics need no full resolution: every 2nd pixel (4x faster)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).astype(np.float32)
    hue = hsv[..., 0] / 180 * 2 * np.pi
    sat, val = hsv[..., 1] / 255, hsv[..., 2] / 255
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    colourful = np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(
        rg.mean() ** 2 + yb.mean() ** 2
    )
    return {
        "hue_sin": float((np.sin(hue) * sat).mean()), "hue_cos": float((np.cos(hue) * sat).mean()),
        "saturation": float(sat.mean()), "brightness": float(val.mean()),
        "brightness_sd": float(val.std()), "colourfulness": float(colourful / 255),
        "edge_density": float((cv2.Canny(gray, 80, 160) > 0).mean()),
        "text_area": text_area_fraction(gray),
    }  # fmt: skip


def _size(path: Path, cfg: dict) -> tuple[int, int]:
    """Decode size (width, height) in pixels: short side ``short_side_px``, aspect ratio kept."""
    return display_size(*video_size(path), int(cfg["short_side_px"]))


def _float32(df: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in df.columns if c != "shot"]
    df[cols] = df[cols].astype(np.float32)
    return df


def handcrafted(
    path: Path, shots: pd.DataFrame, cfg: dict, cache_dir: Path | None = None
) -> pd.DataFrame:
    """Handcrafted features per shot (one row per shot, float32 columns).

    Colour (circular hue as saturation-weighted sin/cos, saturation, brightness and its SD,
    colourfulness after Hasler & Süsstrunk), edge density, faces (count, area fraction), text area
    fraction, motion (mean absolute difference to the next frame, 0–1), pacing (duration s, relative
    position, cuts per 10 s around the shot) and audio (loudness dBFS, 2–8 Hz speech-modulation
    share, spectral centroid Hz, flatness, has_audio), each averaged over ``frames_per_shot`` frames.
    """
    per_shot = int(cfg["frames_per_shot"])
    size = _size(path, cfg)
    idx = shot_frame_indices(shots, per_shot)
    flat = np.concatenate(idx)
    nxt = np.minimum(flat + 1, int(shots["offset_frame"].max()) - 1)
    frames = sample_frames(path, np.concatenate([flat, nxt]), size=size)
    now, after = frames[: len(flat)], frames[len(flat) :]
    audio = load_audio(path, int(cfg["audio_rate_hz"]))
    duration = float(shots["offset_s"].max())
    rows, start = [], 0
    for k, sh in enumerate(shots.itertuples()):
        sl = slice(start, start + len(idx[k]))
        start = sl.stop
        stats = pd.DataFrame([frame_stats(f) for f in now[sl]]).mean()
        # faces on the shot's middle sample only: the cascade costs more than all other features
        mid = cv2.cvtColor(now[sl][len(idx[k]) // 2], cv2.COLOR_RGB2GRAY)
        n_faces, face_area = detect_faces(
            mid, float(cfg["min_face_frac"]), float(cfg["face_scale_factor"])
        )
        motion = float(
            np.abs(now[sl].astype(np.float32) - after[sl].astype(np.float32)).mean() / 255
        )
        flow = float(np.mean([flow_magnitude(a, b, int(cfg["flow_width_px"]))
                              for a, b in zip(now[sl], after[sl], strict=True)]))  # fmt: skip
        centre = 0.5 * (sh.onset_s + sh.offset_s)
        window = float(cfg["cut_rate_window_s"])
        n_cuts = int(
            (
                (shots["onset_s"] > centre - window / 2) & (shots["onset_s"] < centre + window / 2)
            ).sum()
        )
        row = {"shot": int(sh.shot), **stats.to_dict(), "face_count": float(n_faces),
               "face_area": face_area, "motion": motion, "flow": flow,
               "duration_s": float(sh.offset_s - sh.onset_s), "position": centre / max(duration, 1e-9),
               "cut_rate_per_10s": n_cuts * 10.0 / window}  # fmt: skip
        if audio is not None and audio.size:
            a = audio[
                int(sh.onset_s * cfg["audio_rate_hz"]) : int(sh.offset_s * cfg["audio_rate_hz"])
            ]
            row.update(audio_features(a, int(cfg["audio_rate_hz"])))
            row["has_audio"] = 1.0
        else:
            row.update(audio_features(np.zeros(0, np.float32), int(cfg["audio_rate_hz"])))
            row["has_audio"] = 0.0
        rows.append(row)
    return _float32(pd.DataFrame(rows))


def _per_shot_mean(
    shots: pd.DataFrame, idx: list[np.ndarray], emb: np.ndarray, prefix: str
) -> pd.DataFrame:
    rows, start = [], 0
    for k, sh in enumerate(shots.itertuples()):
        e = emb[start : start + len(idx[k])].mean(0)
        start += len(idx[k])
        rows.append({"shot": int(sh.shot), **{f"{prefix}_{i}": float(v) for i, v in enumerate(e)}})
    return _float32(pd.DataFrame(rows))


def load_hf_encoder(name: str):
    """``(processor, model)`` of a Hugging Face vision/video model, from a local folder or the cache.

    Never downloads (``local_files_only``): an uncached hub id is a :class:`DataError` telling the
    user to fetch the weights first.
    """
    from transformers import AutoImageProcessor, AutoModel

    local = Path(name).expanduser()
    src = str(local) if local.exists() else name
    try:
        processor = AutoImageProcessor.from_pretrained(src, local_files_only=True)
        model = AutoModel.from_pretrained(src, local_files_only=True).eval()
    except (OSError, ValueError) as exc:
        raise DataError(
            f"could not load the vision encoder {name!r} offline ({str(exc).splitlines()[0]}); "
            "hmllm never downloads at run time: download it once (e.g. `hf download "
            f"{name}`) or save it to a folder and set features.model_name_or_path to that path"
        ) from None
    return processor, model


def hf_encoder(
    path: Path, shots: pd.DataFrame, cfg: dict, cache_dir: Path | None = None
) -> pd.DataFrame:
    """Embeddings of a Hugging Face image or video encoder per shot (``hf_<i>`` columns).

    Image models (ViT, CLIP vision, DINOv2, …) embed each of ``frames_per_shot`` frames, mean-pooled
    over the shot; video models (config with ``num_frames``, e.g. VideoMAE) get the shot's frames
    as one clip. Pooled output when the model has one, else the mean of the last hidden state.
    """
    name = cfg.get("model_name_or_path")
    if not name:
        raise ConfigError(
            "features.model_name_or_path must name a Hugging Face vision model (hub id or folder)"
        )
    import torch

    processor, model = load_hf_encoder(str(name))
    torch.manual_seed(int(cfg.get("seed", 0)))
    clip_len = getattr(model.config, "num_frames", None)
    per_shot = int(clip_len or cfg["frames_per_shot"])
    idx = shot_frame_indices(shots, per_shot)
    frames = sample_frames(path, np.concatenate(idx))
    batch = int(cfg.get("batch_size", 16))
    outs = []
    with torch.no_grad():
        if clip_len:  # video model: one clip (list of frames) per shot
            clips = [list(frames[k * per_shot : (k + 1) * per_shot]) for k in range(len(idx))]
            chunks = [clips[i : i + batch] for i in range(0, len(clips), batch)]
            idx = [np.zeros(1, int)] * len(clips)  # one embedding per shot
        else:
            chunks = [list(frames[i : i + batch]) for i in range(0, len(frames), batch)]
        for chunk in chunks:
            inputs = processor(chunk, return_tensors="pt")
            out = model(**inputs)
            pooled = getattr(out, "pooler_output", None)
            outs.append((pooled if pooled is not None else out.last_hidden_state.mean(1)).float())
    return _per_shot_mean(shots, idx, torch.cat(outs).numpy(), "hf")


def cnn_encoder(
    path: Path, shots: pd.DataFrame, cfg: dict, cache_dir: Path | None = None
) -> pd.DataFrame:
    """Embeddings of the small from-scratch CNN per shot (``cnn_<i>`` columns).

    Uses ``cfg["weights"]`` when set (``hmllm video`` trains one encoder on the whole study first);
    otherwise trains on this video's own frames (seeded, cached under ``cache_dir/cnn``).
    """
    from hmllm.video import cnn

    per_shot = int(cfg["frames_per_shot"])
    idx = shot_frame_indices(shots, per_shot)
    frames = sample_frames(
        path, np.concatenate(idx), size=(int(cfg["width_px"]), int(cfg["height_px"]))
    )
    if cfg.get("weights"):
        model = cnn.load_weights(cfg["weights"])
    else:
        groups = np.split(frames, np.cumsum([len(i) for i in idx])[:-1])
        got = cnn.load_or_train(groups, cfg, cache_dir)
        model = cnn.load_weights(got) if isinstance(got, Path) else got
    return _per_shot_mean(shots, idx, cnn.embed(model, frames), "cnn")


#: Bumped when an extractor's output changes, so caches written by older code are not reused.
EXTRACTOR_VERSION = {"handcrafted": 3, "cnn": 1, "hf": 1}

FeatureExtractor = Callable[[Path, pd.DataFrame, dict, Path | None], pd.DataFrame]

FEATURE_EXTRACTORS: dict[str, FeatureExtractor] = {
    "handcrafted": handcrafted,
    "cnn": cnn_encoder,
    "hf": hf_encoder,
}


def config_hash(cfg: dict) -> str:
    """Short stable hash of a feature config (part of the cache key)."""
    return hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:12]


def transcript_features(path: Path, shots: pd.DataFrame, cfg: dict) -> pd.DataFrame | None:
    """``has_transcript`` + ``txt_<i>`` sentence embeddings per shot, or ``None`` without a sidecar."""
    from hmllm.video.transcript import embed_texts, shot_transcripts, sidecar

    if sidecar(path) is None:
        return None
    texts = shot_transcripts(path, shots)
    df = pd.DataFrame({"shot": shots["shot"].astype(int).to_numpy(),
                       "has_transcript": [float(bool(t.strip())) for t in texts]})  # fmt: skip
    emb = embed_texts(texts, cfg.get("text_encoder"))
    if emb is not None:
        df = pd.concat([df, pd.DataFrame(emb, columns=[f"txt_{i}" for i in range(emb.shape[1])])],
                       axis=1)  # fmt: skip
    return _float32(df)


def shot_features(path: str | Path, shots: pd.DataFrame, cfg_features: dict, cache_dir: str | Path | None,
                  *, video_sha256: str | None = None) -> pd.DataFrame:  # fmt: skip
    """Features of each shot with the configured extractor, cached by content hash.

    Parameters
    ----------
    path
        The video.
    shots
        Shot table of :func:`hmllm.video.detect_shots` (``shot, onset_s, offset_s, onset_frame,
        offset_frame``; an ``ad_id`` column is ignored).
    cfg_features
        The ``features`` config group as a dict; ``name`` picks the extractor of
        :data:`FEATURE_EXTRACTORS`, ``transcript`` adds sidecar-subtitle embeddings.
    cache_dir
        Cache root (``paths.cache``), or ``None`` for no caching. Results go to
        ``<cache_dir>/features/<sha256[:16]>-<name>-<config_hash>-<shots_hash>.parquet``.
    video_sha256
        The file's hash if already known (saves re-reading it).

    Returns
    -------
    pandas.DataFrame
        ``shot`` (int) plus float32 feature columns, one row per shot in shot order.
    """
    from hmllm.video.probe import file_sha256

    cfg_features = dict(cfg_features)
    name = cfg_features.get("name", "handcrafted")
    if name not in FEATURE_EXTRACTORS:
        raise ConfigError(
            f"features.name must be one of {sorted(FEATURE_EXTRACTORS)}, got {name!r}"
        )
    missing = {"shot", "onset_s", "offset_s", "onset_frame", "offset_frame"} - set(shots.columns)
    if missing or shots.empty:
        raise DataError(f"shot table for {Path(path).name} lacks columns {sorted(missing)} or rows; "
                        "pass the output of hmllm.video.detect_shots")  # fmt: skip
    path = Path(path)
    cache_file = None
    if cache_dir is not None:
        sha = video_sha256 or file_sha256(path)
        key_cols = ["onset_frame", "offset_frame"]
        shots_key = hashlib.sha256(shots[key_cols].to_numpy("int64").tobytes()).hexdigest()[:8]
        sub = (
            path.with_suffix(".srt")
            if path.with_suffix(".srt").is_file()
            else path.with_suffix(".vtt")
        )
        if cfg_features.get("transcript") and sub.is_file():
            shots_key += file_sha256(sub)[:8]
        cache_file = (Path(cache_dir) / "features"
                      / f"{sha[:16]}-{name}-{config_hash({**cfg_features, '_v': EXTRACTOR_VERSION.get(name, 0)})}-{shots_key}.parquet")  # fmt: skip
        if cache_file.is_file():
            return pd.read_parquet(cache_file)
    df = FEATURE_EXTRACTORS[name](
        path, shots, cfg_features, None if cache_dir is None else Path(cache_dir)
    )
    if cfg_features.get("transcript"):
        txt = transcript_features(path, shots, cfg_features)
        if txt is not None:
            df = df.merge(txt, on="shot", how="left")
    if not np.isfinite(df.drop(columns="shot").to_numpy(np.float64)).all():
        raise DataError(f"{path.name}: the {name} features contain NaN/inf; check the video")
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
        df.to_parquet(tmp, index=False)
        tmp.replace(cache_file)
    return df
