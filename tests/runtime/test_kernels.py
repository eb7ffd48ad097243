"""Threaded kernel calls: splitting the outer loop gives the serial result, without races."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float32, float64
from adjit.ir.graph import Eqn, Graph, Var
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.ir.shapes import infer
from adjit.runtime import kernels
from adjit.runtime.executor import KernelStep, compile_program


def _graph(shape, dtype, axes, keepdim=False) -> Graph:
    """y = x*x + 1 (full output) and sum/amax/amin of y over ``axes``, in one kernel."""
    x = Var(Aval(shape, dtype))
    sq = Var(infer(Op.MUL, [x.aval, x.aval], {}))
    eqns = [Eqn(Op.MUL, (x, x), {}, sq)]
    outs = [sq]
    for op in (Op.SUM, Op.AMAX, Op.AMIN):
        attrs = {"axes": axes, "keepdim": keepdim}
        r = Var(infer(op, [sq.aval], attrs))
        eqns.append(Eqn(op, (sq,), attrs, r))
        outs.append(r)
    return Graph((x,), tuple(eqns), tuple(outs))


def test_chunks_cover_the_range() -> None:
    assert kernels.chunks(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert kernels.chunks(1, 4) == [(0, 1)]
    assert kernels.chunks(0, 2) == [(0, 0)]


@pytest.mark.parametrize(
    "shape,axes",
    [((4099,), None), ((64, 257), (1,)), ((257, 64), (0,)), ((9, 31, 17), (1,)), ((9, 31), None)],
    ids=["all", "trailing", "leading", "middle", "2d-all"],
)
@pytest.mark.parametrize("dtype", [float32, float64], ids=str)
def test_split_matches_serial(shape, axes, dtype) -> None:
    g = _graph(shape, dtype, axes)
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype.np)
    x.reshape(-1)[7] = np.nan if axes == (1,) else x.reshape(-1)[7]  # NaN stays in its row
    serial = compile_program(g, threshold=1 << 62)
    split = compile_program(g, threshold=1)  # force the thread pool
    (step,) = [s for s in split.steps if isinstance(s, KernelStep)]
    assert step.runner.parallel == (kernels.THREADS > 1)
    ref = interpret(g, [x])
    for _ in range(3):  # repeated calls: private partial buffers are re-initialized
        a, b = serial([x]), split([x])
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(b[0], ref[0])
        for i in (2, 3):  # max/min: exact whatever the order
            np.testing.assert_array_equal(b[i], ref[i])
        n = x.size // max(1, ref[1].size)
        eps = np.finfo(dtype.np).eps
        bound = n * eps * np.sum(np.abs(ref[0]), axis=axes) + 1e-30
        assert np.all(np.abs(b[1] - ref[1]) <= bound) or np.isnan(ref[1]).any()


def test_small_kernels_run_serially() -> None:
    ex = compile_program(_graph((100,), float32, None))
    (step,) = [s for s in ex.steps if isinstance(s, KernelStep)]
    assert not step.runner.parallel


def test_many_threads_call_one_kernel_at_once() -> None:
    from concurrent.futures import ThreadPoolExecutor

    g = _graph((512, 64), float32, (1,))
    ex = compile_program(g)
    (step,) = [s for s in ex.steps if isinstance(s, KernelStep)]
    xs = [np.full((512, 64), i, np.float32) for i in range(8)]
    outs = [np.empty((512,), np.float32) for _ in xs]

    def run(i: int) -> None:
        bufs = [np.empty((512, 64), np.float32), outs[i], np.empty(512, np.float32),
                np.empty(512, np.float32)]  # fmt: skip
        step.runner.run([b.ctypes.data for b in bufs] + [xs[i].ctypes.data], bufs)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(run, range(8)))
    for i, o in enumerate(outs):
        np.testing.assert_array_equal(o, np.full(512, 64 * i * i, np.float32))


def test_threads_sharing_a_split_reducing_kernel_get_their_own_totals() -> None:
    from concurrent.futures import ThreadPoolExecutor

    g = _graph((4099,), float32, None)  # reduces over the split loop: private partial sums
    ex = compile_program(g, threshold=1)
    xs = [np.full(4099, i, np.float32) for i in range(6)]

    def run(i: int) -> float:
        total = 0.0
        for _ in range(30):
            total = float(ex([xs[i]])[1])  # generic path when another thread holds the plan
        return total

    with ThreadPoolExecutor(3) as pool:
        totals = list(pool.map(run, range(6)))
    assert totals == [4099.0 * i * i for i in range(6)]
