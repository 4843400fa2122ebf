"""Key moments and plain-language summaries from a score result (no model calls)."""

from __future__ import annotations

import numpy as np

LABEL = {"en": "engagement", "em": "emotion", "emr": "attention to the screen"}


def _series(result: dict, audience: str, index: str) -> list[tuple[int, float]]:
    return sorted((p["shot"], p["value"]) for p in result["predictions"] if p["audience"] == audience and p["index"] == index)


def key_moments(result: dict, hook_s: float = 3.0) -> list[dict]:
    """The opening hook, each index's peak and sharpest drop, and where attention leaves the screen."""
    shots = {s["shot"]: s for s in result["shots"]}
    out = []
    for aud in [a["id"] for a in result["audiences"]]:
        first = [s for s in result["shots"] if s["onset_s"] < hook_s]
        en = dict(_series(result, aud, "en"))
        if first and en:
            hook = float(np.mean([en[s["shot"]] for s in first]))
            overall = float(np.mean(list(en.values())))
            verdict = "stronger" if hook > overall else "weaker"
            out.append({"time_s": 0.0, "shot": first[0]["shot"], "audience": aud, "kind": "hook",
                        "text": f"Opening {hook_s:.0f} s: engagement is {verdict} than the ad's average for {aud}."})  # fmt: skip
        for idx in ("en", "em", "emr"):
            ser = _series(result, aud, idx)
            if len(ser) < 2:
                continue
            peak = max(ser, key=lambda x: x[1])
            out.append({"time_s": shots[peak[0]]["onset_s"], "shot": peak[0], "audience": aud, "kind": f"{idx}_peak",
                        "text": f"{LABEL[idx].capitalize()} peaks in shot {peak[0] + 1} for {aud}."})  # fmt: skip
            drops = [(ser[i][0], ser[i][1] - ser[i - 1][1]) for i in range(1, len(ser))]
            drop = min(drops, key=lambda x: x[1])
            if drop[1] < 0:
                kind = "attention_leaves" if idx == "emr" else f"{idx}_drop"
                what = "attention leaves the screen" if idx == "emr" else f"{LABEL[idx]} drops most"
                out.append({"time_s": shots[drop[0]]["onset_s"], "shot": drop[0], "audience": aud, "kind": kind,
                            "text": f"At shot {drop[0] + 1} {what} for {aud}."})  # fmt: skip
    return sorted(out, key=lambda m: (m["time_s"], m["audience"]))


def summary_sentences(result: dict) -> list[str]:
    """A few plain sentences: content at a glance, then response per audience."""
    shots = result["shots"]
    dur = result["ad"]["duration_s"]
    lines = [f"{len(shots)} shots in {dur:.1f} s (one cut every {dur / max(len(shots), 1):.1f} s on average)."]
    for a in result["audiences"]:
        aud = a["id"]
        en = _series(result, aud, "en")
        if en:
            peak = max(en, key=lambda x: x[1])
            low = min(en, key=lambda x: x[1])
            lines.append(f"For {aud}: engagement peaks in shot {peak[0] + 1} and is lowest in shot {low[0] + 1}.")
        eff = next((e for e in result["effects"] if e["group"] == aud), None)
        if eff:
            lines.append(f"For {aud}: predicted CTR {eff['ctr']:.2%} ({eff['ctr_lo']:.2%}–{eff['ctr_hi']:.2%}), "
                         f"completion {eff['completion']:.0%} ({eff['completion_lo']:.0%}–{eff['completion_hi']:.0%}).")  # fmt: skip
    return lines
