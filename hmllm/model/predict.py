"""Prediction API for new ads: a trained checkpoint → per-shot, per-audience responses.

Used by ``hmllm score`` and ``hmllm serve``::

    pred = load_predictor("data/runs/hypergraph/best.pt").predict(features, ["female_26-30"])
    pred.shots      # shot, group, index, class_name, p_<class>..., value, value_lo, value_hi
    pred.ad         # group, ctr(_lo/_hi), completion(_lo/_hi)
    pred.saliency   # (n_shots, n_groups, H, W) fixation density, or None
    pred.explanations  # shot, group, index, feature, contribution (gradient x input)

The model always sees every group it was trained with (the hypergraph's audience hyperedges link
groups of one shot, as in training); the requested groups are selected afterwards. Intervals are
95 % and combine the predicted variance with Monte-Carlo dropout (``mc_samples`` seeded passes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hmllm.errors import DataError
from hmllm.model import checkpoint
from hmllm.model.data import INDICES, Vocab
from hmllm.model.ensemble import model_from_state
from hmllm.model.net import N_CLASSES, Batch, ResponseModel

Z95 = 1.959964  # two-sided 95 % normal quantile


@dataclass
class Prediction:
    """What a checkpoint predicts for one ad (see module docstring for the columns)."""

    shots: pd.DataFrame
    ad: pd.DataFrame
    saliency: np.ndarray | None
    explanations: pd.DataFrame


class Predictor:
    """A trained response model plus everything needed to feed it new shot features.

    Parameters
    ----------
    state : dict
        A checkpoint read by :func:`hmllm.model.checkpoint.load`.
    mc_samples : int
        Dropout-on forward passes for the intervals (0 = predicted variance only).
    seed : int
        Seed of the Monte-Carlo passes (same inputs → same intervals).
    """

    def __init__(self, state: dict, *, mc_samples: int = 16, seed: int = 0):
        self.state = state
        self.vocab = Vocab(**state["vocab"])
        self.card: dict = dict(state.get("card", {}))
        self.config: dict = state["config"]
        self.classes: dict = state["classes"]
        self.groups: list[str] = list(self.vocab.groups)
        self.feature_names: list[str] = list(self.vocab.feature_names)
        self.mc_samples, self.seed = int(mc_samples), int(seed)
        mcfg = self.config["model"]
        n_pix = state["state_dict"]["sal_head.2.weight"].shape[0]
        hw = tuple(state.get("saliency_hw") or ((18, 32) if n_pix == 18 * 32 else (1, n_pix)))
        v = self.vocab
        self.model = model_from_state(
            state,
            lambda: ResponseModel(len(v.feature_names), len(v.genders) + len(v.age_bands),
                                  len(v.signal_names), mcfg, hw),
        )  # fmt: skip
        self.hw = hw

    # ------------------------------------------------------------------ inputs
    def _check(self, features: pd.DataFrame, groups: list[str]) -> None:
        if isinstance(groups, str):
            groups = [groups]
        unknown = [g for g in groups if g not in self.groups]
        if unknown or not groups:
            raise ValueError(
                f"unknown audience group(s) {unknown or groups}; this model knows {self.groups}"
            )
        missing = [c for c in ["shot", *self.feature_names] if c not in features.columns]
        if missing:
            raise DataError(
                f"shot features lack columns {missing}; extract them with the feature extractor the model was "
                f"trained with ({self.card.get('feature_extractor', 'handcrafted')})"
            )
        if len(features) == 0:
            raise DataError("no shots to predict (the features table is empty)")

    def _batch(self, features: pd.DataFrame) -> Batch:
        """All (shot, group) cells of one ad, group-major as in training."""
        v = self.vocab
        f = features.sort_values("shot")
        x = (f[self.feature_names].to_numpy(np.float64) - np.asarray(v.feature_mean)) / np.asarray(
            v.feature_std
        )
        x = np.nan_to_num(x).astype(np.float32)  # (S, F)
        n_s, n_g = len(f), len(self.groups)
        shots = f["shot"].to_numpy(np.int64)
        feats = np.tile(x, (n_g, 1))  # (G*S, F)
        aud = np.repeat(np.stack([v.audience_vector(g) for g in self.groups]), n_s, axis=0)
        g_idx = np.repeat(np.arange(n_g), n_s)
        gender = np.array([v.genders.index(v.group_attrs[g]["gender"]) for g in self.groups])[g_idx]
        age = np.array([v.age_bands.index(v.group_attrs[g]["age_band"]) for g in self.groups])[
            g_idx
        ]
        n = n_s * n_g
        t = torch.as_tensor
        return Batch(
            feats=t(feats), audience=t(aud), ad=torch.zeros(n, dtype=torch.long), shot=t(np.tile(shots, n_g)),
            group=t(g_idx), gender=t(gender), age=t(age),
            classes={k: torch.full((n,), -1) for k in INDICES}, values=torch.full((n, 3), float("nan")),
            signals=None, saliency=None, ad_targets=torch.full((1, 2), float("nan")),
        )  # fmt: skip

    # ------------------------------------------------------------------ forward
    def predict(self, features: pd.DataFrame, groups: list[str]) -> Prediction:
        """Predict every shot of one ad for ``groups``.

        Parameters
        ----------
        features : pandas.DataFrame
            One row per shot: ``shot`` and the model's ``feature_names`` (raw, unstandardised).
        groups : list of str
            Audience group ids (see :attr:`groups`).

        Returns
        -------
        Prediction
            Per-shot table (long: one row per shot × group × index), per-group ad effects with 95 %
            intervals, saliency maps ``(n_shots, n_groups, H, W)`` and gradient×input explanations.
        """
        if isinstance(groups, str):
            groups = [groups]
        self._check(features, groups)
        b = self._batch(features)
        n_s = len(features)
        with torch.no_grad():
            out = self.model(b, ad_pool=b.group)  # the ad head per audience group
            ad_logit = out["ad"]  # (G, 2)
            mc_val, mc_ad, mc_prob = [], [], []
            if self.mc_samples > 0:
                gen_state = torch.random.get_rng_state()
                torch.manual_seed(self.seed)
                self.model.train()
                for _ in range(self.mc_samples):
                    o = self.model(b, ad_pool=b.group)
                    mc_val.append(o["value"])
                    mc_ad.append(o["ad"])
                    mc_prob.append({k: torch.softmax(o[f"logits_{k}"], -1) for k in N_CLASSES})
                self.model.eval()
                torch.random.set_rng_state(gen_state)
        var = out["log_var"].exp()  # (N, 3)
        if mc_val:
            var = var + torch.stack(mc_val).var(0)
        sd = var.sqrt().numpy()
        mu = out["value"].numpy()
        ad_sd = (
            torch.stack([a.float() for a in mc_ad]).std(0).numpy()
            if len(mc_ad) > 1
            else np.zeros((len(self.groups), 2))
        )
        sel = [self.groups.index(g) for g in groups]
        shots = b.shot.numpy()[:n_s]
        rows = []
        for k_i, k in enumerate(INDICES):
            prob = torch.softmax(out[f"logits_{k}"], -1)
            if mc_prob:
                prob = torch.stack([p[k] for p in mc_prob] + [prob]).mean(0)
            prob = prob.numpy()
            names = self.classes[k]["names"]
            for gi in sel:
                cells = slice(gi * n_s, (gi + 1) * n_s)
                df = pd.DataFrame({"shot": shots, "group": self.groups[gi], "index": k})
                df["class_name"] = [names[c] for c in prob[cells].argmax(1)]
                for c, name in enumerate(names):
                    df[f"p_{name}"] = prob[cells, c]
                df["value"] = mu[cells, k_i]
                df["value_lo"] = mu[cells, k_i] - Z95 * sd[cells, k_i]
                df["value_hi"] = mu[cells, k_i] + Z95 * sd[cells, k_i]
                rows.append(df)
        shots_df = pd.concat(rows, ignore_index=True)
        sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
        al, asd = ad_logit.numpy()[sel], ad_sd[sel]
        ad_df = pd.DataFrame({
            "group": groups, "ctr": sig(al[:, 0]), "ctr_lo": sig(al[:, 0] - Z95 * asd[:, 0]), "ctr_hi": sig(al[:, 0] + Z95 * asd[:, 0]),
            "completion": sig(al[:, 1]), "completion_lo": sig(al[:, 1] - Z95 * asd[:, 1]),
            "completion_hi": sig(al[:, 1] + Z95 * asd[:, 1]),
        })  # fmt: skip
        sal = torch.softmax(out["saliency"], -1).numpy().reshape(len(self.groups), n_s, *self.hw)
        saliency = np.ascontiguousarray(sal[sel].transpose(1, 0, 2, 3))  # (S, G, H, W)
        return Prediction(shots_df, ad_df, saliency, self._explain(b, n_s, sel))

    def _explain(self, b: Batch, n_s: int, sel: list[int]) -> pd.DataFrame:
        """Gradient × input of each index's predicted-class logit w.r.t. the standardised shot features.

        Hand-written (a few lines) rather than a dependency such as captum, which is not installed.
        """
        feats = b.feats.clone().requires_grad_(True)
        b2 = Batch(**{**b.__dict__, "feats": feats})
        out = self.model(b2)
        rows = []
        for k in INDICES:
            logits = out[f"logits_{k}"]
            top = logits.gather(1, logits.argmax(1, keepdim=True)).sum()
            (grad,) = torch.autograd.grad(top, feats, retain_graph=True)
            contrib = (grad * feats).detach().numpy()  # (N, F)
            for gi in sel:
                c = contrib[gi * n_s : (gi + 1) * n_s]
                df = pd.DataFrame(c, columns=self.feature_names)
                df["shot"] = b.shot.numpy()[:n_s]
                df = df.melt(id_vars="shot", var_name="feature", value_name="contribution")
                df.insert(1, "group", self.groups[gi])
                df.insert(2, "index", k)
                rows.append(df)
        return pd.concat(rows, ignore_index=True)


def load_predictor(
    checkpoint_path: str | Path, *, mc_samples: int = 16, seed: int = 0
) -> Predictor:
    """Load a trained checkpoint (``weights_only=True``) as a :class:`Predictor`."""
    return Predictor(checkpoint.load(checkpoint_path), mc_samples=mc_samples, seed=seed)
