"""Training objective: classes + continuous values (Gaussian NLL) + saliency + ad effects + alignment."""

from __future__ import annotations

import torch
from torch import nn

from hmllm.model.net import N_CLASSES, Batch


def total_loss(model, out: dict, b: Batch, w: dict) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted sum of the objective's terms; returns the loss and each term's value."""
    terms = {}
    ce = sum(
        nn.functional.cross_entropy(out[f"logits_{k}"], b.classes[k], ignore_index=-1)
        for k in N_CLASSES
    )
    terms["cls"] = ce / len(N_CLASSES)
    ok = torch.isfinite(b.values)
    if ok.any():
        mu, lv = out["value"][ok], out["log_var"][ok]
        terms["reg"] = (0.5 * (lv + (b.values[ok] - mu) ** 2 / lv.exp())).mean()
    if b.saliency is not None and w["saliency"] > 0:
        logp = torch.log_softmax(out["saliency"], dim=-1)
        terms["saliency"] = -(b.saliency * logp).sum(-1).mean()
    ok_ad = torch.isfinite(b.ad_targets)
    if ok_ad.any() and w["ad"] > 0:
        terms["ad"] = ((out["ad"][ok_ad] - b.ad_targets[ok_ad]) ** 2).mean()
    if (
        b.signals is not None
        and model.sig_enc is not None
        and w["align"] > 0
        and len(b.signals) > 1
    ):
        terms["align"] = model.align_loss(out["embedding"], b.signals)
    loss = sum(w.get(k, 1.0) * v for k, v in terms.items())
    return loss, {k: float(v.detach()) for k, v in terms.items()}
