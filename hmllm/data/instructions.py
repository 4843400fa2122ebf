"""Instruction Q&A in the paper's shape (subjective per shot × audience × index, objective per shot)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from hmllm.data.groups import parse_group_id
from hmllm.data.labels import INDEX_NAMES

BAND_WORDS = {"under20": "under 20", "over50": "over 50"}


def describe_group(group: str) -> str:
    """Plain words for a group id.

    ``all`` → ``the whole audience``; ``female`` → ``women``; ``female_26-30`` → ``a woman aged
    26-30``; ``all_26-30`` → ``a viewer aged 26-30``; ``city_tier=tier1`` → ``viewers with city tier
    tier1``.
    """
    if group == "all":
        return "the whole audience"
    kind, gender, band = parse_group_id(group)
    if kind == "attribute":
        return f"viewers with {gender.replace('_', ' ')} {band}"
    if band == "all":
        return {"female": "women", "male": "men"}.get(gender, f"{gender} viewers")
    noun = {"female": "a woman", "male": "a man", "all": "a viewer"}.get(
        gender, f"a {gender} viewer"
    )
    return f"{noun} aged {BAND_WORDS.get(band, band)}"


def describe_shot(features: dict, transcript: str, rules: dict) -> str:
    """A short factual description of a shot from its handcrafted features (and transcript).

    ``rules`` is ``data.instructions.describe``: the feature cut-offs (brightness 0–1, motion as mean
    absolute frame difference 0–1, face count per frame, text area share of the frame, loudness dBFS,
    speech activity 0–1) that turn numbers into words.
    """
    b = features.get("brightness")
    light = (
        ""
        if b is None
        else ("bright " if b > rules["bright"] else ("dark " if b < rules["dark"] else ""))
    )
    moving = "fast-moving" if features.get("motion", 0.0) > rules["fast_motion"] else "calm"
    parts = [f"A {light}{moving} shot"]
    if features.get("face_count", 0.0) >= rules["face"]:
        parts.append("showing a face")
    if features.get("text_area", 0.0) > rules["text"]:
        parts.append("with on-screen text")
    if features.get("has_audio", 1.0) and features.get("loudness_db", -120.0) > rules["silence_db"]:
        parts.append(
            "with speech"
            if features.get("speech_activity", 0.0) > rules["speech"]
            else "with music"
        )
    else:
        parts.append("in silence")
    text = ", ".join(parts) + "."
    if transcript:
        text += f' Words: "{transcript.strip()}"'
    return text


def build_instructions(labels: pd.DataFrame, groups: pd.DataFrame, features: pd.DataFrame,
                       transcripts: dict[tuple[str, int], str], class_names: dict[str, list[str]],
                       cfg: dict, path: Path) -> int:  # fmt: skip
    """Write ``instructions.jsonl`` (contract §4) and return the number of records.

    One subjective record per (ad, shot, group, index) with a class — question from
    ``cfg["questions"][index]`` (``{who}``, ``{shot}`` 1-based as a viewer counts), answer the class
    name — and, if ``cfg["objective"]``, one objective "describe" record per shot.
    """
    level = dict(zip(groups["group"], groups["level"], strict=True))
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for r in labels.sort_values(["ad_id", "shot", "group"]).itertuples(index=False):
            for idx in INDEX_NAMES:
                c = int(getattr(r, f"{idx}_class"))
                if c < 0:
                    continue
                rec = {
                    "id": f"{r.ad_id}-{int(r.shot)}-{r.group}-{idx}",
                    "ad_id": r.ad_id,
                    "shot": int(r.shot),
                    "group": r.group,
                    "level": level.get(r.group, "P2"),
                    "task": "subjective",
                    "index": idx,
                    "question": cfg["questions"][idx].format(
                        who=describe_group(r.group), shot=int(r.shot) + 1
                    ),
                    "answer": class_names[idx][c],
                }
                fh.write(json.dumps(rec) + "\n")
                n += 1
        if cfg["objective"]:
            cols = [c for c in features.columns if c not in ("ad_id", "shot", "split")]
            for r in features.sort_values(["ad_id", "shot"]).to_dict("records"):
                feats = {c: float(r[c]) for c in cols if pd.notna(r[c])}
                rec = {
                    "id": f"{r['ad_id']}-{int(r['shot'])}-describe",
                    "ad_id": r["ad_id"],
                    "shot": int(r["shot"]),
                    "group": "all",
                    "level": "P1",
                    "task": "objective",
                    "index": None,
                    "question": cfg["describe_question"].format(shot=int(r["shot"]) + 1),
                    "answer": describe_shot(
                        feats, transcripts.get((r["ad_id"], int(r["shot"])), ""), cfg["describe"]
                    ),
                }
                fh.write(json.dumps(rec) + "\n")
                n += 1
    return n
