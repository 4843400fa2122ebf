import os
import socket

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
