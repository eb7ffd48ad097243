"""Note [BLAS threads]: small compiled products run on one OpenBLAS thread, then restore."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.runtime import blas
from adjit.runtime.executor import compile_program

import adjit


@pytest.fixture
def openblas():
    found = blas._openblas()
    if found is None or found[1] <= 1:
        pytest.skip("NumPy's BLAS is not a multi-threaded OpenBLAS here")
    return found


def test_small_products_go_single_threaded_and_restore(openblas, monkeypatch) -> None:
    monkeypatch.setenv("ADJIT_BLAS", "numpy")  # OpenBLAS's path (MKL's: test_mkl_gemm.py)
    calls: list[int] = []
    set_fn, default = openblas
    monkeypatch.setattr(
        blas, "_openblas", lambda: (lambda n: calls.append(n) or set_fn(n), default)
    )
    assert blas.single_threaded(4096, 4096, 4096) is None  # large: BLAS's own setting
    assert calls == []
    x, w = (adjit.tensor(np.ones(s, np.float32)) for s in ((8, 5), (5, 3)))
    g = adjit.explain(lambda a, b: a @ b, x, w).graph
    out = compile_program(g)([x.numpy(), w.numpy()])[0]
    np.testing.assert_array_equal(out, np.full((8, 3), 5, np.float32))
    assert calls == [1, default]  # one thread for the product, then the default again


def test_unknown_blas_changes_nothing(monkeypatch) -> None:
    monkeypatch.setattr(blas, "_openblas", lambda: None)
    assert blas.single_threaded(2, 2, 2) is None
