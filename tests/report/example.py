"""A hand-written example score result (with a real tiny mp4 and keyframes), independent of the model."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

# shot boundaries of the example ad, seconds; colours differ so thumbnails are distinguishable
SHOTS = [(0.0, 2.0), (2.0, 4.5), (4.5, 6.0)]
COLOURS = [(200, 40, 40), (40, 160, 60), (40, 60, 200)]
FPS = 10
W, H = 96, 54
GROUPS = ["all", "female_26-30"]
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def write_mp4(path: Path) -> Path:
    """Encode the example ad with PyAV (H.264, 6 s, 3 flat-colour shots)."""
    import av

    with av.open(str(path), mode="w", format="mp4") as c:
        s = c.add_stream("libx264", rate=FPS)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        for (a, b), col in zip(SHOTS, COLOURS, strict=True):
            for _ in range(round((b - a) * FPS)):
                img = np.empty((H, W, 3), np.uint8)
                img[:] = col
                for packet in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


def example_result(name: str = "spring_sale.mp4", transcript: str = "Fresh deals this spring",
                   video_file: str = "video.mp4", seed: int = 0) -> dict:  # fmt: skip
    """A schema-valid result with values that follow a known pattern (shot 2 = engagement peak)."""
    rng = np.random.default_rng(seed)
    classes = {"en": ["non-cognitive", "cognitive"], "em": ["negative", "neutral", "positive"],
               "emr": ["partially attended", "fully attended"]}  # fmt: skip
    base = {"en": [0.2, 0.9, 0.4], "em": [-0.3, 0.5, 0.1], "emr": [0.8, 0.95, 0.55]}
    preds = []
    for gi, g in enumerate(GROUPS):
        for k, names in classes.items():
            for s in range(len(SHOTS)):
                v = base[k][s] + 0.05 * gi
                p = rng.dirichlet(np.ones(len(names)))
                preds.append({"shot": s, "audience": g, "index": k, "class_name": names[int(p.argmax())],
                              "probabilities": {n: float(q) for n, q in zip(names, p, strict=True)},
                              "value": v, "value_lo": v - 0.15, "value_hi": v + 0.15})  # fmt: skip
    times = [round(float(t), 3) for t in np.arange(0, SHOTS[-1][1] + 0.01, 0.25)]
    # the last sample is the end of the ad, as in the pipeline's curves
    shot_of = [max(i for i, (a, _) in enumerate(SHOTS) if a <= t) for t in times]
    curves = {"times_s": times, "groups": {g: {k: [base[k][s] + 0.05 * gi for s in shot_of] for k in classes}
                                           for gi, g in enumerate(GROUPS)}}  # fmt: skip
    result = {
        "schema_version": "1.0", "generated_by": "hmllm test",
        "ad": {"name": name, "sha256": hashlib.sha256(name.encode()).hexdigest(), "duration_s": SHOTS[-1][1],
               "fps": float(FPS), "width": W, "height": H, "has_audio": False, "video_file": video_file},
        "model": {"checkpoint": "best.pt", "model": "hypergraph", "n_train_ads": 12, "k_anonymity": 5,
                  "best_val_p2_acc": 0.61, "seed": 0},
        "audiences": [{"id": g, "train_median_participants": 8 + i} for i, g in enumerate(GROUPS)],
        "classes": classes,
        "shots": [{"shot": i, "onset_s": a, "offset_s": b, "keyframe": f"keyframes/shot{i:03d}.jpg",
                   "thumbnail": f"keyframes/thumb_shot{i:03d}.jpg", "description": "a calm shot",
                   "transcript": transcript if i == 1 else ""} for i, (a, b) in enumerate(SHOTS)],
        "predictions": preds,
        "effects": [{"group": g, "ctr": 0.021 + 0.002 * i, "ctr_lo": 0.015, "ctr_hi": 0.03, "completion": 0.62,
                     "completion_lo": 0.5, "completion_hi": 0.71} for i, g in enumerate(GROUPS)],
        "curves": curves,
        "explanations": [{"shot": s, "audience": g, "index": k,
                          "top_features": [{"feature": "motion", "contribution": 0.4}, {"feature": "face_count", "contribution": -0.2}]}
                         for s in range(len(SHOTS)) for g in GROUPS for k in classes],
        "heatmaps": [{"shot": s, "audience": g, "file": f"heatmaps/shot{s:03d}_{g}.png"} for s in range(len(SHOTS)) for g in GROUPS],
        "training_effects": {"ctr": [0.01, 0.015, 0.02, 0.025, 0.03], "completion": [0.4, 0.5, 0.55, 0.6, 0.7]},
    }  # fmt: skip
    from hmllm.score.moments import key_moments, summary_sentences

    result["key_moments"] = key_moments(result, hook_s=3.0)
    result["summary"] = summary_sentences(result)
    return result


def write_example(folder: Path, **kw) -> Path:
    """Write ``result.json`` + video + keyframes + heatmaps into ``folder``; return the result path."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    result = example_result(**kw)
    write_mp4(folder / result["ad"]["video_file"])
    (folder / "keyframes").mkdir(exist_ok=True)
    (folder / "heatmaps").mkdir(exist_ok=True)
    for s, col in zip(result["shots"], COLOURS, strict=True):
        img = np.empty((H, W, 3), np.uint8)
        img[:] = col[::-1]  # OpenCV writes BGR
        cv2.imwrite(str(folder / s["keyframe"]), img)
        cv2.imwrite(str(folder / s["thumbnail"]), img)
    for h in result["heatmaps"]:
        cv2.imwrite(str(folder / h["file"]), np.full((H, W, 3), 128, np.uint8))
    path = folder / "result.json"
    path.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return path


REPORT_CFG = {"palette": "redgreen", "inline_video_max_mb": 25, "static": True, "static_dpi": 60,
              "max_storyboard_shots": 12}  # fmt: skip
