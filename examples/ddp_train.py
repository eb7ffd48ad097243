"""Data-parallel training with PyTorch's API on MPI: ``adjit run -n 2 examples/ddp_train.py``.

Each rank trains the same MLP on its share of every epoch (DistributedSampler); DDP averages the
gradients with bucketed all-reduces that overlap the backward; rank 0 writes the checkpoint.
Run with one process (``python examples/ddp_train.py``) it is a world of one and gives the same
model (up to float rounding) as two ranks: the global batch is the same.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import numpy as np

import adjit
import adjit.distributed as dist
from adjit import nn
from adjit.nn.parallel import DistributedDataParallel as DDP
from adjit.utils.data import DataLoader, DistributedSampler, TensorDataset

GLOBAL_BATCH, EPOCHS = 64, 5


def data() -> TensorDataset:
    """A synthetic 10-class problem: 2,048 points of 32 features around 10 centres."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, 32)).astype(np.float32)
    y = rng.integers(0, 10, size=2048)
    x = centres[y] + 2.0 * rng.normal(size=(2048, 32)).astype(np.float32)
    return TensorDataset(adjit.tensor(x), adjit.tensor(y))


def main() -> None:
    epochs = int(sys.argv[sys.argv.index("--epochs") + 1]) if "--epochs" in sys.argv else EPOCHS
    dist.init_process_group(backend="mpi")  # rank and world size from mpiexec
    rank, world = dist.get_rank(), dist.get_world_size()
    adjit.manual_seed(rank)  # different initial weights per rank: DDP broadcasts rank 0's
    model = DDP(nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 10)))
    opt = adjit.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    loss_fn = adjit.compile(lambda x, y: nn.functional.cross_entropy(model(x), y))

    dataset = data()
    sampler = DistributedSampler(dataset, shuffle=True, seed=0)
    loader = DataLoader(dataset, batch_size=GLOBAL_BATCH // world, sampler=sampler)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every rank
        total = adjit.zeros(())
        for x, y in loader:
            opt.zero_grad()
            loss = loss_fn(x, y)
            loss.backward()  # the compiled backward feeds DDP's buckets as gradients appear
            opt.step()
            total += loss.detach()
        dist.all_reduce(total, op=dist.ReduceOp.AVG)
        if rank == 0:
            print(f"epoch {epoch + 1}: mean loss {total.item() / len(loader):.4f} ({world} ranks)")

    # rank 0 makes a fresh folder (runs at the same time never share a file) and names it
    folder = [tempfile.mkdtemp(prefix="adjit_ddp_") if rank == 0 else None]
    dist.broadcast_object_list(folder, src=0)
    path = os.path.join(folder[0], "model.pt")
    if rank == 0:  # one writer; the others wait until the file is complete
        adjit.save(model.module.state_dict(), path)
    dist.barrier()
    state = adjit.load(path)
    same = all(adjit.equal(state[k], v) for k, v in model.module.state_dict().items())
    print(f"rank {rank}: checkpoint {path} matches this rank's model: {same}")
    dist.barrier()  # every rank has read it
    if rank == 0:
        shutil.rmtree(folder[0])
    dist.destroy_process_group()
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
