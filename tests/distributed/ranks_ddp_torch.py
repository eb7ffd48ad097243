"""Checks of ranks_ddp.py run when PyTorch's gloo backend is there: adjit's DDP (on MPI) next
to PyTorch's own DDP (on gloo) in the same 2 processes: bucket plans, training, printing and
error texts (imported by ranks_ddp.py after its own checks, with the process group up)."""

from __future__ import annotations

import numpy as np
import torch
import torch.distributed as tdist
from ranks_common import check

import adjit
import adjit.distributed as dist
from adjit import nn
from adjit.nn.parallel import DistributedDataParallel as DDP

RANK, N = dist.get_rank(), dist.get_world_size()
tdist.init_process_group("gloo", rank=RANK, world_size=N)  # MASTER_ADDR/PORT from the test


def both(make: str):
    """The same model in adjit and in torch (adjit's initial values copied into torch's)."""
    adjit.manual_seed(0)
    ours = eval(make, {"nn": nn})  # noqa: S307  (a literal model expression of this file)
    theirs = eval(make, {"nn": torch.nn})  # noqa: S307
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    return ours, theirs


MLP = "nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 3))"
WIDE = "nn.Sequential(nn.Linear(4, 512), nn.ReLU(), nn.Linear(512, 512), nn.Linear(512, 4))"
CNN = "nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 3))"


def data(shape: tuple[int, ...], step: int) -> np.ndarray:
    return np.random.default_rng(100 * step + RANK).standard_normal(shape).astype(np.float32)


def rebuilt(ours, theirs) -> tuple[list[list[int]], list[list[int]]]:
    logged = theirs._get_ddp_logging_data()["rebuilt_per_bucket_param_indices"]
    want = [[int(i) for i in b.split()] for b in logged.split(", ")]
    return [b.indices for b in ours.reducer.buckets], want


@check("rebuilt-buckets-as-torch")
def _() -> None:
    for make, shape, kw in [
        (MLP, (3, 10), {"bucket_cap_mb": 0.002}),
        (MLP, (3, 10), {}),
        (WIDE, (2, 4), {}),  # the first rebuilt bucket holds 1 MiB, the next up to 25 MiB
        (WIDE, (2, 4), {"bucket_cap_mb": 1}),
        (CNN, (2, 1, 8, 8), {"bucket_cap_mb": 0.0005}),
    ]:
        m, tm = both(make)
        ours, theirs = DDP(m, **kw), torch.nn.parallel.DistributedDataParallel(tm, **kw)
        for step in range(2):
            x = data(shape, step)
            ours(adjit.tensor(x)).sum().backward()
            theirs(torch.tensor(x)).sum().backward()
        ours(adjit.tensor(x))
        theirs(torch.tensor(x))
        got, want = rebuilt(ours, theirs)
        # the same buckets; inside one, the order is the engines' order of readiness, where
        # adjit's convolution backward makes the bias's gradient before the weight's
        assert [sorted(b) for b in got] == [sorted(b) for b in want], (make, kw, got, want)
        if make != CNN:
            assert got == want, (make, kw, got, want)


@check("training-as-torch-ddp")
def _() -> None:
    """20 SGD-momentum steps of both DDPs from the same start on the same per-rank batches:
    equal within float32's accumulation-order error, measured as the distance between adjit's
    float32 and float64 DDP runs of the same steps (at most 4x that: the two frameworks'
    float32 kernels sum in different orders)."""
    finals = {}
    for name in ("ours32", "ours64", "theirs"):
        m, tm = both(MLP)
        model = tm if name == "theirs" else (m.double() if name == "ours64" else m)
        lib = torch if name == "theirs" else adjit
        ddp = torch.nn.parallel.DistributedDataParallel(model) if name == "theirs" else DDP(model)
        opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        for step in range(20):
            x = lib.tensor(data((8, 10), step))
            x = x.double() if name == "ours64" else x
            y = lib.tensor(np.random.default_rng(step + 7 * RANK).integers(0, 3, 8))
            opt.zero_grad()
            lib.nn.functional.cross_entropy(ddp(x), y).backward()
            opt.step()
        finals[name] = [p.detach().numpy().astype(np.float64) for p in model.parameters()]
    err32 = max(
        np.abs(a - b).max() for a, b in zip(finals["ours32"], finals["ours64"], strict=True)
    )
    diff = max(np.abs(a - b).max() for a, b in zip(finals["ours32"], finals["theirs"], strict=True))
    assert 0 < err32 < 1e-4, err32
    assert diff <= 4 * err32, (diff, err32)


class TwoHeads:
    """The same two-headed model in either library (b and `never` may go unused)."""

    @staticmethod
    def make(lib_nn):
        class M(lib_nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.a, self.b = lib_nn.Linear(6, 2), lib_nn.Linear(6, 2)
                self.never = lib_nn.Linear(6, 2)

            def forward(self, x, use_b: bool):
                return self.a(x) + self.b(x) if use_b else self.a(x)

        return M()


def message(fn) -> str:
    try:
        fn()
    except RuntimeError as e:
        return str(e)
    raise AssertionError("no RuntimeError")


@check("error-texts-as-torch")
def _() -> None:
    msgs = []
    for lib, lib_nn, wrap in (
        (adjit, nn, DDP),
        (torch, torch.nn, torch.nn.parallel.DistributedDataParallel),
    ):
        ddp = wrap(TwoHeads.make(lib_nn))
        ddp(lib.ones(2, 6), use_b=True).sum().backward()
        unused = message(lambda ddp=ddp, lib=lib: ddp(lib.ones(2, 6), use_b=True))
        model = TwoHeads.make(lib_nn)
        ddp = wrap(model, find_unused_parameters=True)
        out = ddp(lib.ones(2, 6), use_b=False).sum() + model.b.weight.sum()
        twice = message(out.backward)
        no_params = message(lambda wrap=wrap, lib_nn=lib_nn: wrap(lib_nn.ReLU()))
        msgs.append((unused, twice, no_params))
    for ours, theirs in zip(*msgs, strict=True):
        assert ours == theirs, (ours, theirs)


@check("printing-and-state-dict-as-torch")
def _() -> None:
    m, tm = both(CNN)
    ours, theirs = DDP(m), torch.nn.parallel.DistributedDataParallel(tm)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.bucket_bytes_cap == theirs.bucket_bytes_cap
    assert ours.broadcast_buffers == theirs.broadcast_buffers


tdist.destroy_process_group()
