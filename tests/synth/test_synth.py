import hashlib
import json
import subprocess
import sys

import cv2
import decord
import mne
import mne_bids
import numpy as np
import pandas as pd
import pytest

from tests.conftest import compose


def _digest(root):
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_same_seed_gives_byte_identical_study(tiny_study, tmp_path):
    from hmllm.synth import generate_study

    again = generate_study(
        compose("synth", ["size=tiny", f"paths.data_root={tmp_path}", "synth.progress=false"])
    )
    a, b = _digest(tiny_study), _digest(again)
    assert a.keys() == b.keys() and len(a) > 40
    assert a == b


def test_other_seed_differs(tiny_study, tmp_path):
    from hmllm.synth import generate_study

    other = generate_study(
        compose(
            "synth",
            ["size=tiny", f"paths.data_root={tmp_path}", "synth.seed=1", "synth.progress=false"],
        )
    )
    a, b = _digest(tiny_study), _digest(other)
    assert a["stimuli/ad000.mp4"] != b["stimuli/ad000.mp4"]


def test_layout_and_tables_follow_the_contract(tiny_study):
    ses = pd.read_csv(tiny_study / "sessions.tsv", sep="\t")
    assert len(ses) == 6 and set(ses.columns) >= {
        "participant_id",
        "ad_id",
        "eeg_file",
        "eeg_format",
        "eeg_sfreq_hz",
        "baseline_eeg_file",
        "et_file",
        "et_format",
        "et_sfreq_hz",
    }
    people = pd.read_csv(tiny_study / "bids" / "participants.tsv", sep="\t")
    assert people["participant_id"].str.fullmatch(r"sub-[0-9a-f]{8}").all()
    assert set(people.columns) >= {"age", "age_band", "gender", "city_tier"}
    out = pd.read_csv(tiny_study / "outcomes.tsv", sep="\t")
    assert (out["clicks"] <= out["impressions"]).all() and (
        out["completions"] <= out["impressions"]
    ).all()
    for name in (
        "shots",
        "latent_second",
        "latent_shot",
        "group_shot",
        "ads",
        "fixations",
        "artefacts",
    ):
        assert len(pd.read_parquet(tiny_study / "truth" / f"{name}.parquet"))
    lat = pd.read_parquet(tiny_study / "truth" / "latent_shot.parquet")
    assert lat["attention"].between(0, 1).all() and (lat["engagement"] >= 0).all()
    meta = json.loads((tiny_study / "study.json").read_text())
    assert meta["seed"] == 0 and meta["generator"] == "hmllm.synth"


def test_eeg_files_open_with_mne_bids_and_carry_video_markers(tiny_study):
    ses = pd.read_csv(tiny_study / "sessions.tsv", sep="\t")
    assert set(ses["eeg_format"]) == {"edf", "brainvision"}
    ads = pd.read_csv(tiny_study / "stimuli" / "ads.tsv", sep="\t").set_index("ad_id")
    for row in ses.itertuples():
        bp = mne_bids.get_bids_path_from_fname(tiny_study / row.eeg_file)
        raw = mne_bids.read_raw_bids(bp, verbose=False)
        assert raw.info["sfreq"] == row.eeg_sfreq_hz and len(raw.ch_names) == 32
        ann = {a["description"]: a["onset"] for a in raw.annotations}
        # the offset marker sits one video length (+ clock drift) after the onset
        assert ann["video_offset"] - ann["video_onset"] == pytest.approx(
            ads.loc[row.ad_id, "duration_s"], rel=1e-3
        )
    base = mne_bids.read_raw_bids(
        mne_bids.get_bids_path_from_fname(tiny_study / ses["baseline_eeg_file"].iloc[0]),
        verbose=False,
    )
    assert base.times[-1] >= 19


def test_eeg_artefacts_are_really_there(tiny_study):
    ses = pd.read_csv(tiny_study / "sessions.tsv", sep="\t")
    art = pd.read_parquet(tiny_study / "truth" / "artefacts.parquet")
    row = ses.iloc[0]
    raw = mne_bids.read_raw_bids(
        mne_bids.get_bids_path_from_fname(tiny_study / row.eeg_file), verbose=False
    )
    raw.load_data()
    psd = raw.compute_psd(fmin=40, fmax=60, verbose=False)
    freqs = psd.freqs
    spec = psd.get_data().mean(0)
    assert freqs[np.argmax(spec)] == pytest.approx(50, abs=0.6)  # line noise peak
    blinks = json.loads(
        art[(art.participant_id == row.participant_id) & (art.ad_id == row.ad_id)].blinks_s.iloc[0]
    )
    fp1 = raw.get_data(picks=["Fp1"])[0]
    o1 = raw.get_data(picks=["O1"])[0]
    i = int((blinks[1] + 0.15) * raw.info["sfreq"])
    assert fp1[i] - np.median(fp1) > 50e-6  # blink peak at Fp1 (Volts) ...
    assert abs(o1[i] - np.median(o1)) < 50e-6  # ... not at the back of the head


def test_gaze_files_open_with_their_readers(tiny_study):
    ses = pd.read_csv(tiny_study / "sessions.tsv", sep="\t")
    for row in ses.itertuples():
        path = tiny_study / row.et_file
        side = json.loads(path.with_suffix(".json").read_text())
        assert side["sfreq_hz"] == row.et_sfreq_hz and len(side["video_rect_px"]) == 4
        if row.et_format == "eyelink_asc":
            raw = mne.io.read_raw_eyelink(path, verbose=False)
            assert raw.info["sfreq"] == row.et_sfreq_hz
            assert {"video_onset", "video_offset", "fixation"} <= set(raw.annotations.description)
        else:
            df = pd.read_csv(path, sep="\t")
            assert {
                "Recording timestamp [μs]",
                "Gaze point X [DACS px]",
                "Validity left",
                "Event",
            } <= set(df.columns)
            assert set(df["Event"].dropna()) == {"video_onset", "video_offset"}


def test_videos_decode_and_cuts_are_where_the_truth_says(tiny_study):
    shots = pd.read_parquet(tiny_study / "truth" / "shots.parquet")
    ads = pd.read_csv(tiny_study / "stimuli" / "ads.tsv", sep="\t")
    for ad in ads.itertuples():
        vr = decord.VideoReader(str(tiny_study / "stimuli" / ad.file))
        assert len(vr) == round(ad.duration_s * ad.fps) and vr.get_avg_fps() == pytest.approx(
            ad.fps
        )
        frames = vr.get_batch(list(range(len(vr)))).asnumpy().astype(np.float32)
        diff = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
        cuts = shots[(shots.ad_id == ad.ad_id) & (shots.transition_in == "cut")]["onset_frame"]
        big = set(np.flatnonzero(diff > np.percentile(diff, 75) * 3) + 1)
        for f in cuts:
            assert f in big, f"cut at frame {f} of {ad.ad_id} not visible"
            assert diff[f - 1] > 4 * np.median(diff)


def test_face_cascade_finds_the_drawn_faces(tiny_study):
    shots = pd.read_parquet(tiny_study / "truth" / "shots.parquet")
    casc = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    hits = {True: [], False: []}
    for sh in shots.itertuples():
        vr = decord.VideoReader(str(tiny_study / "stimuli" / f"{sh.ad_id}.mp4"))
        frame = vr[(sh.onset_frame + sh.offset_frame) // 2].asnumpy()
        faces = casc.detectMultiScale(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), 1.1, 4)
        hits[bool(sh.has_face)].append(len(faces) > 0)
    assert hits[True] and all(hits[True])
    assert not any(hits[False])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("synth.n_ads=-1", "synth.n_ads must be an integer >= 1, got -1"),
        ("synth.attributes.gender={male: 0.5, robot: 0.5}", "robot"),  # Hydra refuses the new key
        ("~synth.attributes.gender", "synth.attributes must include 'gender'"),
        ("synth.ads_per_participant=5", "cannot exceed synth.n_ads"),
        ("synth.eeg.formats=[edf,xdf]", "synth.eeg.formats has unknown ['xdf']"),
        ("synth.n_ads=8", "some ads would have no viewers"),
    ],
    ids=[
        "negative-count",
        "unknown-attribute-value",
        "missing-attribute",
        "too-many-ads",
        "unknown-format",
        "unwatched-ads",
    ],
)
def test_bad_config_is_one_clear_line(tmp_path, override, message):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "hmllm",
            "synth",
            "size=tiny",
            f"paths.data_root={tmp_path}",
            override,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode in (1, 2)  # 2: our validation, 1: Hydra's own override check
    assert message in res.stderr and "Traceback" not in res.stderr


def test_unknown_attribute_value_is_rejected_by_validation():
    from hmllm.errors import ConfigError
    from hmllm.synth.spec import validate

    cfg = compose("synth", ["size=tiny"])
    cfg.synth.attributes.age_band = {"21-25": 0.5, "60-99": 0.5}
    with pytest.raises(
        ConfigError, match=r"synth.attributes.age_band has unknown value\(s\) \['60-99'\]"
    ):
        validate(cfg)


@pytest.mark.parametrize(
    ("table", "index", "terms", "message"),
    [
        ("interactions", "engagement", {"motion*height": 0.5}, "audience one of"),
        ("interactions", "valence", {"sparkle*age": 0.5}, "unknown content feature 'sparkle'"),
        ("effects", "attention", {"loudness": 0.3}, "unknown content feature 'loudness'"),
        ("effects", "arousal", {"motion": 0.3}, "unknown latent index"),
    ],
)
def test_unknown_effect_names_are_rejected(table, index, terms, message):
    from omegaconf import open_dict

    from hmllm.errors import ConfigError
    from hmllm.synth.spec import validate

    cfg = compose("synth", ["size=tiny"])
    with open_dict(cfg):
        cfg.synth[table][index] = terms
    with pytest.raises(ConfigError, match=message):
        validate(cfg)


def test_extra_attribute_is_accepted_and_drawn():
    from hmllm.synth.spec import validate
    from hmllm.synth.world import make_participants

    cfg = compose("synth", ["size=tiny", "+synth.attributes.income={low: 0.4, high: 0.6}"])
    s = validate(cfg)
    people = make_participants({**s, "n_participants": 200}, seed=0)
    assert list(people.columns[-4:]) == ["gender", "age_band", "city_tier", "income"]
    assert set(people["income"]) == {"low", "high"}
    assert 0.3 < (people["income"] == "low").mean() < 0.5


def test_unwritable_root_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = subprocess.run(
        [sys.executable, "-m", "hmllm", "synth", "size=tiny", f"paths.data_root={blocker}/sub"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and "is not a writable directory" in res.stderr


@pytest.mark.parametrize("size", ["tiny", "demo", "paper"])
def test_every_size_preset_is_a_valid_config(size):
    from hmllm.synth.spec import validate

    s = validate(compose("synth", [f"size={size}"]))
    assert s["ads_per_participant"] <= s["n_ads"]


def _three_shots() -> pd.DataFrame:
    return pd.DataFrame({
        "has_face": [True, True, False], "has_product": [False, False, False],
        "has_text": [False, False, True], "audio": ["music", "music", "speech"],
        "scene": ["studio", "studio", "city"],
    })  # fmt: skip


def test_novelty_is_the_share_of_content_changed_across_the_cut():
    from hmllm.synth.world import novelty

    assert novelty(_three_shots()).tolist() == [1.0, 0.0, 0.8]  # face, text, audio, scene changed


def test_context_effects_add_novelty_then_carry_over():
    from hmllm.synth.world import novelty, with_context

    z, novel = np.array([1.0, 0.0, 0.0]), novelty(_three_shots())
    s = {"context": {"novelty": {"engagement": 2.0}, "novelty_centre": 0.5,
                     "carryover": {"engagement": 0.5}}}  # fmt: skip
    # novelty: [1, 0, 0.8] - 0.5 -> z += [1, -1, 0.6]; carry-over 0.5: [2, 0.5, 0.55]
    assert np.allclose(with_context(z, novel, s, "engagement"), [2.0, 0.5, 0.55])
    assert np.array_equal(with_context(z, novel, s, "valence"), z)  # no terms: unchanged
    assert np.array_equal(with_context(z, novel, {}, "engagement"), z)


def test_bad_context_config_is_rejected():
    from omegaconf import open_dict

    from hmllm.errors import ConfigError
    from hmllm.synth.spec import validate

    cfg = compose("synth", ["size=tiny"])
    with open_dict(cfg):
        cfg.synth.context.carryover = {"valence": 1.5}
    with pytest.raises(ConfigError, match=r"carryover.valence must be in \[0, 1\)"):
        validate(cfg)
    with open_dict(cfg):
        cfg.synth.context = {"novelty": {"arousal": 1.0}}
    with pytest.raises(ConfigError, match="unknown latent index"):
        validate(cfg)
