"""adjit.distributed's collectives on 2 MPI processes against NumPy; the world of one in-process."""

from __future__ import annotations

import subprocess
import sys

import pytest
from _mpi import launch

import adjit
import adjit.distributed as dist

pytestmark = pytest.mark.quiet  # MPI jobs with timeouts (Note [tests in parallel])


@pytest.fixture(scope="module")
def collectives():
    """One launch of ranks_collectives.py: every check of both ranks."""
    run = launch("ranks_collectives.py")
    assert run.proc.returncode == 0, run.proc.stdout[-3000:] + run.proc.stderr[-3000:]
    return run


def test_all_checks_pass_on_both_ranks(collectives) -> None:
    assert not collectives.failures(), "\n".join(collectives.failures())
    names = {r: {name for rank, name in collectives.checks if rank == r} for r in (0, 1)}
    assert names[0] == names[1] and len(names[0]) > 200  # every check ran on both ranks


@pytest.mark.parametrize(
    "name",
    [
        "all_reduce-float32-SUM-sync",
        "all_reduce-float16-AVG-async",
        "all_reduce-bool-MIN-sync",
        "all_reduce-complex64-SUM-async",
        "all_reduce-int64-PRODUCT-sync",
        "all_reduce-noncontiguous",
        "all_reduce-shape-mismatch",
        "all_reduce-dtype-mismatch-async",
        "all_reduce-several-async-in-flight",
        "broadcast-float64",
        "broadcast-async-noncontiguous",
        "barrier",
        "reduce-float32-MAX",
        "reduce-bool-SUM",
        "reduce_scatter_tensor-float16-AVG",
        "reduce_scatter_tensor-int64-SUM",
        "all_gather-complex64",
        "all_gather_into_tensor-bool",
        "gather-scatter-int32",
        "all_gather-noncontiguous-async",
        "send-recv",
        "isend-irecv-tags-noncontiguous",
        "recv-shape-mismatch",
        "p2p-errors",
        "objects",
        "list-errors",
        "kind-mismatch",
        "new_group",
        "batch_isend_irecv",
        "all_reduce-bitwise",
        "all_to_all",
        "wait-timeout-then-complete",
        "reduce_scatter-float32-SUM",
        "reduce_scatter-float16-AVG",
        "reduce_scatter-int64-PRODUCT",
        "reduce_scatter-noncontiguous",
        "reduce_scatter-errors",
        "send_object_list-recv_object_list",
        "recv_object_list-length-mismatch",
        "object-p2p-bad-peer",
    ],
)
def test_check_ran_on_both_ranks(collectives, name: str) -> None:
    assert collectives.checks.get((0, name)) == "ok"
    assert collectives.checks.get((1, name)) == "ok"


# ---- the world of one, in this process (MPI singleton init: no mpiexec) -------------------
@pytest.fixture
def world_of_one():
    pytest.importorskip("mpi4py", reason="MPI unavailable: pip install 'adjit[mpi]'")
    dist.init_process_group("gloo")  # runs on MPI too
    yield
    dist.destroy_process_group()


def test_world_of_one(world_of_one) -> None:
    assert dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    assert dist.get_backend() == "gloo"
    x = adjit.tensor([1.0, 2.0])
    work = dist.all_reduce(x, op=dist.ReduceOp.AVG, async_op=True)
    assert work.wait() and work.is_completed() and x.tolist() == [1.0, 2.0]
    assert x._version == 1
    dist.broadcast(x, src=0)
    assert dist.barrier() is None


def test_every_collective_in_a_world_of_one(world_of_one) -> None:
    """With one rank every collective is a copy: the fast path H2's unit tests can use."""
    x = adjit.arange(6.0).reshape(2, 3)
    out = adjit.zeros(2, 3)
    dist.reduce(x, dst=0, op=dist.ReduceOp.MAX)
    dist.reduce_scatter_tensor(out, x)
    assert out.tolist() == x.tolist()
    outs = [adjit.zeros(2, 3)]
    dist.all_gather(outs, x)
    big = adjit.zeros(2, 3)
    dist.all_gather_into_tensor(big, x)
    gathered = [adjit.zeros(2, 3)]
    dist.gather(x, gathered)
    got = adjit.zeros(2, 3)
    dist.scatter(got, [x])
    a2a = adjit.zeros(2, 3)
    dist.all_to_all_single(a2a, x)
    for t in (outs[0], big, gathered[0], got, a2a):
        assert t.tolist() == x.tolist()
    objs = [None]
    dist.all_gather_object(objs, {"k": 1})
    assert objs == [{"k": 1}]
    with pytest.raises(ValueError, match="Invalid destination rank"):
        dist.send(x, dst=0)
    dist.monitored_barrier()


def test_reduce_scatter_and_object_p2p_in_a_world_of_one(world_of_one) -> None:
    x = adjit.arange(6.0).reshape(2, 3)
    out = adjit.zeros(2, 3)
    work = dist.reduce_scatter(out, [x], op=dist.ReduceOp.AVG, async_op=True)
    assert work.wait() and out.tolist() == x.tolist() and out._version == 1
    with pytest.raises(
        RuntimeError, match=r"invalid input tensor list size, must be world size \(1\), got 2"
    ):
        dist.reduce_scatter(out, [x, x])
    with pytest.raises(ValueError, match="Invalid destination rank: destination rank should not"):
        dist.send_object_list([1], dst=0)
    with pytest.raises(ValueError, match="Invalid source rank: source rank should not"):
        dist.recv_object_list([1], src=0)
    with pytest.raises(ValueError, match="Invalid destination rank: 1 "):
        dist.send_object_list([1], group_dst=1)
    assert dist.default_pg_timeout == dist.timedelta(minutes=30)


def _torch_error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001  (compared below)
        return type(e), str(e)
    raise AssertionError("torch raised nothing")


def test_reduce_scatter_argument_errors_match_torch() -> None:
    """The errors torch raises before it needs a process group, side by side (no group here
    either: adjit checks the arguments first too)."""
    torch = pytest.importorskip("torch")
    import torch.distributed as tdist

    cases = [
        lambda m, d: d.reduce_scatter([m.ones(2)], [m.ones(2)]),
        lambda m, d: d.reduce_scatter(m.ones(2), m.ones(2)),
        lambda m, d: d.reduce_scatter(m.ones(2), (m.ones(2),)),
        lambda m, d: d.reduce_scatter(m.ones(2), [m.ones(2, dtype=m.float64)]),
        lambda m, d: d.reduce_scatter(m.ones(2, dtype=m.complex64), [m.ones(2, dtype=m.float64)]),
        lambda m, d: d.reduce_scatter(m.ones(2, dtype=m.complex128), [m.ones(2, dtype=m.float64)]),
    ]
    for case in cases:
        want = _torch_error(lambda case=case: case(torch, tdist))
        with pytest.raises(want[0]) as got:
            case(adjit, dist)
        # (the only difference: the Tensor class's module, in texts that print a type)
        assert str(got.value).replace("adjit.runtime.tensor.Tensor", "torch.Tensor") == want[1]
    assert (dist.default_pg_timeout, dist.timedelta) == (tdist.default_pg_timeout, tdist.timedelta)
    # complex64 mixes with float32 in both (no error before the group is needed)
    with pytest.raises(ValueError, match="has not been initialized"):
        dist.reduce_scatter(adjit.ones(2, dtype=adjit.complex64), [adjit.ones(2)])


def test_object_p2p_peer_errors_match_torch_gloo(world_of_one) -> None:
    """torch checks the peer after it has a group: its gloo world of one, in this process."""
    pytest.importorskip("torch")
    import torch.distributed as tdist

    tdist.init_process_group("gloo", rank=0, world_size=1, store=tdist.HashStore())
    try:
        cases = [
            lambda d: d.send_object_list([1], dst=0),
            lambda d: d.recv_object_list([1], src=0),
            lambda d: d.send_object_list([1], group_dst=0),
            lambda d: d.send_object_list([1]),
            lambda d: d.recv_object_list([1]),
            lambda d: d.recv_object_list([1], src=0, group_src=0),
        ]
        for case in cases:
            want = _torch_error(lambda case=case: case(tdist))
            with pytest.raises(want[0]) as got:
                case(dist)
            assert str(got.value) == want[1]
    finally:
        tdist.destroy_process_group()


def test_backend_names(world_of_one) -> None:
    assert dist.Backend("GLOO") == "gloo" == dist.Backend.GLOO and dist.Backend.MPI == "mpi"
    assert dist.get_backend() == dist.Backend.GLOO


def test_init_twice_and_not_initialized(world_of_one) -> None:
    with pytest.raises(ValueError, match="trying to initialize the default process group twice!"):
        dist.init_process_group()


def test_not_initialized_errors() -> None:
    msg = (
        "Default process group has not been initialized, please make sure to call "
        "init_process_group."
    )
    for fn in (
        dist.get_rank,
        dist.get_world_size,
        dist.barrier,
        lambda: dist.all_reduce(adjit.ones(1)),
    ):
        with pytest.raises(ValueError) as e:
            fn()
        assert str(e.value) == msg
    assert not dist.is_initialized() and dist.is_available()


@pytest.mark.parametrize(
    ("kwargs", "exc", "text"),
    [
        ({"backend": "nccl"}, RuntimeError, "Distributed package doesn't have NCCL built in"),
        ({"backend": "bogus"}, ValueError, "Invalid backend: 'bogus'"),
        ({"rank": 3}, ValueError, "rank=3 but the MPI launcher gave this process rank 0"),
        (
            {"world_size": 4},
            ValueError,
            "world_size=4 but the MPI launcher gave this process world_size 1",
        ),
    ],
)
def test_init_errors(kwargs, exc, text) -> None:
    pytest.importorskip("mpi4py", reason="MPI unavailable: pip install 'adjit[mpi]'")
    with pytest.raises(exc, match=text.replace("(", r"\(")):
        dist.init_process_group(**kwargs)
    assert not dist.is_initialized()


def test_timeouts(monkeypatch) -> None:
    pytest.importorskip("mpi4py", reason="MPI unavailable: pip install 'adjit[mpi]'")
    from datetime import timedelta

    dist.init_process_group(timeout=timedelta(seconds=7))
    assert dist.group.WORLD.timeout == timedelta(seconds=7)
    dist.destroy_process_group()
    monkeypatch.setenv("ADJIT_DIST_TIMEOUT", "2.5")
    dist.init_process_group()
    assert dist.group.WORLD.timeout == timedelta(seconds=2.5)
    dist.destroy_process_group()
    monkeypatch.setenv("ADJIT_DIST_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="ADJIT_DIST_TIMEOUT='soon': expected a number of seconds"):
        dist.init_process_group()
    with pytest.raises(
        TypeError, match="Expected timeout argument to be of typedatetime.timedelta"
    ):
        dist.init_process_group(timeout=30)
    assert not dist.is_initialized()


def test_env_rank_must_agree(monkeypatch) -> None:
    pytest.importorskip("mpi4py", reason="MPI unavailable: pip install 'adjit[mpi]'")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(
        ValueError, match="WORLD_SIZE=2 but the MPI launcher gave this process world_size 1"
    ):
        dist.init_process_group()
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    dist.init_process_group()
    dist.destroy_process_group()


NO_MPI = """
import sys
sys.modules["mpi4py"] = None  # as if the mpi extra were not installed
import adjit
import adjit.distributed as dist
print(dist.is_available(), dist.is_mpi_available())
try:
    dist.init_process_group()
except RuntimeError as e:
    print(e)
"""


def test_without_mpi4py() -> None:
    out = subprocess.run(
        [sys.executable, "-c", NO_MPI], capture_output=True, text=True, check=True, timeout=120
    ).stdout.splitlines()
    assert out == [
        "True False",
        "adjit.distributed runs on MPI through mpi4py, which is not installed: pip install "
        '"adjit[mpi]" (mpi4py and the mpich wheel)',
    ]
