"""Validate the ``synth`` config once, at the door, with messages that name the key and the fix."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from hmllm.errors import ConfigError
from hmllm.synth.world import CONTENT, INDICES

KNOWN_ATTRIBUTE_VALUES = {
    "gender": {"male", "female"},
    "age_band": {"under20", "21-25", "26-30", "31-35", "36-40", "41-45", "46-50", "over50"},
    "city_tier": {"tier1", "tier2", "tier3", "tier4"},
}
# audience coordinates the content x audience interactions may use (see world.audience_vector)
AUDIENCE_TERMS = ("female", "age", "tier")
EEG_FORMATS = {"edf": "EDF", "brainvision": "BrainVision"}
GAZE_FORMATS = ("eyelink_asc", "tobii_tsv")


def _positive_int(s: dict, key: str, minimum: int = 1) -> int:
    value = s.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"synth.{key} must be an integer >= {minimum}, got {value!r}")
    return value


def _range(d: dict, key: str, path: str, lo: float = 0.0) -> tuple[float, float]:
    value = d.get(key)
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ConfigError(f"{path}.{key} must be a [low, high] pair, got {value!r}")
    a, b = float(value[0]), float(value[1])
    if not (lo <= a <= b):
        raise ConfigError(f"{path}.{key} must satisfy {lo} <= low <= high, got {value!r}")
    return a, b


def _check_effects(s: dict) -> None:
    """Reject effect and interaction names the generative model does not know."""
    for table in ("effects", "interactions"):
        missing = [i for i in INDICES if i not in s[table]]
        if missing:
            raise ConfigError(f"synth.{table} lacks {missing}; give each an entry (may be {{}})")
        for index, terms in s[table].items():
            if index not in INDICES:
                raise ConfigError(
                    f"synth.{table}.{index}: unknown latent index; allowed: {list(INDICES)}"
                )
            for name in terms or {}:
                feat, _, attr = str(name).partition("*")
                if table == "interactions" and (not attr or attr not in AUDIENCE_TERMS):
                    raise ConfigError(
                        f"synth.interactions.{index}.{name}: write <content>*<audience> with "
                        f"audience one of {list(AUDIENCE_TERMS)}"
                    )
                if feat not in CONTENT or (table == "effects" and attr):
                    raise ConfigError(
                        f"synth.{table}.{index}.{name}: unknown content feature {feat!r}; "
                        f"allowed: {list(CONTENT)}"
                    )


def _check_context(s: dict) -> None:
    """``synth.context``: novelty weights per index, carry-over shares in [0, 1)."""
    ctx = s.get("context") or {}
    unknown = set(ctx) - {"novelty", "novelty_centre", "carryover"}
    if unknown:
        raise ConfigError(
            f"synth.context has unknown key(s) {sorted(unknown)}; allowed: novelty, "
            "novelty_centre, carryover"
        )
    for table in ("novelty", "carryover"):
        for index, value in (ctx.get(table) or {}).items():
            if index not in INDICES:
                raise ConfigError(
                    f"synth.context.{table}.{index}: unknown latent index; allowed: {list(INDICES)}"
                )
            if table == "carryover" and not 0 <= float(value) < 1:
                raise ConfigError(
                    f"synth.context.carryover.{index} must be in [0, 1) (share of the previous "
                    f"shot carried over), got {value}"
                )


def validate(cfg: DictConfig) -> dict[str, Any]:
    """Return the synth config as a plain dict after checking every value a user can get wrong.

    Raises
    ------
    ConfigError
        Negative or zero counts, inverted ranges, unknown attribute values, probabilities that do
        not sum to 1, unknown file formats.
    """
    s: dict[str, Any] = OmegaConf.to_container(cfg.synth, resolve=True)  # type: ignore[assignment]
    for key in ("n_ads", "n_participants", "ads_per_participant", "n_jobs"):
        _positive_int(s, key)
    _positive_int(s, "seed", minimum=0)
    if s["ads_per_participant"] > s["n_ads"]:
        raise ConfigError(
            f"synth.ads_per_participant ({s['ads_per_participant']}) cannot exceed synth.n_ads "
            f"({s['n_ads']}); lower it or add ads"
        )
    if s["n_participants"] * s["ads_per_participant"] < s["n_ads"]:
        raise ConfigError(
            f"synth.n_participants x synth.ads_per_participant ({s['n_participants']} x "
            f"{s['ads_per_participant']}) is fewer views than synth.n_ads ({s['n_ads']}): some ads "
            "would have no viewers; add participants, raise ads_per_participant or lower n_ads"
        )
    v = s["video"]
    _range(v, "duration_s", "synth.video", lo=1.0)
    lo, hi = _range(v, "shots", "synth.video", lo=1)
    if v["min_shot_s"] * hi > v["duration_s"][0]:
        raise ConfigError(
            f"synth.video.shots max {int(hi)} x min_shot_s {v['min_shot_s']} s does not fit in the "
            f"shortest ad ({v['duration_s'][0]} s); lower shots or min_shot_s"
        )
    for key in ("width_px", "height_px"):
        if int(v[key]) < 64 or int(v[key]) % 2:
            raise ConfigError(f"synth.video.{key} must be an even number >= 64, got {v[key]}")
    probs = v["transitions"]
    if set(probs) - {"cut", "fade", "dissolve"} or abs(sum(probs.values()) - 1) > 1e-6:
        raise ConfigError(
            f"synth.video.transitions must give cut/fade/dissolve probabilities summing to 1, got {probs}"
        )
    attrs = s["attributes"]
    for required in ("gender", "age_band"):
        if required not in attrs:
            raise ConfigError(f"synth.attributes must include {required!r} (P2 groups need it)")
    for name, dist in attrs.items():
        if not isinstance(dist, dict) or not dist:
            raise ConfigError(f"synth.attributes.{name} must map values to probabilities")
        known = KNOWN_ATTRIBUTE_VALUES.get(name)
        if known is not None and set(dist) - known:
            raise ConfigError(
                f"synth.attributes.{name} has unknown value(s) {sorted(set(dist) - known)}; "
                f"allowed: {sorted(known)}"
            )
        if (
            any(float(p) < 0 for p in dist.values())
            or abs(sum(map(float, dist.values())) - 1) > 1e-6
        ):
            raise ConfigError(f"synth.attributes.{name} probabilities must be >= 0 and sum to 1")
    _check_effects(s)
    _check_context(s)
    bad = [f for f in s["eeg"]["formats"] if f not in EEG_FORMATS]
    if bad:
        raise ConfigError(f"synth.eeg.formats has unknown {bad}; allowed: {sorted(EEG_FORMATS)}")
    bad = [f for f in s["gaze"]["formats"] if f not in GAZE_FORMATS]
    if bad:
        raise ConfigError(f"synth.gaze.formats has unknown {bad}; allowed: {list(GAZE_FORMATS)}")
    for sf in s["eeg"]["sfreq_choices"]:
        if not 100 <= float(sf) <= 5000:
            raise ConfigError(f"synth.eeg.sfreq_choices must lie in 100–5000 Hz, got {sf}")
    for fmt in s["gaze"]["formats"]:
        rates = s["gaze"]["sfreq_hz"].get(fmt)
        if not rates:
            raise ConfigError(f"synth.gaze.sfreq_hz needs a list of rates for format {fmt!r}")
        for sf in rates:
            if not 30 <= float(sf) <= 2000:
                raise ConfigError(f"synth.gaze.sfreq_hz.{fmt} must lie in 30–2000 Hz, got {sf}")
    return s
