"""Key moments and plain-language summaries from a score result (pure functions, no model calls)."""

from __future__ import annotations

import numpy as np

from hmllm.data.groups import parse_group_id

LABEL = {"en": "engagement", "em": "emotion", "emr": "attention to the screen"}
_NOUN = {"female": "women", "male": "men", "all": "viewers"}


def audience_words(group: str) -> str:
    """Plain plural words for a group id: ``female_26-30`` → ``women 26–30``, ``all`` → ``everyone``."""
    if group == "all":
        return "everyone"
    kind, gender, band = parse_group_id(group)
    if kind == "attribute":
        return f"viewers with {gender.replace('_', ' ')} {band}"
    noun = _NOUN.get(gender, f"{gender} viewers")
    if band == "all":
        return noun
    band = {"under20": "under 20", "over50": "over 50"}.get(band, band.replace("-", "–"))
    return f"{noun} {band}"


def _series(result: dict, audience: str, index: str) -> list[tuple[int, float]]:
    return sorted((p["shot"], p["value"]) for p in result["predictions"]
                  if p["audience"] == audience and p["index"] == index)  # fmt: skip


def key_moments(result: dict, hook_s: float = 3.0) -> list[dict]:
    """The opening hook, each index's peak and sharpest drop, and where attention leaves the screen.

    Parameters
    ----------
    result
        A score result (``shots``, ``audiences``, ``predictions``).
    hook_s
        Length of the opening hook, seconds: its shots' mean engagement is compared with the ad's.

    Returns
    -------
    list of dict
        ``time_s`` (shot onset, s), ``shot``, ``audience``, ``kind``, ``text``; sorted by time.
    """
    shots = {s["shot"]: s for s in result["shots"]}
    first = [s["shot"] for s in result["shots"] if s["onset_s"] < hook_s]
    out = []
    for aud in [a["id"] for a in result["audiences"]]:
        who = audience_words(aud)
        en = dict(_series(result, aud, "en"))
        if first and en:
            hook = float(np.mean([en[s] for s in first if s in en]))
            verdict = "stronger" if hook > float(np.mean(list(en.values()))) else "weaker"
            out.append({"time_s": 0.0, "shot": first[0], "audience": aud, "kind": "hook",
                        "text": f"Hook (first {hook_s:g} s): engagement is {verdict} than the ad's average for {who}."})  # fmt: skip
        for idx in ("en", "em", "emr"):
            ser = _series(result, aud, idx)
            if len(ser) < 2:
                continue
            peak = max(ser, key=lambda x: x[1])
            out.append({"time_s": shots[peak[0]]["onset_s"], "shot": peak[0], "audience": aud,
                        "kind": f"{idx}_peak", "text": f"{LABEL[idx].capitalize()} peaks in shot {peak[0] + 1} for {who}."})  # fmt: skip
            drop = min(
                ((ser[i][0], ser[i][1] - ser[i - 1][1]) for i in range(1, len(ser))),
                key=lambda x: x[1],
            )
            if drop[1] < 0:
                kind = "attention_leaves" if idx == "emr" else f"{idx}_drop"
                what = (
                    "attention leaves the screen most"
                    if idx == "emr"
                    else f"{LABEL[idx]} drops most"
                )
                out.append({"time_s": shots[drop[0]]["onset_s"], "shot": drop[0], "audience": aud, "kind": kind,
                            "text": f"Shot {drop[0] + 1}: {what} for {who}."})  # fmt: skip
    return sorted(out, key=lambda m: (m["time_s"], m["audience"], m["kind"]))


def summary_sentences(result: dict) -> list[str]:
    """A few plain sentences: pacing first, then each audience's response and predicted effects."""
    shots = result["shots"]
    dur = float(result["ad"]["duration_s"])
    lens = [s["offset_s"] - s["onset_s"] for s in shots]
    lines = [f"{len(shots)} shots in {dur:.1f} s: one cut every {dur / max(len(shots), 1):.1f} s on average "
             f"(shortest {min(lens):.1f} s, longest {max(lens):.1f} s)."]  # fmt: skip
    for a in result["audiences"]:
        aud, who = a["id"], audience_words(a["id"])
        en = _series(result, aud, "en")
        if en:
            peak, low = max(en, key=lambda x: x[1]), min(en, key=lambda x: x[1])
            lines.append(
                f"Engagement peaks in shot {peak[0] + 1} for {who} and is lowest in shot {low[0] + 1}."
            )
        eff = next((e for e in result["effects"] if e["group"] == aud), None)
        if eff:
            lines.append(f"Predicted for {who}: CTR {eff['ctr']:.2%} ({eff['ctr_lo']:.2%}–{eff['ctr_hi']:.2%}), "
                         f"completion {eff['completion']:.0%} ({eff['completion_lo']:.0%}–{eff['completion_hi']:.0%}).")  # fmt: skip
    return lines
