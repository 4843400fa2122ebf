"""Hyperedges over (shot, audience) cells and the HGNN convolution.

A hand-written layer (40 lines) rather than dhg / torch_geometric: both pull large, version-
sensitive dependency trees for one sparse matrix product, and the dense form below is exact and
fast at the few hundred vertices of a batch of ads.

HGNN (Feng et al. 2019):  X' = Dv^-1/2 H W De^-1 Hᵀ Dv^-1/2 X Θ

Temporal hyperedges can also be *directed* (``temporal_mode: causal``): a hyperedge whose tail is the
shot ``lag`` places earlier in a cell's ad and group and whose head is the cell itself, one family
and Θ per lag. An undirected hyperedge mixes the shots before and after a cell alike, so it cannot tell "this
shot follows a face" from "a face follows this shot"; viewers respond to what they have already seen
(orienting to an unrelated cut, emotion carried over), which only the directed form can express.
"""

from __future__ import annotations

import torch
from torch import nn


def temporal_edges(
    ad: torch.Tensor, shot: torch.Tensor, group: torch.Tensor, window: int
) -> list[torch.Tensor]:
    """One hyperedge per cell: the same ad and group, shots within ``window`` of it."""
    same = (ad[:, None] == ad[None, :]) & (group[:, None] == group[None, :])
    near = (shot[:, None] - shot[None, :]).abs() <= window
    return list((same & near).float())


def past_context(
    ad: torch.Tensor, shot: torch.Tensor, group: torch.Tensor, window: int, min_lag: int = 1
) -> torch.Tensor:
    """Directed temporal hyperedges as one (N, N) operator.

    Row i averages the shots ``min_lag``..``window`` before cell i in the same ad and group
    (tail → head i); a cell with no such shot (an ad's first shot) gets a zero row.
    """
    same = (ad[:, None] == ad[None, :]) & (group[:, None] == group[None, :])
    lag = shot[:, None] - shot[None, :]
    m = (same & (lag >= min_lag) & (lag <= window)).float()
    return m / m.sum(1, keepdim=True).clamp(min=1.0)


def audience_edges(
    ad: torch.Tensor, shot: torch.Tensor, gender: torch.Tensor, age: torch.Tensor
) -> list[torch.Tensor]:
    """Per shot: all groups of one gender, and all groups of one age band (demographic neighbours)."""
    edges = []
    cell = ad * 10_000 + shot
    for key in (gender, age):
        k = cell * 100 + key
        for v in torch.unique(k):
            edges.append((k == v).float())
    return edges


def semantic_edges(emb: torch.Tensor, group: torch.Tensor, k: int) -> list[torch.Tensor]:
    """Per cell: the ``k`` most similar cells (cosine of shot embeddings) of the same group."""
    z = nn.functional.normalize(emb.detach(), dim=-1)
    sim = z @ z.T
    sim = sim.masked_fill(group[:, None] != group[None, :], -2.0)
    kk = min(k + 1, sim.shape[1])
    idx = sim.topk(kk, dim=1).indices  # (N, k+1) includes itself
    h = torch.zeros_like(sim)
    h.scatter_(1, idx, 1.0)
    return list(h)


def incidence(edges: list[torch.Tensor], n: int) -> torch.Tensor:
    """Stack hyperedges (each a length-N 0/1 vector) into H of shape (N, E); self-loops if none."""
    if not edges:
        return torch.eye(n)
    return torch.stack(edges, dim=1)


class HGNNConv(nn.Module):
    """One hypergraph convolution with unit edge weights, a residual path and LayerNorm.

    Undirected hyperedges share one Θ; each directed family (``n_directed``, given as (N, N)
    tail-averaging operators such as :func:`past_context`) has its own.
    """

    def __init__(self, dim: int, dropout: float, n_directed: int = 0):
        super().__init__()
        self.theta = nn.Linear(dim, dim)
        self.directed = nn.ModuleList([nn.Linear(dim, dim) for _ in range(n_directed)])
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, h: torch.Tensor, directed: list[torch.Tensor] | tuple = ()
    ) -> torch.Tensor:
        """``x`` (N, D) vertex features, ``h`` (N, E) incidence, ``directed`` (N, N) each → (N, D)."""
        if len(directed) != len(self.directed):
            raise ValueError(
                f"HGNNConv has {len(self.directed)} directed families, got {len(directed)}"
            )
        dv = h.sum(1).clamp(min=1.0) ** -0.5  # (N,)
        de = h.sum(0).clamp(min=1.0) ** -1.0  # (E,)
        msg = dv[:, None] * self.theta(x)  # (N, D)
        edge = de[:, None] * (h.T @ msg)  # (E, D)
        out = dv[:, None] * (h @ edge)  # (N, D)
        for op, theta in zip(directed, self.directed, strict=True):
            out = out + op @ theta(x)
        return self.norm(x + self.drop(torch.relu(out)))
