"""A small CNN shot encoder trained from scratch, self-supervised on the study's own frames.

Training is contrastive (InfoNCE): two frames of the same shot are a positive pair, frames of the
other shots in the batch are negatives — no labels, so it can run on any set of ads. Weights are
saved under the cache folder, keyed by the config and the training frames' hash.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from hmllm.errors import DataError


class TinyCNN(nn.Module):
    """Three stride-2 conv blocks + global average pooling + linear projection.

    Parameters
    ----------
    channels
        Output channels of the conv blocks.
    embed_dim
        Embedding size.
    """

    def __init__(self, channels: tuple[int, ...] = (16, 32, 64), embed_dim: int = 32) -> None:
        super().__init__()
        layers, c_in = [], 3
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.BatchNorm2d(c), nn.ReLU()]
            c_in = c
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(c_in, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) float in [0, 1] → (B, embed_dim)."""
        return self.head(self.body(x))


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 → (N, 3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255.0)


def train_cnn(shot_frames: list[np.ndarray], cfg: dict, *, progress: bool = False) -> TinyCNN:
    """Train :class:`TinyCNN` contrastively on frames grouped by shot.

    Parameters
    ----------
    shot_frames
        One array (F, H, W, 3) uint8 per shot, F >= 2 frames each.
    cfg
        ``channels, embed_dim, epochs, batch_shots, lr, temperature, seed`` (configs/features/cnn.yaml).
    progress
        Show a tqdm bar over epochs.
    """
    groups = [g for g in shot_frames if len(g) >= 2]
    if len(groups) < 2:
        raise DataError("the CNN encoder needs at least 2 shots with 2+ frames each to train on")
    threads = torch.get_num_threads()
    torch.set_num_threads(
        1
    )  # small convs: extra threads only contend on a shared 2-core box (5x slower)
    try:
        return _train(groups, cfg, progress)
    finally:
        torch.set_num_threads(threads)


def _train(groups: list[np.ndarray], cfg: dict, progress: bool) -> TinyCNN:
    torch.manual_seed(int(cfg["seed"]))
    rng = np.random.default_rng(int(cfg["seed"]))
    model = TinyCNN(tuple(cfg["channels"]), int(cfg["embed_dim"]))
    opt = torch.optim.Adam(model.parameters(), lr=float(cfg["lr"]))
    tau, bs = float(cfg["temperature"]), max(2, int(cfg["batch_shots"]))
    model.train()
    for _ in tqdm(
        range(int(cfg["epochs"])), desc="cnn encoder", unit="epoch", disable=not progress
    ):
        order = rng.permutation(len(groups))
        for start in range(0, len(order), bs):
            batch = order[start : start + bs]
            if len(batch) < 2:
                continue
            pairs = [rng.choice(len(groups[i]), 2, replace=False) for i in batch]
            a = to_tensor(np.stack([groups[i][p[0]] for i, p in zip(batch, pairs, strict=True)]))
            b = to_tensor(np.stack([groups[i][p[1]] for i, p in zip(batch, pairs, strict=True)]))
            za = nn.functional.normalize(model(a), dim=1)
            zb = nn.functional.normalize(model(b), dim=1)
            logits = za @ zb.T / tau
            target = torch.arange(len(batch))
            loss = 0.5 * (nn.functional.cross_entropy(logits, target)
                          + nn.functional.cross_entropy(logits.T, target))  # fmt: skip
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def weights_key(shot_frames: list[np.ndarray], cfg: dict) -> str:
    """Hash of the training config and frames (names the cached weights file)."""
    h = hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode())
    for g in shot_frames:
        h.update(np.ascontiguousarray(g[:, ::8, ::8]).tobytes())
    return h.hexdigest()[:16]


def load_or_train(
    shot_frames: list[np.ndarray], cfg: dict, cache_dir: Path | None
) -> Path | TinyCNN:
    """Train (or reuse cached) weights; returns the weights file, or the model when uncached."""
    train_cfg = {k: cfg[k] for k in ("channels", "embed_dim", "epochs", "batch_shots", "lr",
                                     "temperature", "seed", "width_px", "height_px")}  # fmt: skip
    if cache_dir is None:
        return train_cnn(shot_frames, train_cfg)
    path = Path(cache_dir) / "cnn" / f"tinycnn-{weights_key(shot_frames, train_cfg)}.pt"
    if not path.is_file():
        model = train_cnn(shot_frames, train_cfg, progress=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save({"state_dict": model.state_dict(), "cfg": train_cfg}, tmp)
        tmp.replace(path)
    return path


def load_weights(path: str | Path) -> TinyCNN:
    """Load a :class:`TinyCNN` saved by :func:`load_or_train`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: CNN encoder weights not found; rerun `hmllm video` to train them")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = TinyCNN(tuple(blob["cfg"]["channels"]), int(blob["cfg"]["embed_dim"]))
    model.load_state_dict(blob["state_dict"])
    return model.eval()


def embed(model: TinyCNN, frames: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 frames → (N, D) float32 embeddings."""
    with torch.no_grad():
        return model(to_tensor(frames)).numpy().astype(np.float32)
