import pandas as pd

from eeg.preprocess import preprocess
from eeg.qc import plot_recording
from tests.eeg.conftest import make_raw


def test_qc_figure_written(tmp_path, eeg_cfg):
    raw = make_raw(duration_s=12.0, video_s=8.0, bad_channel="T7")
    clean, q = preprocess(raw, eeg_cfg["preprocess"])
    per_sec = pd.DataFrame({"second": list(range(8)) * 2, "index": ["engagement"] * 8 + ["valence"] * 8,
                            "value": [float(i) for i in range(16)], "valid": [True] * 15 + [False]})  # fmt: skip
    shots = pd.DataFrame({"shot": [0, 1], "onset_s": [0.0, 4.0], "offset_s": [4.0, 8.0]})
    out = tmp_path / "qc.png"
    plot_recording(clean, q.bad_channels, per_sec, shots, title="sub-01 / ad000", out=out)
    assert out.stat().st_size > 10_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
