"""The native thread pool (Note [native thread pool]): split kernels give the serial results
bit for bit, under stress, from two Python threads, across thread counts and fork."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from adjit.codegen.thread_pool import MAX_ARITY, host_arch
from adjit.ir.aval import Aval
from adjit.ir.dtypes import DType, float32, float64, int32, int64
from adjit.ir.graph import Eqn, Graph, Var
from adjit.ir.ops import Op
from adjit.ir.shapes import infer
from adjit.runtime import kernels, native_pool, workers
from adjit.runtime.executor import KernelStep, compile_program

CASES = Path(__file__).with_name("_native_pool_cases.py")
needs_pool = pytest.mark.skipif(host_arch() is None, reason="no native pool on this platform")


def chain(
    n_inputs: int, shape: tuple[int, ...], dtype: DType, axes: tuple[int, ...] | None
) -> Graph:
    """y = ((x0 * x1 + x2) * x3 + ...) and, when ``axes`` is not None, sum/amax of y over them:
    one kernel of 1 + n_inputs (+ 2) pointer arguments."""
    xs = [Var(Aval(shape, dtype)) for _ in range(n_inputs)]
    eqns, y = [], xs[0]
    for k, x in enumerate(xs[1:]):
        op = Op.MUL if k % 2 == 0 else Op.ADD
        z = Var(infer(op, [y.aval, x.aval], {}))
        eqns.append(Eqn(op, (y, x), {}, z))
        y = z
    outs = [y]
    for op in (Op.SUM, Op.AMAX) if axes is not None else ():
        attrs = {"axes": axes, "keepdim": False}
        r = Var(infer(op, [y.aval], attrs))
        eqns.append(Eqn(op, (y,), attrs, r))
        outs.append(r)
    return Graph(tuple(xs), tuple(eqns), tuple(outs))


def inputs(g: Graph, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for v in g.inputs:
        a = rng.standard_normal(v.aval.shape) * 3
        out.append(a.astype(v.aval.dtype.np))
    return out


def run_with(g: Graph, xs: list[np.ndarray], threads: int, native: bool, calls: int = 2):
    """The split program's results at ``threads`` threads on the native or the Python pool."""
    before = workers.num_threads()
    saved = native_pool.ENABLED[0]
    workers.set_num_threads(threads)
    native_pool.ENABLED[0] = native
    try:
        ex = compile_program(g, threshold=1)  # split whatever the size
        assert any(isinstance(s, KernelStep) and s.runner.parallel for s in ex.steps)
        results = [ex(xs) for _ in range(calls)]  # private partial sums re-initialized
    finally:
        workers.set_num_threads(before)
        native_pool.ENABLED[0] = saved
    for r in results[1:]:
        for a, b in zip(results[0], r, strict=True):
            np.testing.assert_array_equal(a, b)
    return results[0]


SHAPES = [  # (shape, reduced axes): sizes around the chunk counts, odd extents
    ((2,), None), ((7,), None), ((8,), None), ((1000,), None), ((65537,), None),
    ((4099,), (0,)), ((257, 64), (0,)), ((64, 257), (1,)), ((9, 31, 17), (1,)),
    ((3, 5), (0, 1)),
]  # fmt: skip


@needs_pool
@pytest.mark.parametrize(("shape", "axes"), SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [float32, float64, int32, int64], ids=str)
@pytest.mark.parametrize("n_inputs", [1, 2, 5])
def test_native_split_equals_python_pool_and_serial(shape, axes, dtype, n_inputs) -> None:
    if axes is None and n_inputs == 1:
        pytest.skip("a copy: no kernel")
    g = chain(n_inputs, shape, dtype, axes)
    xs = inputs(g)
    pool = native_pool.get()
    assert pool is not None
    tasks = pool.counter("tasks") + pool.counter("alone")
    for threads in (2, 3):
        native = run_with(g, xs, threads, True)
        python = run_with(g, xs, threads, False)  # the same chunks: the same partial sums
        for a, b in zip(native, python, strict=True):
            np.testing.assert_array_equal(a, b)
        serial = run_with(g, xs, 1, True)
        np.testing.assert_array_equal(native[0], serial[0])  # elementwise: any split
        if axes is not None:
            np.testing.assert_array_equal(native[2], serial[2])  # max: exact in any order
            if dtype.category == 1:  # integer sums are exact (wrapping) in any order
                np.testing.assert_array_equal(native[1], serial[1])
    assert pool.counter("tasks") + pool.counter("alone") > tasks  # the native pool ran them


@needs_pool
@pytest.mark.parametrize("n_inputs", [3, 9, MAX_ARITY - 3, MAX_ARITY - 2])
def test_many_arities(n_inputs: int) -> None:
    """Up to MAX_ARITY pointers (inputs, the output, two reductions) on the native pool; more
    on the Python workers."""
    g = chain(n_inputs, (4097,), float64, (0,))
    xs = inputs(g, n_inputs)
    pool = native_pool.get()
    tasks = pool.counter("tasks") + pool.counter("alone")
    native = run_with(g, xs, 2, True)
    assert (pool.counter("tasks") + pool.counter("alone") > tasks) == (n_inputs + 3 <= MAX_ARITY)
    python = run_with(g, xs, 2, False)
    for a, b in zip(native, python, strict=True):
        np.testing.assert_array_equal(a, b)


@needs_pool
@pytest.mark.parametrize("pays", [False, True])
def test_a_probed_reducing_kernel_gives_the_same_results_either_way(monkeypatch, pays) -> None:
    """Splitting did not pay: the chunks run on the caller alone, the same partial sums."""
    monkeypatch.setattr(kernels, "split_pays", lambda serial, split: pays)
    monkeypatch.setattr(kernels, "REDUCE_THRESHOLD", 1)
    g = chain(2, (20001,), float32, (0,))
    xs = inputs(g)
    before = workers.num_threads()
    workers.set_num_threads(2)
    try:
        forced = compile_program(g, threshold=1)(xs)  # always split
        probed = compile_program(g)  # timed calls decide
        (runner,) = [s.runner for s in probed.steps if isinstance(s, KernelStep)]
        assert runner.lowered.reduce_outer and runner._probes == kernels.PROBES
        for _ in range(kernels.PROBES + 2):
            for a, b in zip(probed(xs), forced, strict=True):
                np.testing.assert_array_equal(a, b)
    finally:
        workers.set_num_threads(before)
    assert runner._probes == 0 and runner._together == pays and len(runner.ranges) == 8


RISKY = ["stress", "two_threads", "thread_counts", "fork", "idle"]


def _cases(names: list[str], env: dict[str, str] | None = None, timeout: float = 240) -> str:
    """Run cases of _native_pool_cases.py in one fresh process: a hang fails them, it never
    stops the suite."""
    try:
        done = subprocess.run(
            [sys.executable, str(CASES), *names],
            env=dict(os.environ, **(env or {})),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        return f"hung ({timeout} s): {e.stdout!r} {e.stderr!r}"
    return done.stdout + (
        f"\nexit {done.returncode}: {done.stderr[-3000:]}" if done.returncode else ""
    )


def _verdict(out: str, name: str) -> None:
    assert f"\n{name}: ok\n" in f"\n{out}", out


@pytest.fixture(scope="module")
def risky() -> str:
    return _cases(RISKY)


@needs_pool
@pytest.mark.parametrize("name", RISKY)
def test_native_pool_case(risky: str, name: str) -> None:
    """stress: thousands of back-to-back small splits, spinning and sleeping workers;
    two_threads: two Python threads calling split kernels at once (one runs alone);
    thread_counts: set_num_threads 1/2/3/2, the pool grows, fewer workers help;
    fork: a forked child makes its own workers, also while another thread is splitting;
    idle: workers stop spinning and sleep, an idle process uses no CPU."""
    _verdict(risky, name)


def test_python_pool_when_native_is_off() -> None:
    _verdict(_cases(["python_pool"], {"ADJIT_NATIVE_POOL": "0"}), "python_pool")


def test_python_pool_when_native_cannot_be_built() -> None:
    _verdict(_cases(["unbuildable"]), "unbuildable")
