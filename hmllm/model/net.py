"""The response model: shot encoder × audience encoder → hypergraph fusion → heads.

Vertices are (shot, audience-group) cells of a batch of ads. Signal embeddings (group-mean EEG and
gaze features) are alignment partners at training time only: an InfoNCE loss pulls each cell's
embedding towards its own signal embedding, so the video representation learns what the brain and
eyes responded to; at inference no signal is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hmllm.model.hypergraph import (
    HGNNConv,
    audience_edges,
    incidence,
    past_context,
    semantic_edges,
    temporal_edges,
)

N_CLASSES = {"en": 2, "em": 3, "emr": 2}


@dataclass
class Batch:
    """Cells of a batch of ads; shapes in comments (N cells, F features, A ads)."""

    feats: torch.Tensor  # (N, F) standardised shot features
    audience: torch.Tensor  # (N, G) one-hot audience attributes
    ad: torch.Tensor  # (N,) ad index within the batch
    shot: torch.Tensor  # (N,)
    group: torch.Tensor  # (N,) group index
    gender: torch.Tensor  # (N,)
    age: torch.Tensor  # (N,)
    classes: dict[str, torch.Tensor]  # index -> (N,) class (-1 missing)
    values: torch.Tensor  # (N, 3) continuous en, em, emr (NaN missing)
    signals: torch.Tensor | None  # (N, S) standardised signal features (NaN -> 0) or None
    saliency: torch.Tensor | None  # (N, H*W) target maps or None
    ad_targets: torch.Tensor  # (A, 2) logit CTR, logit completion (NaN missing)


def mlp(n_in: int, dim: int, dropout: float) -> nn.Sequential:
    """Two-layer perceptron with GELU and dropout."""
    return nn.Sequential(nn.Linear(n_in, dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(dim, dim))


class ResponseModel(nn.Module):
    """Hypergraph (or late-fusion / video-only) model of per-shot, per-audience responses.

    Parameters mirror ``configs/model/*.yaml``: ``fusion`` (hypergraph | late | none), which
    hyperedge families are on, whether the audience is used, the alignment weight, the saliency map
    size, and widths.
    """

    def __init__(
        self,
        n_features: int,
        n_audience: int,
        n_signals: int,
        cfg: dict,
        saliency_hw: tuple[int, int],
    ):
        super().__init__()
        d, p = int(cfg["dim"]), float(cfg["dropout"])
        self.cfg = cfg
        self.shot_enc = mlp(n_features, d, p)
        self.use_audience = bool(cfg["use_audience"])
        self.aud_enc = mlp(n_audience, d, p)
        self.cell = mlp(2 * d, d, p)
        self.fusion = cfg["fusion"]
        mode = str(cfg.get("temporal_mode", "undirected"))
        if mode not in ("causal", "undirected"):
            raise ValueError(f"model.temporal_mode must be causal or undirected, got {mode!r}")
        # causal: temporal hyperedges are directed (previous shots → cell), one family and Θ per lag
        # (1..temporal_window shots back), so the last shot can weigh more than older ones
        self.causal = (
            self.fusion == "hypergraph" and bool(cfg["edges"]["temporal"]) and mode == "causal"
        )
        self.n_lags = int(cfg["temporal_window"]) if self.causal else 0
        self.convs = nn.ModuleList(
            [HGNNConv(d, p, n_directed=self.n_lags) for _ in range(int(cfg["layers"]))]
        )
        self.cls_heads = nn.ModuleDict({k: nn.Linear(d, n) for k, n in N_CLASSES.items()})
        self.aud_heads = nn.ModuleDict(
            {k: nn.Linear(d, n) for k, n in N_CLASSES.items()}
        )  # late fusion
        self.reg_head = nn.Linear(d, 6)  # mean and log-variance of en, em, emr
        self.aud_reg_head = nn.Linear(d, 6)  # late fusion: the audience's additive share
        # Wide path (cfg wide: true): a linear model of the values on shot features and, unless
        # video-only, their products with the audience one-hot — the interactions a ridge
        # regression would fit — added to the deep (hypergraph) prediction. On a few dozen
        # training ads it carries the bulk of the signal and the deep part learns the rest.
        # With causal temporal hyperedges the wide path also reads its inputs averaged over the
        # previous shots (the directed hyperedge's linear message: a one-layer linear HGNN).
        self.wide = bool(cfg.get("wide", False))
        self.n_wide = n_features * (
            1 + (n_audience if self.use_audience and self.fusion != "late" else 0)
        )
        # context_change: also |features − the previous shot's| — how much changed at the cut
        self.context_change = self.causal and bool(cfg.get("context_change", False))
        n_ctx = self.n_wide * self.n_lags + n_features * int(self.context_change)
        self.wide_head = nn.Linear(self.n_wide + n_ctx, 3) if self.wide else None
        self.hw = saliency_hw
        self.sal_head = nn.Sequential(
            nn.Linear(d, d), nn.GELU(), nn.Linear(d, saliency_hw[0] * saliency_hw[1])
        )
        self.ad_head = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, 2))
        self.sig_enc = mlp(n_signals, d, p) if n_signals else None
        self.temperature = float(cfg["align_temperature"])
        # Ordinal head (cfg class_head: ordinal): class k's probability is the mass a logistic
        # around the predicted value puts between the label's own cut points (prepared/classes.json,
        # copied in by `set_thresholds`), so classes and continuous values come from one number.
        self.class_head = str(cfg.get("class_head", "softmax"))
        for k, n in N_CLASSES.items():
            self.register_buffer(f"thr_{k}", torch.zeros(n - 1))
        self.ord_log_scale = nn.Parameter(torch.full((len(N_CLASSES),), -1.0))

    def wide_inputs(self, b: Batch, directed: list[torch.Tensor]) -> torch.Tensor:
        """Inputs of the wide path (N, F').

        Shot features, their products with the audience and, with causal temporal edges, the same
        averaged over the previous shots.
        """
        u = b.feats
        if self.n_wide != b.feats.shape[1]:
            inter = (b.feats[:, :, None] * b.audience[:, None, :]).flatten(1)
            u = torch.cat([b.feats, inter], dim=1)
        ctx = [op @ u for op in directed]
        if self.context_change and directed:
            ctx.append((b.feats - directed[0] @ b.feats).abs())
        return torch.cat([u, *ctx], dim=1)

    def directed_ops(self, b: Batch) -> list[torch.Tensor]:
        """The directed hyperedge operators of this batch (empty unless causal temporal edges)."""
        if not self.causal:
            return []
        ops = [past_context(b.ad, b.shot, b.group, k, min_lag=k) for k in range(1, self.n_lags + 1)]
        return [op.to(b.feats.dtype) for op in ops]

    def set_thresholds(self, classes: dict) -> None:
        """Copy the label cut points (normalised units) from ``classes.json`` into the model."""
        for k, n in N_CLASSES.items():
            thr = torch.as_tensor(classes[k]["thresholds"], dtype=torch.float32)
            if thr.numel() != n - 1:
                raise ValueError(f"classes.json: {k} needs {n - 1} thresholds, got {thr.tolist()}")
            getattr(self, f"thr_{k}").copy_(thr)

    def ordinal_logits(self, value: torch.Tensor) -> dict[str, torch.Tensor]:
        """Log class probabilities (N, C) per index from predicted values (N, 3), cumulative logit."""
        out = {}
        for i, k in enumerate(N_CLASSES):
            thr = getattr(self, f"thr_{k}")
            cdf = torch.sigmoid((thr[None, :] - value[:, i : i + 1]) / self.ord_log_scale[i].exp())
            ones = torch.ones_like(cdf[:, :1])
            probs = torch.cat([cdf, ones], 1) - torch.cat([torch.zeros_like(ones), cdf], 1)
            out[f"logits_{k}"] = probs.clamp(min=1e-6).log()
        return out

    def embed(self, b: Batch, directed: list[torch.Tensor]) -> torch.Tensor:
        """Cell embeddings (N, D) after fusion (``directed``: from :meth:`directed_ops`)."""
        s = self.shot_enc(b.feats)  # (N, D)
        a = self.aud_enc(b.audience) if self.use_audience else torch.zeros_like(s)
        x = self.cell(torch.cat([s, a], dim=-1)) if self.fusion != "late" else s
        if self.fusion == "hypergraph":
            e = self.cfg["edges"]
            edges = []
            if e["temporal"] and not self.causal:
                edges += temporal_edges(b.ad, b.shot, b.group, int(self.cfg["temporal_window"]))
            if e["audience"] and self.use_audience:
                edges += audience_edges(b.ad, b.shot, b.gender, b.age)
            if e["semantic"]:
                edges += semantic_edges(s, b.group, int(self.cfg["semantic_k"]))
            h = incidence(edges, x.shape[0]).to(x.dtype)  # (N, E)
            for conv in self.convs:
                x = conv(x, h, directed)
        return x

    def forward(self, b: Batch, ad_pool: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Logits per index (N, C), value mean/log-var (N, 3), saliency logits (N, H*W), ad (A, 2).

        The ad head reads the mean embedding of each ad's cells, or of the cells sharing a value of
        ``ad_pool`` (N,) when given (the predictor pools per audience group: ``ad`` is then (G, 2)).
        """
        directed = self.directed_ops(b)
        x = self.embed(b, directed)
        reg = self.reg_head(x)
        if self.fusion == "late" and self.use_audience:
            a = self.aud_enc(b.audience)
            reg = reg + self.aud_reg_head(a)  # additive audience effect, no interaction
        value = reg[:, :3]
        if self.wide_head is not None:
            value = value + self.wide_head(self.wide_inputs(b, directed))
        out = {"value": value, "log_var": reg[:, 3:].clamp(-6, 6)}
        if self.class_head == "ordinal":
            out.update(self.ordinal_logits(out["value"]))
        else:
            out.update({f"logits_{k}": head(x) for k, head in self.cls_heads.items()})
            if self.fusion == "late" and self.use_audience:
                for k, head in self.aud_heads.items():
                    out[f"logits_{k}"] = out[f"logits_{k}"] + head(a)
        out["saliency"] = self.sal_head(x)
        pool = b.ad if ad_pool is None else ad_pool
        n_ads = int(pool.max()) + 1
        pooled = torch.zeros(n_ads, x.shape[1], dtype=x.dtype).index_add_(0, pool, x)
        pooled = pooled / torch.bincount(pool, minlength=n_ads).clamp(min=1)[:, None].to(x.dtype)
        out["ad"] = self.ad_head(pooled)
        out["embedding"] = x
        return out

    def align_loss(self, x: torch.Tensor, signals: torch.Tensor) -> torch.Tensor:
        """InfoNCE between cell embeddings and their own signal embeddings (both directions)."""
        z1 = nn.functional.normalize(x, dim=-1)
        z2 = nn.functional.normalize(self.sig_enc(signals), dim=-1)
        logits = z1 @ z2.T / self.temperature
        target = torch.arange(len(x))
        return 0.5 * (
            nn.functional.cross_entropy(logits, target)
            + nn.functional.cross_entropy(logits.T, target)
        )
