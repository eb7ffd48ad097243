"""Every row of the op table traced once with symbolic sizes, run at three sizes vs eager."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import adjit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "runtime"))
from test_ops_compiled import DATA_DEPENDENT, _grads  # noqa: E402
from test_ops_table import CASES, Case, make_args, outputs  # noqa: E402

# Rows whose trace specializes every size (no symbol survives), with the reason. A row leaving
# this table (it became symbolic) or joining it (it stopped being symbolic) fails the test.
STATIC: dict[str, str] = {
    "expand": "expand(4, 2, 3) names the input's sizes: the program is for (2, 1) only",
    "broadcast_to": "broadcast_to(x, (3, 2, 4)) names the input's sizes: (2, 1) only",
    "scatter_add": "the src gradient assumes index and src shapes agree, which tracing never "
    "compared: the adjoint cannot prove it, so the row traces static",
}
# Rows whose guards reject both larger sizes tried: the program is right for one size (or a few)
GUARDED: dict[str, str] = {
    "reshape": "a fixed target shape (3, 2): numel must be 6",
    "view": "a fixed target shape (6,): numel must be 6",
    "unflatten": "unflatten(1, (2, 3)): that dim must be 6",
    "split": "split(x, 2, 1): the number of pieces depends on the size",
    "chunk": "chunk(x, 2, 0): the pieces' sizes depend on the size",
    "cumsum-0": "the log-step scan's trip count and slices depend on the size: traced at 7, its "
    "guards accept 5 to 7 (8 and 10 get programs of their own)",
}


def _at(case: Case, shapes: list[tuple[int, ...]]) -> Case:
    return replace(
        case,
        args=tuple(replace(a, shape=s) for a, s in zip(case.args, shapes, strict=True)),
        name=case.name + "@" + "x".join(str(n) for s in shapes for n in s),
    )


def _check(case: Case, compiled, args: list, eager_args: list) -> None:
    expected = outputs(case.fn(adjit, *eager_args))
    got = outputs(compiled(*args))
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.dtype is e.dtype and tuple(g.shape) == tuple(e.shape)
        np.testing.assert_allclose(g.detach().numpy(), e.detach().numpy(), rtol=1e-9, atol=1e-12)
    for g, e in zip(_grads(got, args, case), _grads(expected, eager_args, case), strict=True):
        assert (g is None) == (e is None)
        if e is not None:
            untaken = np.isnan(e) & np.isfinite(g)  # Note [untaken where branches]
            np.testing.assert_allclose(g[~untaken], e[~untaken], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_one_symbolic_trace_serves_three_sizes(case: Case) -> None:
    if case.op in DATA_DEPENDENT or case.name in DATA_DEPENDENT:
        pytest.skip("a value-dependent shape: a graph break, not a symbolic size")
    if all(n < 2 for a in case.args for n in a.shape):
        pytest.skip("no size >= 2 to make symbolic (0-d and size-1 arguments)")
    compiled = adjit.compile(lambda *a: case.fn(adjit, *a), dynamic=True)
    _check(case, compiled, make_args(case, adjit), make_args(case, adjit))
    symbolic = [t.symbolic for t in compiled._templates]
    if not symbolic or all(t.env.simplify(s).is_Integer for t in symbolic for s in t.env.symbols):
        assert case.name in STATIC, "the trace specialized every size"
        return
    assert case.name not in STATIC, "the row is symbolic now: remove it from STATIC"
    t = symbolic[-1]
    served = 0
    for bump in (1, 3):
        shapes = t.grown([a.shape for a in case.args], bump)
        if shapes is None:
            continue  # the guards say these sizes need another program
        at = _at(case, shapes)
        before = compiled.trace_count
        _check(at, compiled, make_args(at, adjit), make_args(at, adjit))
        assert compiled.trace_count == before, "a size the guards accept traced again"
        served += 1
    assert served or case.name in GUARDED, f"guards reject both sizes: {t.guard_text}"
