"""A seed ensemble of response models: members trained alone, outputs averaged as probabilities.

``trainer.ensemble: N`` trains N copies of the model with seeds ``seed, seed + 1, …`` and keeps
them in one checkpoint; :func:`model_from_state` rebuilds a single model or an :class:`Ensemble`,
which every consumer (evaluation, scoring, the report) calls like a single model. Averaging the
class probabilities of independently trained members removes part of the seed-to-seed variance
of one run (Lakshminarayanan et al. 2017, "deep ensembles"); written here because it is a few lines
over the model's own output dictionary, which no library knows.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from hmllm.model.net import Batch, ResponseModel


def _mean_log_prob(logits: list[torch.Tensor]) -> torch.Tensor:
    """Log of the members' mean softmax over the last axis (a valid logit for softmax)."""
    logp = torch.stack([torch.log_softmax(x.float(), -1) for x in logits])
    return torch.logsumexp(logp, 0) - math.log(len(logits))


class Ensemble(nn.Module):
    """Several :class:`ResponseModel` members answering as one.

    ``forward`` returns the keys a single model returns (except ``embedding``): ``logits_<index>``
    and ``saliency`` as log mean probabilities, ``value`` the members' mean and ``log_var`` the log
    of the mixture's variance (mean variance plus the variance of the means), ``ad`` the logit of
    the mean predicted rate.
    """

    def __init__(self, members: list[ResponseModel]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, b: Batch, **kw) -> dict[str, torch.Tensor]:
        """Averaged outputs of every member for batch ``b`` (``kw`` passed to each member)."""
        outs = [m(b, **kw) for m in self.members]
        avg = {k: _mean_log_prob([o[k] for o in outs]) for k in outs[0] if k.startswith("logits_")}
        avg["saliency"] = _mean_log_prob([o["saliency"] for o in outs])
        values = torch.stack([o["value"] for o in outs])  # (M, N, 3)
        variance = torch.stack([o["log_var"].exp() for o in outs]).mean(0)
        avg["value"] = values.mean(0)
        avg["log_var"] = (variance + values.var(0, unbiased=False)).log()
        rate = torch.stack([torch.sigmoid(o["ad"]) for o in outs]).mean(0)
        avg["ad"] = torch.logit(rate, eps=1e-6)
        return avg


def model_from_state(state: dict, make: Callable[[], ResponseModel]) -> ResponseModel | Ensemble:
    """The model a checkpoint holds: one :class:`ResponseModel`, or an :class:`Ensemble`.

    Parameters
    ----------
    state
        A checkpoint read by :func:`hmllm.model.checkpoint.load`; ``members`` (a list of state
        dicts) makes an ensemble, otherwise ``state_dict`` is the single model.
    make
        Builds an untrained member with the checkpoint's architecture.
    """
    models = []
    for sd in state.get("members") or [state["state_dict"]]:
        m = make()
        m.load_state_dict(sd)
        models.append(m.eval())
    return models[0] if len(models) == 1 else Ensemble(models).eval()
