"""Shared fixtures: run a program under adjit and (when importable) PyTorch, and compare."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

import adjit

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("ADJIT_SLOW"):
        return
    skip = pytest.mark.skip(reason="slow: set ADJIT_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
