"""DDP's single-process parts: the bucket plan against PyTorch's own, the unused-parameter
search, DataParallel on CPU, and the errors before init_process_group, side by side."""

from __future__ import annotations

import random
import sys

import numpy as np
import pytest

import adjit
from adjit import nn
from adjit.nn.parallel.buckets import BucketCaps, assign
from adjit.nn.parallel.unused import find_tensors, unused_parameters

torch = pytest.importorskip("torch")
tdist = torch.distributed
DTYPES = [(torch.float32, adjit.float32), (torch.float64, adjit.float64)]


def test_bucket_assignment_matches_torch() -> None:
    rng = random.Random(0)
    for _ in range(300):
        n = rng.randint(1, 12)
        picks = [rng.randrange(2) for _ in range(n)]
        numels = [rng.choice([1, 10, 1000, 50_000, 300_000]) for _ in range(n)]
        ts = [torch.empty(k, dtype=DTYPES[d][0]) for k, d in zip(numels, picks, strict=True)]
        limits = rng.choice([[sys.maxsize], [1 << 20, 25 << 20], [4000], [4000, 400_000]])
        order = rng.sample(range(n), n) if rng.random() < 0.5 else None
        sizes = [
            (t.numel() * t.element_size(), DTYPES[d][1]) for t, d in zip(ts, picks, strict=True)
        ]
        got = assign(sizes, limits, order)
        given = [ts[i] for i in order] if order else ts
        want, _ = tdist._compute_bucket_assignment_by_size(given, limits, [False] * n, order or [])
        want = [list(b) for b in want]
        if order is not None and len(set(picks)) > 1:  # (PyTorch's dtype map is unordered)
            got, want = sorted(map(tuple, got)), sorted(map(tuple, want))
        assert got == want, (numels, picks, limits, order)


@pytest.mark.parametrize("cap", [None, 25, 1, 0.5, 100])
@pytest.mark.parametrize("static_graph,find_unused", [(False, False), (False, True), (True, True)])
def test_bucket_caps_match_torch(cap, static_graph: bool, find_unused: bool) -> None:
    from torch.nn.parallel.distributed import _BucketCapacityConfig

    theirs = _BucketCapacityConfig.create(cap, None, False)
    ours = BucketCaps.create(cap)
    assert (ours.bucket_bytes_cap, ours.first_bucket_bytes_cap) == (
        theirs.bucket_bytes_cap,
        theirs.first_bucket_bytes_cap,
    )
    limits, _ = theirs.compute_bucket_size_limits(static_graph, find_unused)
    assert ours.initial_limits(static_graph, find_unused) == limits


def test_unused_parameters_eager_and_compiled() -> None:
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b, self.c = nn.Linear(3, 3), nn.Linear(3, 3), nn.Linear(3, 3)

        def forward(self, x):
            return {"main": self.a(x).relu(), "aux": [self.c.weight.sum()]}

    m = M()
    params = list(m.parameters())
    out = m(adjit.ones(2, 3))
    assert unused_parameters(params, list(find_tensors(out))) == [2, 3, 5]
    compiled = adjit.compile(m)
    out = compiled(adjit.ones(2, 3))
    assert unused_parameters(params, list(find_tensors(out))) == [2, 3, 5]
    assert unused_parameters(params, [m.b.bias]) == [0, 1, 2, 4, 5]  # an output that is a leaf


def test_ddp_before_init_process_group_raises_as_torch() -> None:
    with pytest.raises(ValueError) as ours:
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))
    with pytest.raises(ValueError) as theirs:
        torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 2))
    assert str(ours.value) == str(theirs.value)


def test_sampler_without_group_raises_as_torch() -> None:
    with pytest.raises(ValueError) as ours:
        adjit.utils.data.DistributedSampler(range(4))
    with pytest.raises(ValueError) as theirs:
        torch.utils.data.DistributedSampler(range(4))
    assert str(ours.value) == str(theirs.value)


def test_data_parallel_on_cpu_as_torch() -> None:
    adjit.manual_seed(0)
    ours = nn.DataParallel(nn.Linear(3, 2))
    theirs = torch.nn.DataParallel(torch.nn.Linear(3, 2))
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["module.weight", "module.bias"]
    assert ours.device_ids == theirs.device_ids == []
    x = adjit.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert adjit.equal(ours(x), ours.module(x))  # the module itself, called as is
    assert nn.parallel.DataParallel is nn.DataParallel
