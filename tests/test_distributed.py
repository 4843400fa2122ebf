import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.multiprocessing as mp

from hmllm import distributed as hd


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))  # fmt: skip
    info = hd.setup(device="cpu")
    try:
        mine = hd.shard(list(range(7)), info)
        sums = hd.reduce_sums({"n": len(mine), "total": sum(mine)}, info)
        gathered = hd.gather_objects(mine, info)
        out[rank] = (info.backend, info.is_main, sums, gathered)
    finally:
        hd.teardown()


def test_two_gloo_processes_shard_and_reduce_like_one():
    world, port = 2, _free_port()
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_worker, args=(world, port, out), nprocs=world, join=True)
        res = dict(out)
    assert res[0][0] == "gloo" and res[0][1] and not res[1][1]
    for rank in range(world):
        assert res[rank][2] == {"n": 7.0, "total": 21.0}  # same as a single process over 0..6
        assert sorted(x for part in res[rank][3] for x in part) == list(range(7))


def test_single_process_is_a_no_op(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    info = hd.setup(device="cpu")
    assert not info.enabled and info.is_main
    assert hd.shard([1, 2, 3], info) == [1, 2, 3]
    assert hd.reduce_sums({"a": 2}, info) == {"a": 2}


def test_split_batch_pads_short_batches_so_every_rank_steps():
    two = [hd.DistInfo(rank=r, world_size=2) for r in range(2)]
    assert [hd.split_batch(["a", "b", "c", "d"], i) for i in two] == [["a", "c"], ["b", "d"]]
    assert [hd.split_batch(["a", "b", "c"], i) for i in two] == [["a", "c"], ["b"]]
    assert [hd.split_batch(["a"], i) for i in two] == [["a"], ["a"]]


# Settings under which one process and two DDP processes compute the same gradients: every ad has
# the same number of labelled cells (the fake dataset), so the mean of the two ranks' per-cell mean
# losses equals the one-process mean; no dropout; and no term that couples the ads of a batch
# (semantic hyperedges link similar shots across ads, InfoNCE contrasts all cells of a batch).
EXACT = ["model.dropout=0", "model.edges.semantic=false", "model.loss_weights.align=0",
         "trainer.ads_per_batch=4", "trainer.progress=false"]  # fmt: skip


def _assert_same_training(runs: Path, epochs: int) -> None:
    """Runs ``one`` (1 process) and ``two`` (2 ranks) logged and saved the same training."""
    one, two = (pd.read_csv(runs / r / "metrics.csv") for r in ("one", "two"))
    assert len(one) == len(two) == epochs  # rank 1 wrote no rows of its own
    # validation predictions are gathered from both ranks: the P2 accuracy is the same number
    assert one["val_p2_acc"].tolist() == two["val_p2_acc"].tolist()
    pd.testing.assert_series_equal(one["train_loss"], two["train_loss"], rtol=1e-5)
    w1, w2 = (torch.load(runs / r / "last.pt", weights_only=True)["state_dict"]
              for r in ("one", "two"))  # fmt: skip
    # The gradients agree up to float32 summation order; AdamW divides each by the root of its running
    # square, so a parameter whose gradient is near 0 can carry that noise into an update of up to
    # lr (3e-3) per step. Measured max |diff| 2e-5 after 6 steps.
    for k in w1:
        torch.testing.assert_close(w1[k], w2[k], rtol=1e-4, atol=1e-4, msg=k)


def _train_worker(rank, world, port, cfg):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))  # fmt: skip
    from hmllm.train import train

    train(cfg)


def test_two_gloo_processes_train_like_one(tmp_path):
    """4 training ads, global batch 4: one process steps on all 4, each of 2 ranks on 2."""
    from hmllm.train import train
    from tests.conftest import compose
    from tests.model.conftest import make_prepared, train_overrides

    prepared = make_prepared(tmp_path / "prepared", n_ads=8, n_shots=4)
    base = [*train_overrides(prepared, tmp_path / "runs"), *EXACT, "trainer.epochs=2"]
    train(compose("train", [*base, "run_name=one"]))
    ddp_cfg = compose("train", [*base, "run_name=two", "trainer=ddp", "trainer.device=cpu"])
    mp.spawn(_train_worker, args=(2, _free_port(), ddp_cfg), nprocs=2, join=True)
    _assert_same_training(tmp_path / "runs", epochs=2)


@pytest.mark.slow
def test_torchrun_cli_trains_like_one_process(tmp_path):
    """The documented command: `torchrun --standalone --nproc_per_node=2 -m hmllm train trainer=ddp`."""
    from tests.model.conftest import make_prepared

    prepared = make_prepared(tmp_path / "prepared")  # 8 training ads: 2 steps per epoch
    common = [f"paths.data_root={tmp_path}", f"paths.prepared={prepared}", *EXACT,
              "trainer.epochs=3", "trainer.patience=3", "trainer.ensemble=1"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    hmllm = [sys.executable, "-m", "hmllm", "train"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    for cmd in ([*hmllm, *common, "run_name=one"],
                [*torchrun, "-m", "hmllm", "train", "trainer=ddp", *common, "run_name=two"]):  # fmt: skip
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    _assert_same_training(tmp_path / "runs", epochs=3)
    # TensorBoard events come from rank 0 only
    assert len(list((tmp_path / "runs" / "two" / "tb").glob("events.*"))) == 1
