"""Lowering: every op compiled into a kernel agrees with the interpreter (table-driven)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from adjit.codegen import jit, lower
from adjit.codegen.loops import collapse
from adjit.codegen.lower import LOWERING, CodegenError, lower_kernel
from adjit.ir.aval import Aval
from adjit.ir.dtypes import DType, bool_, float32, float64, int32, int64, scalar_dtype, uint8
from adjit.ir.graph import Atom, Eqn, Graph, Lit, Var
from adjit.ir.interpreter import interpret
from adjit.ir.ops import GroupOp, Op
from adjit.ir.shapes import infer
from adjit.passes.fusion import Kernel, fuse
from adjit.runtime.executor import compile_program

FLOATS = [float32, float64]
SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e30, -7.25]


class Builder:
    """A graph written op by op; shapes and dtypes come from the shape rules."""

    def __init__(self) -> None:
        self.inputs: list[Var] = []
        self.eqns: list[Eqn] = []

    def input(self, shape: tuple[int, ...], dtype: DType) -> Var:
        v = Var(Aval(shape, dtype))
        self.inputs.append(v)
        return v

    def __call__(self, op: Op, *xs: Atom, **attrs: object) -> Var:
        out = Var(infer(op, [x.aval for x in xs], dict(attrs)))
        self.eqns.append(Eqn(op, tuple(xs), dict(attrs), out))
        return out

    def graph(self, outs: list[Atom]) -> Graph:
        return Graph(tuple(self.inputs), tuple(self.eqns), tuple(outs))


def lit(value: bool | int | float) -> Lit:
    return Lit(value, Aval((), scalar_dtype(value), weak=True))


def data(shape: tuple[int, ...], dtype: DType, seed: int = 0) -> np.ndarray:
    """Random values with the special ones (NaN, ±inf, ±0) mixed in for floats."""
    rng = np.random.default_rng(seed)
    if dtype is bool_:
        return rng.random(shape) < 0.5
    if not dtype.is_floating_point:
        return rng.integers(-9, 10, shape).astype(dtype.np)
    x = (rng.standard_normal(shape) * 3).astype(dtype.np)
    flat = x.reshape(-1)
    flat[: len(SPECIAL)] = np.asarray(SPECIAL[: flat.size], dtype.np)
    return x


def run_both(g: Graph, arrays: list[np.ndarray], **kw: object) -> tuple[list, list]:
    ex = compile_program(g, threshold=kw.pop("threshold", None), **kw)  # type: ignore[arg-type]
    assert not ex.fallbacks, ex.fallbacks
    return ex(arrays), interpret(g, arrays)


# ---- elementwise ops: (op, arity, attrs); each row one output of one multi-output kernel ------
Row = tuple[Op, int, dict]
EXACT: list[Row] = [
    (Op.NEG, 1, {}), (Op.ABS, 1, {}), (Op.SIGN, 1, {}), (Op.RELU, 1, {}), (Op.FLOOR, 1, {}),
    (Op.TRUNC, 1, {}), (Op.SQRT, 1, {}), (Op.NOT, 1, {}), (Op.CAST, 1, {"dtype": int64}),
    (Op.CAST, 1, {"dtype": bool_}), (Op.CAST, 1, {"dtype": float64}),
    (Op.CAST, 1, {"dtype": float32}), (Op.CLAMP, 1, {"lo": -1.5, "hi": 0.7}),
    (Op.CLAMP, 1, {"lo": None, "hi": 2}), (Op.DETACH, 1, {}),
    (Op.ADD, 2, {}), (Op.SUB, 2, {}), (Op.MUL, 2, {}), (Op.DIV, 2, {}), (Op.MAXIMUM, 2, {}),
    (Op.MINIMUM, 2, {}), (Op.EQ, 2, {}), (Op.NE, 2, {}), (Op.LT, 2, {}), (Op.LE, 2, {}),
    (Op.GT, 2, {}), (Op.GE, 2, {}), (Op.AND, 2, {}), (Op.OR, 2, {}), (Op.WHERE, 3, {}),
    (Op.XOR, 2, {}), (Op.SHL, 2, {}), (Op.SHR, 2, {}), (Op.FMOD, 2, {}), (Op.TRUNC_DIV, 2, {}),
    (Op.COPYSIGN, 2, {}), (Op.FMA, 3, {}),
]  # fmt: skip
TRANSCENDENTAL: list[Row] = [
    (Op.EXP, 1, {}), (Op.LOG, 1, {}), (Op.LOG1P, 1, {}), (Op.SIN, 1, {}), (Op.COS, 1, {}),
    (Op.TANH, 1, {}), (Op.SIGMOID, 1, {}), (Op.ERF, 1, {}), (Op.POW, 2, {}), (Op.ATAN2, 2, {}),
]  # fmt: skip
INT_DTYPES = [int64, int32, uint8, bool_]


def test_every_elementwise_op_has_a_row() -> None:
    covered = {r[0] for r in EXACT + TRANSCENDENTAL}
    assert covered >= GroupOp.ELEMENTWISE
    assert set(LOWERING) >= GroupOp.ELEMENTWISE


def _op_graph(rows: list[Row], shapes: list[tuple[int, ...]], dtype: DType) -> Graph:
    b = Builder()
    xs = [b.input(s, dtype) for s in shapes]
    cond = b(Op.GT, xs[0], lit(0))
    outs: list[Atom] = []
    for op, arity, attrs in rows:
        args = [cond, xs[1], xs[2]] if op is Op.WHERE else xs[:arity]
        try:
            outs.append(b(op, *args, **attrs))
        except (RuntimeError, NotImplementedError):  # an op this dtype refuses (neg on bool)
            continue
    return b.graph(outs)


SHAPES = {
    "1": [(1,), (1,), (1,)],
    "7": [(7,), (7,), (7,)],
    "1023": [(1023,), (1023,), (1023,)],
    "broadcast": [(3, 1, 5), (4, 5), (1,)],
    "scalar": [(), (2, 3), ()],
}


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("case", list(SHAPES))
def test_exact_ops_match_the_interpreter(case: str, dtype: DType) -> None:
    g = _op_graph(EXACT, SHAPES[case], dtype)
    arrays = [data(s, dtype, i) for i, s in enumerate(SHAPES[case])]
    got, ref = run_both(g, arrays)
    for e, a, r in zip(g.eqns[1:], got, ref, strict=True):
        assert a.dtype == r.dtype and a.shape == r.shape, e.op
        np.testing.assert_array_equal(a, r, err_msg=f"{e.op} {e.attrs}")


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=str)
def test_integer_and_bool_ops_match_the_interpreter(dtype: DType) -> None:
    rows = [r for r in EXACT if r[0] is not Op.SQRT] + [(Op.POW, 2, {})]
    shapes = [(5, 7), (7,), (5, 1)]
    g = _op_graph(rows, shapes, dtype)
    arrays = [data(s, dtype, i) for i, s in enumerate(shapes)]
    if dtype is not bool_:
        # non-negative exponents for integer pow, nonzero divisors (zero raises, before the
        # kernel: tests/runtime/test_integer_ops.py)
        arrays[1] = np.abs(arrays[1]) % 5 + 1
    got, ref = run_both(g, arrays)
    for e, a, r in zip(g.eqns[1:], got, ref, strict=True):
        np.testing.assert_array_equal(a, r, err_msg=f"{e.op} {e.attrs}")
        assert a.dtype == r.dtype


@pytest.mark.parametrize("use_vecmath", [True, False], ids=["vecmath", "intrinsic"])
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_transcendentals_within_a_few_ulp(dtype: DType, use_vecmath: bool) -> None:
    if use_vecmath and lower.vecmath_table() is None:
        pytest.skip("codegen.vecmath is not available")
    shapes = [(1023,), (1023,)]
    g = _op_graph(TRANSCENDENTAL, shapes, dtype)
    rng = np.random.default_rng(1)
    x = rng.uniform(-6, 6, shapes[0]).astype(dtype.np)
    x[:6] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0]
    y = rng.uniform(-3, 3, shapes[1]).astype(dtype.np)
    got, ref = run_both(g, [x, y], use_vecmath=use_vecmath)
    eps = np.finfo(dtype.np).eps
    for e, a, r in zip(g.eqns[1:], got, ref, strict=True):
        # vecmath promises <= 4 ulp; libm ~1 ulp; absolute slack for results near 0 (sin(pi))
        np.testing.assert_allclose(a, r, rtol=8 * eps, atol=8 * eps, err_msg=str(e.op))


# ---- reductions --------------------------------------------------------------------------
AXES = [(0,), (1,), (2,), (0, 2), (1, 2), None]


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("axes", AXES, ids=str)
@pytest.mark.parametrize("dtype", [float32, float64, int32], ids=str)
def test_reductions_over_each_axis(axes: tuple[int, ...] | None, keepdim: bool, dtype: DType):
    b = Builder()
    x = b.input((3, 7, 33), dtype)
    y = b(Op.MUL, x, lit(2))  # an elementwise output alongside the reductions
    outs: list[Atom] = [y] + [
        b(op, y, axes=axes, keepdim=keepdim) for op in (Op.SUM, Op.AMAX, Op.AMIN)
    ]
    g = b.graph(outs)
    assert len(fuse(g).kernels) == 1
    arr = data((3, 7, 33), dtype)
    if dtype.is_floating_point:
        arr.reshape(-1)[:3] = 1.0  # no NaN: sums of NaN/inf say nothing about accuracy
    got, ref = run_both(g, [arr])
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[2], ref[2])  # amax/amin: exact (no rounding)
    np.testing.assert_array_equal(got[3], ref[3])
    assert_sum_close(got[1], ref[1], np.sum(np.abs(ref[0]), axis=axes, keepdims=keepdim), 231)


def assert_sum_close(got: np.ndarray, ref: np.ndarray, abs_sum: np.ndarray, n: int) -> None:
    """Two summation orders of n terms differ by at most (n-1)·eps·Σ|x| (each is within half
    that of the exact sum); integers must agree exactly."""
    assert got.dtype == ref.dtype and got.shape == ref.shape
    if got.dtype.kind in "iub":
        np.testing.assert_array_equal(got, ref)
        return
    eps = float(np.finfo(got.dtype).eps)
    assert np.all(np.abs(got.astype(float) - ref) <= n * eps * abs_sum + 1e-30)


def test_amax_propagates_nan_and_reduces_to_scalar() -> None:
    b = Builder()
    x = b.input((5, 1023), float32)
    g = b.graph([b(Op.AMAX, x, axes=(1,), keepdim=False), b(Op.AMIN, x, axes=None, keepdim=False)])
    arr = data((5, 1023), float32, 3)
    arr[:, :12] = 1.0
    arr[2, 500] = np.nan
    got, ref = run_both(g, [arr])
    np.testing.assert_array_equal(got[0], ref[0])
    assert np.isnan(got[0][2]) and np.isnan(got[1])


def test_collapse_merges_contiguous_dims_only() -> None:
    lay = collapse((4, 5, 6), [False] * 3, [(30, 6, 1), (0, 6, 1)])
    assert lay.sizes == (4, 30) and lay.strides == ((30, 1), (0, 1))
    assert collapse((4, 1, 6), [False] * 3, [(6, 6, 1)]).sizes == (24,)
    red = collapse((4, 5, 6), [False, True, True], [(30, 6, 1), (1, 0, 0)])
    assert red.sizes == (4, 30) and red.reduced == (False, True)


def test_contiguous_kernel_is_one_vectorized_loop() -> None:
    b = Builder()
    x, y = b.input((8, 128), float32), b.input((8, 128), float32)
    g = b.graph([b(Op.ADD, b(Op.MUL, x, y), x)])
    k = fuse(g).kernels[0]
    low = lower_kernel(k)
    assert low.extent == 8 * 128 and "noalias" in low.ir
    ex = compile_program(g)
    assert "x float>" in ex.kernels[k.name].optimized_ir  # vector loads/stores


def test_scalar_values_are_hoisted_out_of_the_loop() -> None:
    b = Builder()
    s, x = b.input((), float32), b.input((64,), float32)
    t = b(Op.EXP, s)  # a scalar equation: computed once, before the loop
    g = b.graph([b(Op.MUL, x, b(Op.EXPAND, t, shape=(64,))), t])
    text = lower_kernel(fuse(g).kernels[0], use_vecmath=False).ir
    entry = text.split("d0.head:")[0]
    assert "llvm.exp" in entry
    got, ref = run_both(g, [np.float32(0.5) * np.ones((), np.float32), data((64,), float32)])
    np.testing.assert_array_max_ulp(got[1], ref[1], maxulp=1)  # vecmath exp: <= 1 ulp


def _kernel(dtype: DType, mk: Callable[[Builder, Var], Var]) -> Kernel:
    b = Builder()
    x = b.input((4,), dtype)
    g = b.graph([mk(b, x)])
    return fuse(g).kernels[0]


def test_unlowerable_op_raises_codegen_error_naming_the_op(monkeypatch, tmp_path) -> None:
    k = _kernel(float32, lambda b, x: b(Op.ABS, x))
    monkeypatch.setitem(lower.RULES, Op.ABS, {})
    # the caches key kernels by their sources, not by RULES: start from empty ones, or a cached
    # abs kernel (from an earlier test or process) would be served without lowering
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path))
    jit.clear_memory_cache()
    with pytest.raises(CodegenError, match=r"k0.*abs"):
        lower_kernel(k)
    g = Graph(k.inputs, k.eqns, k.outputs)
    ex = compile_program(g)  # the executor falls back to the reference for that kernel
    assert "abs" in ex.fallbacks["k0"]
    x = data((4,), float32)
    np.testing.assert_array_equal(ex([x])[0], np.abs(x))
