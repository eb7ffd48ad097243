"""SyncBatchNorm on CPU side by side with torch: BatchNorm's forward outside a process group
(outputs, running statistics, every flag), its input checks, convert_sync_batchnorm (shared
parameters and buffers, nested modules), and the ValueError for a CPU input in training mode
inside an initialized group (a world of one in this process, for both)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

X = np.random.default_rng(0).normal(size=(4, 3, 5)).astype(np.float32)
CONFIGS: list[dict[str, Any]] = [
    {},
    {"momentum": None, "eps": 1e-3},
    {"affine": False, "track_running_stats": False},
    {"bias": False},
]


def _run(L: Any, kwargs: dict[str, Any], shape: tuple[int, ...]) -> list[Any]:
    m = L.nn.SyncBatchNorm(3, **kwargs)
    x = L.tensor(X).reshape(shape)
    outs = [m(x), m(x * 2)]
    m.eval()
    outs.append(m(x))
    return [repr(m), [k for k, _ in m.state_dict().items()]] + [
        o.detach().numpy() for o in outs + list(m.state_dict().values())
    ]


@pytest.mark.parametrize("shape", [(4, 3, 5), (20, 3), (2, 3, 2, 5), (2, 3, 1, 2, 5)], ids=str)
@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_forward_matches_torch(kwargs: dict[str, Any], shape: tuple[int, ...]) -> None:
    ours, theirs = _run(adjit, kwargs, shape), _run(torch, kwargs, shape)
    assert ours[:2] == theirs[:2]
    for a, b in zip(ours[2:], theirs[2:], strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "program",
    [
        lambda L: L.nn.SyncBatchNorm(3)(L.ones(3)),
        lambda L: L.nn.SyncBatchNorm(0)(L.ones(2, 0)),
        lambda L: L.nn.SyncBatchNorm(3)(L.ones(2, 4)),
    ],
)
def test_input_errors_match_torch(program: Any) -> None:
    with pytest.raises(Exception) as expected:
        program(torch)
    with pytest.raises(type(expected.value)) as got:
        program(adjit)
    assert str(got.value) == str(expected.value)


def _convert(L: Any) -> tuple[Any, Any]:
    L.manual_seed(0)
    net = L.nn.Sequential(
        L.nn.Conv2d(2, 3, 1),
        L.nn.BatchNorm2d(3, momentum=None),
        L.nn.Sequential(L.nn.Flatten(), L.nn.BatchNorm1d(12, affine=False)),
    )
    net[1].qconfig = "qconfig"
    net.eval()
    return net, L.nn.SyncBatchNorm.convert_sync_batchnorm(net, process_group="group")


def test_convert_sync_batchnorm_matches_torch() -> None:
    (ours_net, ours), (_, theirs) = _convert(adjit), _convert(torch)
    assert repr(ours) == repr(theirs) and ours is ours_net
    assert ours[1].weight is ours_net[1].weight and ours[1].running_mean is not None
    assert ours[1].qconfig == "qconfig" and ours[1].process_group == "group"
    assert not ours[1].training and not ours[2][1].training
    single = adjit.nn.SyncBatchNorm.convert_sync_batchnorm(adjit.nn.BatchNorm1d(4))
    assert type(single) is adjit.nn.SyncBatchNorm
    x = np.random.default_rng(1).normal(size=(2, 2, 2, 2)).astype(np.float32)
    np.testing.assert_allclose(
        ours(adjit.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(), 1e-5
    )


def test_cpu_input_in_a_process_group_refuses_as_torch() -> None:
    pytest.importorskip("mpi4py", reason="MPI unavailable: pip install 'adjit[mpi]'")
    import torch.distributed as tdist

    adjit.distributed.init_process_group("gloo")
    tdist.init_process_group("gloo", rank=0, world_size=1, store=tdist.HashStore())
    try:
        results = []
        for L in (adjit, torch):
            m = L.nn.SyncBatchNorm(3)
            with pytest.raises(ValueError) as err:
                m(L.ones(2, 3))
            m.eval()
            out = m(L.ones(2, 3))  # eval mode: the running statistics, no synchronization
            results.append((str(err.value), int(m.num_batches_tracked), out.sum().item()))
        assert results[0] == results[1]
    finally:
        tdist.destroy_process_group()
        adjit.distributed.destroy_process_group()
