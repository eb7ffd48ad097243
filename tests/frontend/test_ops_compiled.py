"""Every row of the op table compiled: values and gradients equal eager ones (both backends)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from adjit.runtime import kernels

import adjit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "runtime"))
from test_ops_table import CASES, Case, cotangents, differentiable, make_args, outputs  # noqa: E402

# ops whose output shape depends on tensor values: not traceable whole (fullgraph=True refuses
# them), by default a graph break
DATA_DEPENDENT = {
    "nonzero",
    "where-nonzero",
    "getitem-mask",
    "getitem-mask-row",
}  # sort compiles (ARGSORT)


def _grads(outs: list, args: list, case: Case) -> list:
    diff = differentiable(outs)
    inputs = [a for a in args if a.requires_grad]
    if not diff or not inputs:
        return []
    cts = [
        adjit.tensor(c, dtype=o.dtype) for o, c in zip(diff, cotangents(case, diff), strict=True)
    ]
    gs = adjit.autograd.grad(diff, inputs, cts, allow_unused=True)
    return [None if g is None else g.numpy() for g in gs]


@pytest.mark.parametrize("backend", ["llvm", "llvm-threads", "interpreter"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_compiled_equals_eager(case: Case, backend: str, monkeypatch) -> None:
    if backend == "llvm-threads":  # every kernel split over the thread pool
        monkeypatch.setattr(kernels, "PARALLEL_THRESHOLD", 1)
        monkeypatch.setattr(kernels, "REDUCE_THRESHOLD", 1)
        monkeypatch.setattr(kernels, "PROBES", 0)  # split from the first call
        backend = "llvm"
    if case.op in DATA_DEPENDENT or case.name in DATA_DEPENDENT:  # else a graph break
        with pytest.raises(adjit.TracingError):
            adjit.compile(lambda *a: case.fn(adjit, *a), fullgraph=True)(*make_args(case, adjit))
    eager_args, comp_args = make_args(case, adjit), make_args(case, adjit)
    expected = outputs(case.fn(adjit, *eager_args))
    compiled = adjit.compile(lambda *a: case.fn(adjit, *a), backend=backend)
    got = outputs(compiled(*comp_args))
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.dtype is e.dtype and g.shape == e.shape
        # float64 inputs: a few ulp from reassociated reductions / vector math
        np.testing.assert_allclose(g.detach().numpy(), e.detach().numpy(), rtol=1e-9, atol=1e-12)
    for g, e in zip(_grads(got, comp_args, case), _grads(expected, eager_args, case), strict=True):
        assert (g is None) == (e is None)
        if e is not None:
            # compiled is finite where eager is NaN from an untaken `where` branch (by design)
            untaken = np.isnan(e) & np.isfinite(g)
            np.testing.assert_allclose(g[~untaken], e[~untaken], rtol=1e-9, atol=1e-12)
