"""Distributed training helpers: torchrun/DDP set-up, sharding, metric reduction, rank-0 I/O.

``torchrun --nproc_per_node=N -m hmllm train trainer=ddp`` sets ``RANK``/``WORLD_SIZE``/
``LOCAL_RANK``; :func:`setup` reads them, picks NCCL on CUDA and gloo on CPU, and pins each process to
its GPU. Without those variables everything here degrades to a single process, so the same training
code runs unchanged on a laptop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """True on the process that writes checkpoints, logs and metrics files."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """True when more than one process takes part."""
        return self.world_size > 1


def setup(device: str = "auto", backend: str = "auto") -> DistInfo:
    """Initialise the process group from torchrun's environment (or stay single-process).

    Parameters
    ----------
    device
        ``auto`` (CUDA when available), ``cuda`` or ``cpu``.
    backend
        ``auto`` (``nccl`` on CUDA, ``gloo`` on CPU), ``nccl`` or ``gloo``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    dev = f"cuda:{local}" if use_cuda else "cpu"
    if world <= 1:
        return DistInfo(0, 1, 0, dev if not use_cuda else "cuda", None)
    be = ("nccl" if use_cuda else "gloo") if backend == "auto" else backend
    if use_cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend=be)
    return DistInfo(rank, world, local, dev, be)


def teardown() -> None:
    """Destroy the process group if one was created."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard(items: list, info: DistInfo) -> list:
    """Return this rank's share of ``items`` (strided, so ranks differ by at most one item)."""
    return items[info.rank :: info.world_size] if info.enabled else list(items)


def split_batch(batch: list, info: DistInfo) -> list:
    """Return this rank's part of one global batch (strided); every rank takes part in every step.

    The global batch is ``trainer.ads_per_batch`` items; each of ``world_size`` ranks gets
    ``batch[rank::world_size]`` and DistributedDataParallel averages their gradients. A batch with
    fewer items than ranks is padded by repeating its items (as ``DistributedSampler`` pads), since
    a rank that skipped a step would leave the others waiting in the gradient all-reduce.
    """
    if not info.enabled:
        return list(batch)
    if not batch:
        raise ValueError("split_batch got an empty batch; every optimisation step needs >= 1 item")
    padded = (list(batch) * -(-info.world_size // len(batch)))[: max(len(batch), info.world_size)]
    return padded[info.rank :: info.world_size]


def reduce_sums(values: dict[str, float], info: DistInfo) -> dict[str, float]:
    """Sum each value over all ranks (e.g. correct counts and totals), identical on every rank."""
    if not info.enabled:
        return dict(values)
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
    if info.backend == "nccl":
        t = t.to(info.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return dict(zip(keys, t.cpu().tolist(), strict=True))


def gather_objects(obj, info: DistInfo) -> list:
    """Every rank's ``obj`` (picklable) in rank order, on every rank."""
    if not info.enabled:
        return [obj]
    out: list = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(info: DistInfo) -> None:
    """Wait for all ranks (no-op single-process)."""
    if info.enabled:
        dist.barrier()
