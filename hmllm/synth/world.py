"""The synthetic world: ads made of shots, participants, who watched what, and the latent truth.

Latent responses are built on a 10 Hz grid per (participant, ad):
``z(t) = content effects + content x audience interactions + ad offset + participant offset and
slopes + AR(1) noise``, with context effects across cuts (novelty, carry-over; :func:`with_context`),
smoothed into each new shot, then mapped to the paper's scales:
engagement = max(0, mean + sd z) (EN ≈ 0–3), valence = sd z (EM ≈ −8…+8), attention =
sigmoid(bias + gain z − decay t) (EMR ∈ [0, 1]).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

GRID_HZ = 10  # resolution of the latent time grid (Hz); indices are defined per second or shot
INDICES = ("engagement", "valence", "attention")
CONTENT = ("brightness", "motion", "face", "text", "product", "music", "speech", "silence",
           "studio", "indoor", "outdoor", "city")  # fmt: skip
SCENES = ("studio", "indoor", "outdoor", "city")
AUDIO = ("music", "speech", "silence")
AGE_MID = {"under20": 18, "21-25": 23, "26-30": 28, "31-35": 33, "36-40": 38, "41-45": 43,
           "46-50": 48, "over50": 55}  # fmt: skip


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    """A generator seeded by (seed, *keys): independent streams, order-free in parallel runs."""
    return np.random.default_rng([seed, *keys])


@dataclass
class Ad:
    """One ad: its frames' timing and its shots' content (a row per shot in ``shots``)."""

    ad_id: str
    index: int
    fps: int
    n_frames: int
    industry: str
    shots: pd.DataFrame
    offsets: dict[str, float] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        """Duration in seconds (n_frames / fps)."""
        return self.n_frames / self.fps


def make_ad(index: int, s: dict, seed: int) -> Ad:
    """Draw one ad: fps, length, shot boundaries (frames), transitions and shot content."""
    rng = rng_for(seed, 1, index)
    v = s["video"]
    fps = int(rng.choice(v["fps_choices"]))
    dur = float(rng.uniform(*v["duration_s"]))
    n_frames = int(round(dur * fps))
    n_shots = int(rng.integers(v["shots"][0], v["shots"][1] + 1))
    min_frames = int(np.ceil(v["min_shot_s"] * fps))
    spare = n_frames - n_shots * min_frames
    lengths = min_frames + np.floor(rng.dirichlet(np.full(n_shots, 1.5)) * spare).astype(int)
    lengths[-1] += n_frames - lengths.sum()
    onsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    kinds = list(v["transitions"])
    probs = np.array([v["transitions"][k] for k in kinds], float)
    rows = []
    for k in range(n_shots):
        audio = str(rng.choice(AUDIO, p=[0.5, 0.3, 0.2]))
        has_face = bool(rng.random() < 0.4)
        has_product = bool(rng.random() < 0.35) and not has_face
        has_text = bool(rng.random() < 0.35)
        if has_face:
            sx, sy = rng.uniform(0.3, 0.7), rng.uniform(0.35, 0.6)
        elif has_product:
            sx, sy = rng.uniform(0.35, 0.65), rng.uniform(0.4, 0.6)
        else:
            sx, sy = rng.uniform(0.2, 0.8), rng.uniform(0.25, 0.75)
        rows.append({
            "ad_id": f"ad{index:03d}", "shot": k,
            "onset_frame": int(onsets[k]), "offset_frame": int(onsets[k] + lengths[k]),
            "onset_s": onsets[k] / fps, "offset_s": (onsets[k] + lengths[k]) / fps,
            "transition_in": "start" if k == 0 else str(rng.choice(kinds, p=probs)),
            "scene": str(rng.choice(SCENES)), "hue": float(rng.uniform(0, 1)),
            "brightness": float(rng.uniform(0.25, 0.9)), "motion": float(rng.beta(1.5, 1.5)),
            "has_face": has_face, "has_text": has_text, "has_product": has_product,
            "audio": audio, "loudness_db": float(-40.0 if audio == "silence" else rng.uniform(-24, -10)),
            "salient_x": float(sx), "salient_y": float(sy),
        })  # fmt: skip
    shots = pd.DataFrame(rows)
    ad = Ad(f"ad{index:03d}", index, fps, n_frames, str(rng.choice(v["industries"])), shots)
    ad.offsets = {name: float(rng.normal(0, s["ad_sd"])) for name in INDICES}
    return ad


def content_matrix(shots: pd.DataFrame) -> np.ndarray:
    """Centred content features per shot, columns in :data:`CONTENT` order; shape (n_shots, 12)."""
    cols = [
        shots["brightness"] - 0.55,
        shots["motion"] - 0.5,
        shots["has_face"].astype(float),
        shots["has_text"].astype(float),
        shots["has_product"].astype(float),
        *[(shots["audio"] == a).astype(float) for a in AUDIO],
        *[(shots["scene"] == sc).astype(float) for sc in SCENES],
    ]
    return np.column_stack([np.asarray(c, float) for c in cols])


def audience_vector(gender: str, age_band: str, city_tier: str | None) -> dict[str, float]:
    """Audience coordinates used by the interactions: female, age and tier (centred, scaled)."""
    tier = 2.5 if not city_tier else float(str(city_tier).removeprefix("tier"))
    female = {"female": 0.5, "male": -0.5}.get(gender, 0.0)
    return {"female": female, "age": (AGE_MID[age_band] - 30) / 6, "tier": (tier - 2.5) / 1.2}


def shot_z(content: np.ndarray, audience: dict[str, float], s: dict, index: str) -> np.ndarray:
    """Noise-free latent z per shot for one audience (content + interactions), shape (n_shots,)."""
    z = np.zeros(len(content))
    for name, w in s["effects"][index].items():
        z += w * content[:, CONTENT.index(name)]
    gain = s["latent"]["audience_gain"]
    for key, w in s["interactions"][index].items():
        feat, attr = key.split("*")
        z += gain * w * content[:, CONTENT.index(feat)] * audience[attr]
    return z


NOVELTY_ATTRS = ("has_face", "has_product", "has_text", "audio", "scene")  # compared across a cut


def novelty(shots: pd.DataFrame) -> np.ndarray:
    """Share of :data:`NOVELTY_ATTRS` that changed from the previous shot (1 for the first), (n_shots,)."""
    attrs = shots[list(NOVELTY_ATTRS)].astype(str).to_numpy()
    out = np.ones(len(shots))
    out[1:] = (attrs[1:] != attrs[:-1]).mean(axis=1)
    return out


def with_context(z_shot: np.ndarray, novel: np.ndarray, s: dict, index: str) -> np.ndarray:
    """Add the effects of what came before: the orienting response to novelty, then carry-over.

    ``novel`` is :func:`novelty` of the ad's shots (computed once per ad by the caller).

    ``z_k += w_novelty (novelty_k - centre)`` (viewers orient to an unrelated cut and habituate to
    repeated content), then ``z_k = (1 - rho) z_k + rho z_{k-1}`` (affective inertia). A model that
    sees one shot at a time cannot recover either; both are zero when ``synth.context`` is.
    """
    ctx = s.get("context") or {}
    w = float((ctx.get("novelty") or {}).get(index, 0.0))
    rho = float((ctx.get("carryover") or {}).get(index, 0.0))
    z = z_shot + w * (novel - float(ctx.get("novelty_centre", 0.5))) if w else z_shot
    if rho:
        z = z.copy()
        for k in range(1, len(z)):
            z[k] = (1 - rho) * z[k] + rho * z[k - 1]
    return z


def grid_shot_index(ad: Ad) -> np.ndarray:
    """Shot number of each 10 Hz grid sample of the ad."""
    t = np.arange(int(np.ceil(ad.duration_s * GRID_HZ))) / GRID_HZ
    return np.searchsorted(ad.shots["onset_s"].to_numpy(), t, side="right") - 1


def smooth_into_shots(values: np.ndarray, shot_idx: np.ndarray, tau_s: float) -> np.ndarray:
    """Exponential settling of a piecewise-constant series (responses lag a cut by ~tau)."""
    target = values[shot_idx]
    if tau_s <= 0:
        return target
    alpha = 1 - np.exp(-1 / (GRID_HZ * tau_s))
    out = np.empty_like(target)
    out[0] = target[0]
    for i in range(1, len(target)):
        out[i] = out[i - 1] + alpha * (target[i] - out[i - 1])
    return out


def to_scale(z: np.ndarray, index: str, t_s: np.ndarray, s: dict) -> np.ndarray:
    """Map latent z onto the paper's scale of ``index``."""
    lat = s["latent"]
    if index == "engagement":
        return np.maximum(0.0, lat["engagement_mean"] + lat["engagement_sd"] * z)
    if index == "valence":
        return lat["valence_sd"] * z
    logit = lat["attention_bias"] + lat["attention_gain"] * z - s["attention_decay_per_s"] * t_s
    return 1.0 / (1.0 + np.exp(-logit))


def make_participants(s: dict, seed: int) -> pd.DataFrame:
    """Participants with pseudonymised BIDS ids and attributes drawn from the config."""
    rng = rng_for(seed, 2)
    rows = []
    for i in range(s["n_participants"]):
        label = hashlib.sha256(f"hmllm-synth-{seed}-{i}".encode()).hexdigest()[:8]
        row = {"participant_id": f"sub-{label}"}
        for name, dist in s["attributes"].items():
            keys = list(dist)
            row[name] = str(rng.choice(keys, p=np.array([dist[k] for k in keys], float)))
        band = row["age_band"]
        lo, hi = {"under20": (16, 20), "over50": (51, 60)}.get(band, (0, 0))
        if not hi:
            lo, hi = (int(x) for x in band.split("-"))
        row["age"] = int(rng.integers(lo, hi + 1))
        rows.append(row)
    df = pd.DataFrame(rows)
    return df[["participant_id", "age", *s["attributes"]]]


def assign_ads(s: dict, seed: int) -> list[list[int]]:
    """Which ads each participant watches: random subsets balanced across ads."""
    rng = rng_for(seed, 3)
    counts = np.zeros(s["n_ads"], int)
    out = []
    for _ in range(s["n_participants"]):
        order = rng.permutation(s["n_ads"])
        chosen = sorted(order[np.argsort(counts[order], kind="stable")][: s["ads_per_participant"]])
        counts[chosen] += 1
        out.append([int(a) for a in chosen])
    return out


def participant_effects(pid_index: int, s: dict, seed: int) -> dict[str, np.ndarray]:
    """Per-participant offset (scalar) and content slopes (vector) for each index."""
    rng = rng_for(seed, 4, pid_index)
    lat = s["latent"]
    return {
        name: np.concatenate([[rng.normal(0, lat["participant_sd"])],
                              rng.normal(0, lat["slope_sd"], len(CONTENT))])
        for name in INDICES
    }  # fmt: skip


def latent_series(ad: Ad, person: pd.Series, effects: dict, s: dict, rng) -> dict[str, np.ndarray]:
    """Latent per index on the 10 Hz grid for one participant watching one ad."""
    content = content_matrix(ad.shots)
    aud = audience_vector(person["gender"], person["age_band"], person.get("city_tier"))
    idx = grid_shot_index(ad)
    t = np.arange(len(idx)) / GRID_HZ
    lat = s["latent"]
    novel = novelty(ad.shots)
    out = {}
    for name in INDICES:
        z_shot = shot_z(content, aud, s, name) + ad.offsets[name] + content @ effects[name][1:]
        z_shot = with_context(z_shot, novel, s, name)
        z = smooth_into_shots(z_shot, idx, s["onset_smoothing_s"]) + effects[name][0]
        n_sec = int(np.ceil(len(t) / GRID_HZ)) + 1
        noise = np.zeros(n_sec)
        for i in range(1, n_sec):
            noise[i] = lat["ar_coef"] * noise[i - 1] + rng.normal(0, lat["second_noise_sd"])
        z = z + np.interp(t, np.arange(n_sec), noise)
        out[name] = to_scale(z, name, t, s)
    return out


def summarise(series: dict[str, np.ndarray], ad: Ad) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-second and per-shot means of the 10 Hz latent series."""
    idx = grid_shot_index(ad)
    sec = np.arange(len(idx)) // GRID_HZ
    per_sec = pd.DataFrame({"second": sec, **{k: series[k] for k in INDICES}})
    per_sec = per_sec.groupby("second", as_index=False).mean()
    per_shot = pd.DataFrame({"shot": idx, **{k: series[k] for k in INDICES}})
    per_shot = per_shot.groupby("shot", as_index=False).mean()
    return per_sec, per_shot


def group_expectations(
    ad: Ad, s: dict, seed: int, draws: int = 64, *, ad_offsets: bool = False
) -> pd.DataFrame:
    """Noise-free expectation per (shot, gender, age_band): the oracle's labels.

    Averages the transformed latent over ``draws`` simulated participants per cell (their random
    offsets/slopes and city tiers), without per-second noise. With ``ad_offsets=False`` (the noise
    ceiling) the ad's own random offset is left out too: it is drawn per ad and rendered nowhere in
    the video, so it is the best any model can predict from the ad's content and the audience.
    ``ad_offsets=True`` gives the expectation of an observer who also knows each ad's offset.
    """
    rng = rng_for(seed, 5, ad.index)
    content = content_matrix(ad.shots)
    novel = novelty(ad.shots)
    idx = grid_shot_index(ad)
    t = np.arange(len(idx)) / GRID_HZ
    tiers = s["attributes"].get("city_tier")
    rows = []
    for gender in s["attributes"]["gender"]:
        for band in s["attributes"]["age_band"]:
            acc = {k: np.zeros(len(ad.shots)) for k in INDICES}
            for _ in range(draws):
                tier = str(rng.choice(list(tiers), p=list(tiers.values()))) if tiers else None
                aud = audience_vector(gender, band, tier)
                for name in INDICES:
                    off = rng.normal(0, s["latent"]["participant_sd"])
                    slopes = rng.normal(0, s["latent"]["slope_sd"], len(CONTENT))
                    z_shot = shot_z(content, aud, s, name) + content @ slopes
                    z_shot = z_shot + (ad.offsets[name] if ad_offsets else 0.0)
                    z_shot = with_context(z_shot, novel, s, name)
                    z = smooth_into_shots(z_shot, idx, s["onset_smoothing_s"]) + off
                    val = to_scale(z, name, t, s)
                    acc[name] += np.bincount(
                        idx, weights=val, minlength=len(ad.shots)
                    ) / np.maximum(np.bincount(idx, minlength=len(ad.shots)), 1)
            for k in range(len(ad.shots)):
                rows.append({"ad_id": ad.ad_id, "shot": k, "gender": gender, "age_band": band,
                             **{n: acc[n][k] / draws for n in INDICES}})  # fmt: skip
    return pd.DataFrame(rows)
