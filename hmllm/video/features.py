"""Shot features, chosen by name (``FEATURE_EXTRACTORS``), cached by content hash.

``handcrafted`` — colour, brightness, motion, faces (OpenCV's shipped Haar cascade), text area,
edges, pacing, loudness and speech activity; cheap and interpretable (the report explains
predictions with them). ``hf`` — any Hugging Face vision encoder by hub id or local folder, mean-
pooled over each shot's sampled frames.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from hmllm.errors import ConfigError, DataError
from hmllm.video.audio import audio_features, load_audio
from hmllm.video.frames import sample_frames, shot_frame_indices

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


def frame_stats(rgb: np.ndarray, min_face_frac: float) -> dict[str, float]:
    """Colour, brightness, edges, faces and text of one RGB frame."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).astype(np.float32)
    hue = hsv[..., 0] / 180 * 2 * np.pi
    sat, val = hsv[..., 1] / 255, hsv[..., 2] / 255
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    colourful = np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(
        rg.mean() ** 2 + yb.mean() ** 2
    )
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h = gray.shape[0]
    faces = _face_cascade().detectMultiScale(gray, 1.1, 4, minSize=(int(h * min_face_frac),) * 2)
    face_area = float(sum(fw * fh for _, _, fw, fh in faces) / gray.size) if len(faces) else 0.0
    return {
        "hue_sin": float((np.sin(hue) * sat).mean()), "hue_cos": float((np.cos(hue) * sat).mean()),
        "saturation": float(sat.mean()), "brightness": float(val.mean()),
        "brightness_sd": float(val.std()), "colourfulness": float(colourful / 255),
        "edge_density": float((cv2.Canny(gray, 80, 160) > 0).mean()),
        "face_count": float(len(faces)), "face_area": face_area,
        "text_area": text_area_fraction(gray),
    }  # fmt: skip


def handcrafted(path: Path, shots: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    """Handcrafted features per shot (one row per shot, float32 columns)."""
    per_shot = int(cfg["frames_per_shot"])
    size = (int(cfg["width_px"]), int(cfg["height_px"]))
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
        stats = pd.DataFrame([frame_stats(f, float(cfg["min_face_frac"])) for f in now[sl]]).mean()
        motion = float(
            np.abs(now[sl].astype(np.float32) - after[sl].astype(np.float32)).mean() / 255
        )
        centre = 0.5 * (sh.onset_s + sh.offset_s)
        window = float(cfg["cut_rate_window_s"])
        n_cuts = int(
            (
                (shots["onset_s"] > centre - window / 2) & (shots["onset_s"] < centre + window / 2)
            ).sum()
        )
        row = {"shot": int(sh.shot), **stats.to_dict(), "motion": motion,
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
    df = pd.DataFrame(rows)
    cols = [c for c in df.columns if c != "shot"]
    df[cols] = df[cols].astype(np.float32)
    return df


def hf_encoder(path: Path, shots: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    """Mean-pooled embeddings of a Hugging Face vision model per shot (local folder or hub cache)."""
    import torch
    from transformers import AutoImageProcessor, AutoModel

    name = cfg.get("model_name_or_path")
    if not name:
        raise ConfigError("features.model_name_or_path must name a Hugging Face vision model")
    try:
        processor = AutoImageProcessor.from_pretrained(name)
        model = AutoModel.from_pretrained(name).eval()
    except OSError as exc:
        raise DataError(
            f"could not load the vision encoder {name!r} ({exc}); hmllm never downloads at run time: "
            "put its weights in a local folder and pass that path"
        ) from None
    idx = shot_frame_indices(shots, int(cfg["frames_per_shot"]))
    frames = sample_frames(path, np.concatenate(idx))
    with torch.no_grad():
        inputs = processor(images=list(frames), return_tensors="pt")
        out = model(**inputs)
        emb = (
            out.pooler_output
            if getattr(out, "pooler_output", None) is not None
            else out.last_hidden_state.mean(1)
        )
    emb = emb.float().numpy()
    rows, start = [], 0
    for k, sh in enumerate(shots.itertuples()):
        e = emb[start : start + len(idx[k])].mean(0)
        start += len(idx[k])
        rows.append({"shot": int(sh.shot), **{f"hf_{i}": float(v) for i, v in enumerate(e)}})
    df = pd.DataFrame(rows)
    df[[c for c in df.columns if c != "shot"]] = df[[c for c in df.columns if c != "shot"]].astype(
        np.float32
    )
    return df


FEATURE_EXTRACTORS: dict[str, Callable[[Path, pd.DataFrame, dict], pd.DataFrame]] = {
    "handcrafted": handcrafted,
    "hf": hf_encoder,
}


def config_hash(cfg: dict) -> str:
    """Short stable hash of a feature config (part of the cache key)."""
    return hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:12]


def shot_features(path: str | Path, shots: pd.DataFrame, cfg_features: dict, cache_dir: str | Path | None,
                  *, video_sha256: str | None = None) -> pd.DataFrame:  # fmt: skip
    """Features of each shot with the configured extractor, cached by video hash + config hash."""
    from hmllm.video.probe import file_sha256

    name = cfg_features.get("name", "handcrafted")
    if name not in FEATURE_EXTRACTORS:
        raise ConfigError(
            f"features.name must be one of {sorted(FEATURE_EXTRACTORS)}, got {name!r}"
        )
    path = Path(path)
    cache_file = None
    if cache_dir is not None:
        sha = video_sha256 or file_sha256(path)
        shots_key = hashlib.sha256(
            shots[["onset_frame", "offset_frame"]].to_numpy().tobytes()
        ).hexdigest()[:8]
        cache_file = (
            Path(cache_dir)
            / "features"
            / f"{sha[:16]}-{name}-{config_hash(cfg_features)}-{shots_key}.parquet"
        )
        if cache_file.is_file():
            return pd.read_parquet(cache_file)
    df = FEATURE_EXTRACTORS[name](path, shots, cfg_features)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp")
        df.to_parquet(tmp, index=False)
        tmp.replace(cache_file)
    return df
