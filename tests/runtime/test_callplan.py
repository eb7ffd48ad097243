"""Prepared calls (Note [prepared calls]): same results as the interpreter and the generic path,
results the caller keeps are never overwritten, bad inputs are refused, threads are safe."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float32, float64
from adjit.ir.graph import Eqn, Graph, Lit, Var
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.ir.shapes import infer
from adjit.runtime import callplan
from adjit.runtime.executor import Buffers, compile_program


def _binary(op: Op, a: Var | Lit, b: Var | Lit, eqns: list[Eqn]) -> Var:
    avals = [x.aval if isinstance(x, Var) else Aval((), float32) for x in (a, b)]
    out = Var(infer(op, avals, {}))
    eqns.append(Eqn(op, (a, b), {}, out))
    return out


def _program(shape: tuple[int, ...], dtype=float32) -> Graph:
    """f(x, s) = (x*x + s, sum(x*s), x, 2): a full-size output, a reduction, an input passed
    through and a literal output."""
    x, s = Var(Aval(shape, dtype)), Var(Aval((), dtype))
    eqns: list[Eqn] = []
    y = _binary(Op.ADD, _binary(Op.MUL, x, x, eqns), s, eqns)
    xs = _binary(Op.MUL, x, s, eqns)
    total = Var(infer(Op.SUM, [xs.aval], {"axes": None, "keepdim": False}))
    eqns.append(Eqn(Op.SUM, (xs,), {"axes": None, "keepdim": False}, total))
    return Graph((x, s), tuple(eqns), (y, total, x, Lit(2.0, Aval((), dtype))))


@pytest.mark.parametrize("shape", [(), (3,), (7, 5), (300, 301)], ids=str)
@pytest.mark.parametrize("dtype", [float32, float64], ids=str)
def test_prepared_call_equals_interpreter_and_generic_path(shape, dtype) -> None:
    g = _program(shape, dtype)
    ex = compile_program(g)
    assert ex._plan is not None  # kernel-only: prepared
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.standard_normal(shape).astype(dtype.np)
        s = np.asarray(rng.standard_normal(), dtype.np)
        got = ex([x, s])
        generic = ex._generic([x, s], Buffers())
        ref = interpret(g, [x, s])
        for a, b, r in zip(got, generic, ref, strict=True):
            np.testing.assert_array_equal(a, b)
            eps = np.finfo(dtype.np).eps
            np.testing.assert_allclose(a, r, rtol=8 * eps * max(1, x.size), atol=0)
        # an input passed through is a copy: writing into a result never changes an argument
        assert not np.shares_memory(got[2], x) and not np.shares_memory(generic[2], x)


@pytest.mark.parametrize("shape", [(3,), (300, 301)], ids=["staged", "pooled"])
def test_results_kept_by_the_caller_are_not_overwritten(shape) -> None:
    ex = compile_program(_program(shape))
    x = np.ones(shape, np.float32)
    first = ex([x, np.float32(1)])
    kept = [a.copy() for a in first[:2]]
    second = ex([x * 3, np.float32(5)])
    for a, k in zip(first[:2], kept, strict=True):
        np.testing.assert_array_equal(a, k)
    assert not np.array_equal(second[0], first[0])


def test_small_values_go_through_fixed_homes() -> None:
    ex = compile_program(_program((3,)))
    plan = ex._plan
    assert plan is not None and plan.static is not None  # one prebuilt foreign call
    big = compile_program(_program((300, 301)))._plan
    assert big is not None and big.static is None and big.pooled and big.addressed
    assert 3 * 4 <= callplan.SMALL_BYTES < 300 * 301 * 4


@pytest.mark.parametrize("shape", [(3,), (300, 301)], ids=["staged", "addressed"])
def test_wrong_input_shape_is_refused(shape) -> None:
    ex = compile_program(_program(shape))
    bad = np.ones((shape[0] + 1,), np.float32)
    with pytest.raises(ValueError, match="input 0: expected shape"):
        ex([bad, np.float32(1)])
    with pytest.raises(TypeError, match="takes 2 inputs"):
        ex([np.ones(shape, np.float32)])


def test_noncontiguous_large_input_is_read_correctly() -> None:
    g = _program((300, 301))
    ex = compile_program(g)
    x = np.random.default_rng(1).standard_normal((301, 300)).astype(np.float32).T
    got, ref = ex([x, np.float32(0.5)]), interpret(g, [x, np.float32(0.5)])
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-6)


def test_concurrent_calls_are_correct() -> None:
    ex = compile_program(_program((4,)))

    def run(i: int) -> np.ndarray:
        out = None
        for _ in range(200):
            out = ex([np.full(4, i, np.float32), np.float32(i)])[0]
        assert out is not None
        return out

    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(run, range(8)))
    for i, o in enumerate(outs):
        np.testing.assert_array_equal(o, np.full(4, i * i + i, np.float32))
