"""Shared fixtures: run a program under adjit and (when importable) PyTorch, and compare."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

try:
    import fcntl
except ImportError:  # (not on Windows: the workers then run without quiet tests' locks)
    fcntl = None  # type: ignore[assignment]

# Note [the oracles' code paths]: on an AVX-512 CPU, NumPy's float64 exp/log/pow/... take SVML
# kernels, OpenBLAS its SkylakeX kernels and PyTorch its AVX-512 kernels, each differing in the
# last bits from their AVX2 paths, which the bit-for-bit comparisons with PyTorch (random
# streams, special functions) and the float32 bounds of iterated programs (LBFGS) were written
# against on an AVX2 machine. The tests pin all three to their AVX2 paths (set before any is
# imported; subprocesses inherit them), so the tests see the same oracle on every x86 CPU.
# Outside the tests, on AVX-512 machines, eager results of transcendental functions may differ
# from PyTorch's in the last bits (README, "Deliberate differences").
assert "numpy" not in sys.modules or os.environ.get("NPY_DISABLE_CPU_FEATURES"), (
    "numpy was imported before tests/conftest.py could pin its CPU features"
)
os.environ.setdefault("NPY_DISABLE_CPU_FEATURES", "X86_V4 AVX512_ICL AVX512_SPR")
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")
os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import adjit  # noqa: E402

os.environ.setdefault("ADJIT_VERIFY", "1")  # the verifier runs between passes in every test

HAS_TORCH = importlib.util.find_spec("torch") is not None


def to_numpy(v: object) -> object:
    """Tensors (adjit or torch) to NumPy, recursively through tuples, lists and dicts."""
    if isinstance(v, tuple | list):
        return type(v)(to_numpy(x) for x in v)
    if isinstance(v, dict):
        return {k: to_numpy(x) for k, x in v.items()}
    if hasattr(v, "detach") and hasattr(v, "numpy"):
        return np.asarray(v.detach().numpy())
    return v


def assert_same(a: object, b: object, rtol: float = 1e-6, atol: float = 1e-6) -> None:
    """Structural equality of two results; arrays compared with float tolerance and dtype."""
    a, b = to_numpy(a), to_numpy(b)
    if isinstance(a, tuple | list):
        assert isinstance(b, tuple | list) and len(a) == len(b), (a, b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y, rtol, atol)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k], rtol, atol)
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), (a, b)
        assert a.dtype == b.dtype, (a.dtype, b.dtype)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    else:
        assert a == b, (a, b)


def stable_id(v: object) -> str:
    """A test id of ``v`` without object addresses: the same in every process (the test
    workers of ``pytest -n`` must collect the same ids)."""
    return re.sub(r" at 0x[0-9a-f]+", "", str(v))


@contextlib.contextmanager
def at_threads(n: int) -> Iterator[None]:
    """adjit at ``n`` threads inside the block, its count before restored after."""
    before = adjit.get_num_threads()
    adjit.set_num_threads(n)
    try:
        yield
    finally:
        adjit.set_num_threads(before)


@pytest.fixture
def torch_mod():
    """The torch module, or skip the test when it is not installed."""
    return pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _seed():
    adjit.manual_seed(0)
    yield


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: skipped unless ADJIT_SLOW=1 (big models, long runs)")
    config.addinivalue_line(
        "markers", "quiet: runs while no other test worker runs a test (Note [tests in parallel])"
    )
    global _LOCKS
    if getattr(config, "workerinput", None) is not None and fcntl is not None:  # a worker of
        gate, room = _lock_files(os.getppid())  # ``pytest -n``: its controller's files
        _LOCKS = (open(gate, "a"), open(room, "a"))  # noqa: SIM115


def pytest_unconfigure(config: pytest.Config) -> None:
    global _LOCKS
    if _LOCKS is not None:  # a worker: its handles close
        for f in _LOCKS:
            f.close()
        _LOCKS = None
    if getattr(config, "workerinput", None) is None:  # the controller: its workers' files go
        for path in _lock_files(os.getpid()):
            with contextlib.suppress(OSError):
                os.remove(path)


def _lock_files(controller: int) -> tuple[str, str]:
    """The gate and room lock files of the test run whose controller is process ``controller``
    (Note [tests in parallel])."""
    path = os.path.join(tempfile.gettempdir(), f"adjit-tests-{controller}")
    return path + ".gate", path + ".room"


# Note [tests in parallel]
# ``python -m pytest`` runs the tests on one worker process a core, at most MAX_WORKERS
# (pytest-xdist; a file's tests all on one worker, so its module fixtures run once): 18 -> 12
# minutes on 2 cores. A few tests need the machine to themselves: MPI jobs with timeouts whose
# ranks spin-wait, a check that a spinning thread is seen. Marked ``quiet``, they run while no
# other worker runs a test: each test holds a shared lock on a file (``room``) from its setup
# to its teardown, a quiet test an exclusive one; every test first takes a second lock
# (``gate``) exclusively, and a quiet test keeps it while it waits and runs, so the other
# workers' next tests cannot keep the room taken forever. ``-n 0`` runs everything in this
# process, one test after another.
MAX_WORKERS = 4
_LOCKS: tuple[Any, Any] | None = None


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    if _LOCKS is None:
        return (yield)
    assert fcntl is not None
    gate, room = (f.fileno() for f in _LOCKS)
    quiet = item.get_closest_marker("quiet") is not None
    fcntl.flock(gate, fcntl.LOCK_EX)
    try:
        fcntl.flock(room, fcntl.LOCK_EX if quiet else fcntl.LOCK_SH)
    finally:
        if not quiet:
            fcntl.flock(gate, fcntl.LOCK_UN)
    try:
        return (yield)
    finally:
        fcntl.flock(room, fcntl.LOCK_UN)
        if quiet:
            fcntl.flock(gate, fcntl.LOCK_UN)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("ADJIT_SLOW"):
        return
    skip = pytest.mark.skip(reason="slow: set ADJIT_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
