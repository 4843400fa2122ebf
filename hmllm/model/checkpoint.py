"""Checkpoints that load with ``torch.load(weights_only=True)``: tensors and plain containers only."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch

from hmllm.errors import DataError
from hmllm.model.data import Vocab

# bump when the model's parameters change, so older checkpoints fail with a clear message
# (v2: ordinal head thresholds, wide path and late-fusion value head; v3: directed temporal
# hyperedge weights per lag, the wide path's lagged inputs, the weight average in last.pt)
FORMAT = "hmllm-response-v3"


def plain(obj):
    """Deep-copy ``obj`` as JSON-able plain containers (numpy scalars → Python, other objects → str).

    ``torch.load(weights_only=True)`` refuses any non-builtin class, e.g. ``torch.__version__``
    (a ``TorchVersion``) or a numpy float inside a model card; this keeps checkpoints loadable.
    """
    return json.loads(json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def save(path: Path, model, vocab: Vocab, classes: dict, cfg: dict, card: dict, *, epoch: int,
         optimizer=None, extra: dict | None = None, ema=None,
         members: list[dict] | None = None) -> None:  # fmt: skip
    """Write a checkpoint atomically (temporary file, then rename).

    ``ema``: weight average to keep (for resuming); ``members``: the state dicts of a seed
    ensemble (:mod:`hmllm.model.ensemble`), ``model`` then being its first member.
    """
    state = {"state_dict": model.state_dict(), "vocab": plain(asdict(vocab)), "classes": plain(classes),
             "config": plain(cfg), "card": plain(card), "epoch": epoch, "format": FORMAT,
             **plain(extra or {})}  # fmt: skip
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if ema is not None:
        state["ema_state_dict"] = ema.state_dict()
    if members is not None:
        state["members"] = members
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load(path: str | Path) -> dict:
    """Read a checkpoint with ``weights_only=True`` (no code from the file is ever executed)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"checkpoint {path} not found; train one with `hmllm train` or pass checkpoint=<path>"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - corrupt or foreign files
        raise DataError(
            f"{path} is not a readable hmllm checkpoint ({type(exc).__name__}: {exc})"
        ) from None
    found = state.get("format") if isinstance(state, dict) else None
    if isinstance(found, str) and found.startswith("hmllm-response-v") and found != FORMAT:
        raise DataError(
            f"{path} was written by another hmllm version ({found}; this one reads {FORMAT}); "
            "retrain it with `hmllm train`"
        )
    if not isinstance(state, dict) or found != FORMAT:
        raise DataError(
            f"{path} is not an hmllm response-model checkpoint (format {state.get('format') if isinstance(state, dict) else type(state).__name__})"
        )
    return state
