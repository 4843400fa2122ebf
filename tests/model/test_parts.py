"""Hyperedges, the HGNN layer and the metrics on hand-checkable inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hmllm.metrics import accuracy, bootstrap_ci, ece, macro_f1, saliency_scores
from hmllm.model.hypergraph import (
    HGNNConv,
    audience_edges,
    incidence,
    semantic_edges,
    temporal_edges,
)


def test_temporal_edges_window():
    ad = torch.tensor([0, 0, 0, 0, 1])
    shot = torch.tensor([0, 1, 2, 3, 0])
    group = torch.zeros(5, dtype=torch.long)
    h = incidence(temporal_edges(ad, shot, group, window=1), 5)
    assert h.shape == (5, 5)
    assert h[:, 1].tolist() == [1, 1, 1, 0, 0]  # shot 1's edge: shots 0-2 of ad 0
    assert h[:, 4].tolist() == [0, 0, 0, 0, 1]  # other ad never joins


def test_audience_edges_link_gender_and_age():
    ad = torch.zeros(4, dtype=torch.long)
    shot = torch.zeros(4, dtype=torch.long)
    gender = torch.tensor([1, 1, 2, 2])
    age = torch.tensor([1, 2, 1, 2])
    h = incidence(audience_edges(ad, shot, gender, age), 4)
    edges = {tuple(c.tolist()) for c in h.T}
    assert (1.0, 1.0, 0.0, 0.0) in edges and (1.0, 0.0, 1.0, 0.0) in edges


def test_semantic_edges_stay_within_group():
    emb = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    group = torch.tensor([0, 0, 0, 1, 1, 1])
    h = incidence(semantic_edges(emb, group, k=1), 6)
    assert (h[:3, 3:] == 0).all() and (h[3:, :3] == 0).all()
    assert (h.sum(0) == 2).all()


def test_hgnn_conv_mixes_within_hyperedges_only():
    torch.manual_seed(0)
    conv = HGNNConv(4, dropout=0.0).eval()
    x = torch.randn(4, 4)
    h = torch.tensor([[1.0, 0], [1, 0], [0, 1], [0, 1]])
    y = conv(x, h)
    x2 = x.clone()
    x2[0] += 5.0  # change vertex 0: vertices 2, 3 (other hyperedge) must not move
    y2 = conv(x2, h)
    assert torch.allclose(y[2:], y2[2:]) and not torch.allclose(y[1], y2[1])


def test_accuracy_and_macro_f1():
    y = np.array([0, 0, 1, 1, -1])
    p = np.array([0, 1, 1, 1, 0])
    assert accuracy(y, p) == pytest.approx(0.75)
    # class 0: tp1 fp0 fn1 -> 2/3; class 1: tp2 fp1 fn0 -> 0.8
    assert macro_f1(y, p, 2) == pytest.approx((2 / 3 + 0.8) / 2)


def test_ece_zero_when_calibrated():
    y = np.array([0, 1] * 50)
    prob = np.tile([0.5, 0.5], (100, 1))
    assert ece(y, prob) == pytest.approx(0.0)
    assert ece(np.zeros(10, int), np.tile([0.1, 0.9], (10, 1))) == pytest.approx(0.9)


def test_saliency_scores_perfect_and_uniform():
    rng = np.random.default_rng(0)
    gt = rng.random((5, 48)) ** 4
    perfect = saliency_scores(gt, gt)
    assert perfect["CC"] == pytest.approx(1.0) and perfect["KL"] == pytest.approx(0.0, abs=1e-9)
    assert perfect["SIM"] == pytest.approx(1.0) and perfect["AUC"] > 0.99
    flat = saliency_scores(np.ones_like(gt), gt)
    assert flat["AUC"] == pytest.approx(0.5) and flat["NSS"] == pytest.approx(0.0)


def test_bootstrap_ci_is_seeded_and_brackets():
    correct = np.array([3, 5, 1, 4, 2, 5])  # per-ad correct cells
    total = np.full(6, 5)
    a = bootstrap_ci(correct, total, n=200, seed=1)
    assert a == bootstrap_ci(correct, total, n=200, seed=1)
    assert a[0] < correct.sum() / total.sum() < a[1]
    assert np.isnan(bootstrap_ci(np.array([]), np.array([]), n=10, seed=0)[0])


def test_paired_bootstrap_diff_detects_a_better_method():
    from hmllm.metrics import paired_bootstrap_diff

    rng = np.random.default_rng(0)
    total = rng.integers(20, 40, size=(3, 12)).astype(float)
    weak = np.stack([np.round(0.5 * total), total], -1)
    strong = np.stack([np.round(0.7 * total), total], -1)
    diff, lo, hi = paired_bootstrap_diff(strong, weak, n=500, seed=0)
    assert lo > 0 and lo <= diff <= hi
    assert paired_bootstrap_diff(weak, weak, n=500, seed=0) == (0.0, 0.0, 0.0)
    # seeded: the same call gives the same interval
    assert paired_bootstrap_diff(strong, weak, n=500, seed=0) == (diff, lo, hi)


def _tiny_model(**over):
    from hmllm.model.net import ResponseModel

    cfg = {"dim": 8, "dropout": 0.0, "use_audience": True, "fusion": "concat", "layers": 0,
           "edges": {"temporal": False, "audience": False, "semantic": False},
           "temporal_window": 1, "semantic_k": 2, "align_temperature": 0.2, **over}  # fmt: skip
    torch.manual_seed(0)
    model = ResponseModel(5, 4, 0, cfg, (2, 3))
    model.set_thresholds(
        {
            "en": {"thresholds": [0.0]},
            "em": {"thresholds": [-0.5, 0.5]},
            "emr": {"thresholds": [0.2]},
        }
    )
    return model


def test_ordinal_head_is_the_labels_cut_points_applied_to_the_value():
    model = _tiny_model(class_head="ordinal")
    value = torch.tensor([[-1.0, -2.0, 0.0], [1.0, 0.0, 1.0], [0.5, 2.0, -1.0]])
    logits = model.ordinal_logits(value)
    for i, k in enumerate(("en", "em", "emr")):
        probs = logits[f"logits_{k}"].exp()
        assert torch.allclose(probs.sum(1), torch.ones(3), atol=1e-5)
        thr = getattr(model, f"thr_{k}")
        assert torch.equal(probs.argmax(1), torch.bucketize(value[:, i].contiguous(), thr))
    with pytest.raises(ValueError, match="em needs 2 thresholds"):
        model.set_thresholds(
            {"en": {"thresholds": [0]}, "em": {"thresholds": [0]}, "emr": {"thresholds": [0]}}
        )


def test_wide_path_sees_audience_interactions_unless_video_only():
    assert _tiny_model(wide=True).wide_head.in_features == 5 * (1 + 4)
    assert _tiny_model(wide=True, use_audience=False).wide_head.in_features == 5
    assert _tiny_model().wide_head is None


def test_past_context_averages_only_earlier_shots_of_the_same_ad_and_group():
    from hmllm.model.hypergraph import past_context

    ad = torch.tensor([0, 0, 0, 0, 0, 1])
    shot = torch.tensor([0, 1, 2, 0, 1, 0])
    group = torch.tensor([0, 0, 0, 1, 1, 0])
    op = past_context(ad, shot, group, window=2)
    assert op[0].sum() == 0 and op[3].sum() == 0 and op[5].sum() == 0  # first shots: no past
    assert op[1].tolist() == [1, 0, 0, 0, 0, 0]
    assert op[2].tolist() == [0.5, 0.5, 0, 0, 0, 0]  # window 2: both earlier shots, averaged
    assert op[4].tolist() == [0, 0, 0, 1, 0, 0]  # the other group's own past only


def _causal_batch(n_shots: int = 4):
    from hmllm.model.net import Batch

    g = torch.Generator().manual_seed(1)
    n = n_shots
    return Batch(
        feats=torch.randn(n, 5, generator=g), audience=torch.ones(n, 4),
        ad=torch.zeros(n, dtype=torch.long), shot=torch.arange(n),
        group=torch.zeros(n, dtype=torch.long), gender=torch.zeros(n, dtype=torch.long),
        age=torch.zeros(n, dtype=torch.long), classes={}, values=torch.zeros(n, 3),
        signals=None, saliency=None, ad_targets=torch.zeros(1, 2),
    )  # fmt: skip


@pytest.mark.parametrize(("mode", "future_moves_past"), [("causal", False), ("undirected", True)])
def test_causal_temporal_edges_never_look_ahead(mode, future_moves_past):
    edges = {"temporal": True, "audience": False, "semantic": False}
    model = _tiny_model(fusion="hypergraph", layers=2, edges=edges, temporal_mode=mode, wide=True)
    model.eval()
    b = _causal_batch()
    before = model(b)["value"]
    b.feats[3] += 3.0  # change the last shot only
    after = model(b)["value"]
    assert torch.allclose(before[:3], after[:3]) != future_moves_past
    assert not torch.allclose(before[3], after[3])


def test_causal_wide_path_reads_the_previous_shots_and_is_off_without_temporal_edges():
    edges = {"temporal": True, "audience": False, "semantic": False}
    model = _tiny_model(
        fusion="hypergraph", layers=1, edges=edges, temporal_mode="causal", wide=True
    )
    assert model.wide_head.in_features == 2 * 5 * (1 + 4)
    edges_off = {**edges, "temporal": False}
    model = _tiny_model(
        fusion="hypergraph", layers=1, edges=edges_off, temporal_mode="causal", wide=True
    )
    assert model.wide_head.in_features == 5 * (1 + 4)
    with pytest.raises(ValueError, match="temporal_mode must be causal or undirected"):
        _tiny_model(temporal_mode="sideways")
