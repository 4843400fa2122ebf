"""`hmllm prepare size=tiny` end to end on the generated study: every stage, contract §4, oracle."""

from __future__ import annotations

import numpy as np
import pytest

from hmllm.data import load_prepared

pytestmark = (
    pytest.mark.slow
)  # generates a study and runs video + EEG + gaze (minutes on 2 shared cores)


def test_tiny_prepared_follows_the_contract(tiny_prepared):
    p = load_prepared(tiny_prepared)
    lab = p.labels
    assert list(lab.columns[:7]) == ["ad_id", "shot", "group", "n_participants", "en", "em", "emr"]
    for idx in ("en", "em", "emr"):
        assert lab[f"{idx}_class"].dtype == np.int8
        assert lab[f"{idx}_class"].max() < len(p.classes[idx]["names"])
    assert (lab.groupby("ad_id")["split"].nunique() == 1).all()
    assert (lab["n_participants"] >= p.meta["k_anonymity"]).all()
    assert p.groups.set_index("group").loc["all", "level"] == "P1"
    assert np.allclose(p.saliency["maps"].sum(axis=(1, 2)), 1.0, atol=1e-4)
    # the oracle covers exactly the labelled cells, and the measured labels track it
    assert p.oracle is not None and len(p.oracle) == len(lab)
    both = lab.merge(p.oracle, on=["ad_id", "shot", "group"], suffixes=("", "_oracle"))
    assert both["emr"].corr(both["emr_oracle"]) > 0.3
    assert (p.root / "instructions.jsonl").stat().st_size > 0
