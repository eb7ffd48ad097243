"""The distributed benchmark's PyTorch peer (run under ``mpiexec -n P``): the same models and
steps in PyTorch eager, DistributedDataParallel over gloo at P > 1; rank 0 prints JSON."""

# mpi4py gives the rank, the world size and a free port (rank 0's, broadcast); gloo then
# connects over TCP on 127.0.0.1. torch.set_num_threads(1) as adjit's processes (gloo's own
# communication threads are its design, as a NIC's work would be). DDP waits for its buckets
# inside ``loss.backward()``, so the backward phase here includes the time blocked in its
# all-reduces: the JSON has no ``blocked`` or ``comm`` for PyTorch.

from __future__ import annotations

import argparse
import json
import socket
import time
from typing import Any

import numpy as np

from .distributed_child import CHECK_STEPS, _summary
from .distributed_models import MODELS, N_DIGITS, batches, dataset, one_hot


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=list(MODELS), default="mlp")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)

    from mpi4py import MPI

    from . import peers

    world = MPI.COMM_WORLD
    rank, size = world.Get_rank(), world.Get_size()
    peers.SETTINGS["threads"] = a.threads
    torch = peers.torch()
    dist = torch.distributed
    if size > 1:
        port = world.bcast(_free_port() if rank == 0 else None)
        dist.init_process_group(
            "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=size
        )
    torch.manual_seed(0)
    net, loss_of = MODELS[a.model].build(torch)
    module = torch.nn.parallel.DistributedDataParallel(net) if size > 1 else net
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step(x: Any, y: Any) -> tuple[float, dict[str, float]]:
        c0, t0 = time.process_time(), time.perf_counter()
        opt.zero_grad()
        loss = loss_of(module(x), y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        return float(loss.detach()), {
            "step": t3 - t0,
            "forward": t1 - t0,
            "backward": t2 - t1,
            "optimizer": t3 - t2,
            "cpu": time.process_time() - c0,
            "cores": (time.process_time() - c0) / max(t3 - t0, 1e-9),
        }

    classes = MODELS[a.model].classes
    xs, ys = dataset(a.model, a.batch * 2, seed=1)
    shard = slice(rank * len(xs) // size, (rank + 1) * len(xs) // size)
    gx, gy = torch.tensor(xs[shard]), torch.tensor(one_hot(ys[shard], classes))
    losses = [float(world.allreduce(step(gx, gy)[0])) / size for _ in range(CHECK_STEPS)]
    flat = np.concatenate([q.detach().numpy().reshape(-1) for q in net.parameters()])
    check = {"losses": losses, "params": flat[:: max(len(flat) // 512, 1)].tolist()}

    xs, ys = dataset(a.model, min(N_DIGITS, a.batch * 8), seed=0)
    data = list(batches(torch, a.model, xs, ys, a.batch, seed=rank))
    for i in range(3):
        step(*data[i % len(data)])
    samples = []
    for _ in range(a.rounds):
        world.Barrier()
        for i in range(a.steps):
            samples.append(step(*data[i % len(data)])[1])
    s = _summary(samples)
    per_rank = world.gather(s["step"])
    s["steps"] = len(samples)
    s["slowest_rank_step"] = max(per_rank) if per_rank else s["step"]
    if size > 1:
        dist.destroy_process_group()
    if rank == 0:
        name = "ddp default MB @gloo" if size > 1 else "none @shm"
        result = {"name": name, "reducer": "ddp" if size > 1 else "none", "link": "gloo",
                  "summary": s, "check": check}  # fmt: skip
        head = {
            "world": size,
            "backend": "gloo",
            "model": a.model,
            "mode": "eager",
            "batch": a.batch,
            "threads": a.threads,
            "torch_threads": torch.get_num_threads(),
        }
        print(json.dumps(head | {"results": [result]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
