"""Kernels of symbolic graphs: compiled once, run at many sizes, equal to the static programs."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from adjit.codegen.cache_store import STATS
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float32, float64, int64
from adjit.ir.graph import Eqn, Graph, Lit, Var
from adjit.ir.instantiate import Instantiator
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.ir.symbolic_shapes import ShapeEnv, evaluate
from adjit.runtime import symbolic, workers
from adjit.runtime.executor import Executable, KernelStep, compile_program
from adjit.runtime.symbolic import SymbolicExecutable
from adjit.runtime.trampoline import program_call

import adjit

# float32 sums: Note [reduction accuracy] bounds the error of a compiled sum by
# (BLOCK + T + 2) u A + m u64 A, A = sum |x|, u = 2^-24, BLOCK = 1024, T <= 2 threads here;
# two programs within that of the exact sum are within twice that of each other
SUM_BOUND = 2 * (1024 + 2 + 2 + 1) * 2.0**-24


class G:
    """A hand-written symbolic graph: inputs, equations, outputs over one ShapeEnv."""

    def __init__(self, *hints: int) -> None:
        self.env = ShapeEnv()
        self.s = [self.env.create(h, f"dim{i}") for i, h in enumerate(hints)]
        self.inputs: list[Var] = []
        self.eqns: list[Eqn] = []

    def input(self, *shape: Any, dtype: Any = float32) -> Var:
        v = Var(Aval(tuple(shape), dtype))
        self.inputs.append(v)
        return v

    def __call__(self, op: Op, *inputs: Any, shape: Any, dtype: Any = float32, **attrs: Any) -> Var:
        v = Var(Aval(tuple(shape), dtype))
        self.eqns.append(Eqn(op, tuple(inputs), attrs, v))
        return v

    def graph(self, *outputs: Var) -> Graph:
        self.env.freeze()
        return Graph(tuple(self.inputs), tuple(self.eqns), tuple(outputs))


def lit(x: float, dtype: Any = float32) -> Lit:
    return Lit(x, Aval((), dtype, weak=True))


def _arrays(g: Graph, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for v in g.inputs:
        a = rng.standard_normal(v.aval.shape) * 3
        out.append(a.astype(v.aval.dtype.np))
    return out


def _compiles() -> int:
    return STATS["compiles"] + STATS["disk_loads"] + STATS["lowerings"]


def run_sizes(
    g: Graph,
    sizes: list[dict[Any, int]],
    check: Callable[[list[np.ndarray], list[np.ndarray], list[np.ndarray], list[np.ndarray]], None],
) -> tuple[SymbolicExecutable, list[Executable]]:
    """Compile ``g`` once; at each sizes: run it, the static program and the interpreter on the
    same arrays and ``check(got, static, reference, arrays)``. No LLVM work after the first
    compile."""
    sx = compile_program(g)
    assert isinstance(sx, SymbolicExecutable)
    assert sx.per_size == {}, sx.per_size  # every kernel compiled once
    assert sx.kernels
    before = _compiles()
    rng = np.random.default_rng(0)
    executables = []
    for values in sizes:
        inst = Instantiator({s.expr: n for s, n in values.items()})
        ex = sx.at(inst)
        executables.append(ex)
        gi = inst.graph(g)
        assert ex.graph is gi
        arrays = _arrays(gi, rng)
        got = ex(arrays)
        assert _compiles() == before  # the kernels of every size are the ones compiled once
        static = compile_program(gi)(arrays)
        ref = interpret(gi, arrays)
        for a, r in zip(got, ref, strict=True):
            assert a.shape == r.shape and a.dtype == r.dtype
        check(got, static, ref, arrays)
        before = _compiles()  # (the static program compiled its own kernels)
    return sx, executables


@pytest.fixture(autouse=True)
def general_kernels_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The general kernel at every size (Note [short symbolic rows]'s variants are tested in
    test_short_rows_are_specialized_once_per_length)."""
    monkeypatch.setattr(symbolic, "SPECIALIZE_BELOW", 0)


def bit_exact(
    got: list[np.ndarray], static: list[np.ndarray], ref: list[np.ndarray], _: Any
) -> None:
    for a, s, r in zip(got, static, ref, strict=True):
        np.testing.assert_array_equal(a, s)  # the same operations in the same order
        np.testing.assert_allclose(a, r, rtol=2e-6, atol=1e-6)  # vecmath vs NumPy: ulps


def sums_close(
    got: list[np.ndarray], static: list[np.ndarray], ref: list[np.ndarray], arrays: list[np.ndarray]
) -> None:
    scale = float(sum(np.abs(a.astype(np.float64)).sum() for a in arrays))
    for a, s, r in zip(got, static, ref, strict=True):
        np.testing.assert_allclose(a, s, rtol=0, atol=SUM_BOUND * scale)
        np.testing.assert_allclose(a, r, rtol=0, atol=SUM_BOUND * scale)
        np.testing.assert_array_equal(np.signbit(a), np.signbit(s))  # an empty sum is +0.0


SIZES_1 = [2, 7, 1000, 1 << 18]  # a small size, odd sizes, one split across threads


def test_elementwise_chain_one_compile_many_sizes() -> None:
    b = G(5)
    (s0,) = b.s
    x, y = b.input(s0), b.input(s0)
    t = b(Op.MUL, x, y, shape=(s0,))
    u = b(Op.EXP, b(Op.SUB, t, lit(1.0), shape=(s0,)), shape=(s0,))
    w = b(Op.TANH, b(Op.ADD, u, x, shape=(s0,)), shape=(s0,))
    g = b.graph(w, u)
    sx, exs = run_sizes(g, [{s0: n} for n in SIZES_1], bit_exact)
    assert len(sx.kernels) == 1
    (code,) = sx.kernels.values()
    assert re.search(r"<\d+ x float>", code.optimized_ir)  # a run-time trip count vectorizes
    step = next(s for s in exs[-1].steps if isinstance(s, KernelStep))
    if workers.num_threads() > 1:  # 2^18 elements x 6 equations: split across threads
        assert len(step.runner.ranges) > 1
    small = next(s for s in exs[0].steps if isinstance(s, KernelStep))
    assert len(small.runner.ranges) == 1
    # the prepared call binds the sizes array like any fixed buffer (Note [prepared calls]),
    # and a trampoline writes that call out
    plan = exs[1]._plan
    assert plan is not None and plan.static is not None
    x7, y7 = (np.linspace(-2, 2, 7, dtype=np.float32) + k for k in range(2))
    want = compile_program(exs[1].graph)([x7, y7])
    for run in (exs[1], program_call(exs[1])):
        for a, w in zip(run([x7, y7]), want, strict=True):
            np.testing.assert_array_equal(a, w)


def test_bias_add_relu_mixed_static_and_symbolic_dims() -> None:
    b = G(9)
    (s0,) = b.s
    x, bias = b.input(s0, 33), b.input(33)
    h = b(Op.RELU, b(Op.ADD, x, bias, shape=(s0, 33)), shape=(s0, 33))
    col = b.input(s0, 1)
    z = b(Op.MUL, h, col, shape=(s0, 33))
    g = b.graph(h, z)
    run_sizes(g, [{s0: n} for n in (2, 3, 100, 8000)], bit_exact)


def test_two_symbols_and_a_size_as_a_number() -> None:
    b = G(3, 4)
    s0, s1 = b.s
    x, row = b.input(s0, s1), b.input(1, s1)
    y = b(Op.MUL, b(Op.SUB, x, row, shape=(s0, s1)), Lit(s0 * s1, Aval((), int64, weak=True)),
          shape=(s0, s1))  # fmt: skip
    g = b.graph(y)
    run_sizes(g, [{s0: m, s1: n} for m, n in ((2, 2), (5, 3), (300, 700))], bit_exact)


@pytest.mark.parametrize("op", [Op.SUM, Op.AMAX])
@pytest.mark.parametrize("axis", [0, 1, None])
def test_reductions_over_symbolic_and_static_axes(op: Op, axis: int | None) -> None:
    b = G(6)
    (s0,) = b.s
    x = b.input(s0, 40)
    e = b(Op.SIN, x, shape=(s0, 40))
    shape = {0: (40,), 1: (s0,), None: ()}[axis]
    r = b(op, e, shape=shape, axes=None if axis is None else (axis,), keepdim=False)
    g = b.graph(r)
    check = sums_close if op is Op.SUM else bit_exact
    run_sizes(g, [{s0: n} for n in (2, 5, 3000, 1 << 13)], check)


def test_float64_sum_over_a_long_symbolic_axis() -> None:
    b = G(3)
    (s0,) = b.s
    x = b.input(s0, dtype=float64)
    r = b(Op.SUM, b(Op.MUL, x, x, shape=(s0,), dtype=float64), shape=(), dtype=float64,
          axes=None, keepdim=False)  # fmt: skip
    g = b.graph(r)

    def close(got: Any, static: Any, ref: Any, arrays: Any) -> None:  # Neumaier: ~1 ulp
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-13)
        np.testing.assert_allclose(got[0], static[0], rtol=1e-13)

    run_sizes(g, [{s0: n} for n in (2, 1023, 1025, 1 << 18)], close)


def _softmax(b: G, x: Var, shape: tuple[Any, ...], log: bool) -> Var:
    row = (*shape[:-1], 1)
    m = b(Op.AMAX, x, shape=row, axes=(len(shape) - 1,), keepdim=True)
    d = b(Op.SUB, x, m, shape=shape)
    e = b(Op.EXP, d, shape=shape)
    s = b(Op.SUM, e, shape=row, axes=(len(shape) - 1,), keepdim=True)
    if log:
        return b(Op.SUB, d, b(Op.LOG, s, shape=row), shape=shape)
    return b(Op.DIV, e, s, shape=shape)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("where", ["rows", "row length"])
def test_row_kernels(log: bool, where: str) -> None:
    b = G(4)
    (s0,) = b.s
    shape = (s0, 10) if where == "rows" else (6, s0)
    x = b.input(*shape)
    y = _softmax(b, x, shape, log)
    loss = b(Op.SUM, y, shape=(), axes=None, keepdim=False)
    g = b.graph(y, loss)
    sx = compile_program(g)
    assert any(k.startswith("r") for k in sx.kernels)  # a row kernel

    def close(got: Any, static: Any, ref: Any, arrays: Any) -> None:
        # each output element: a few roundings of exp/log/div (~4 ulp), the row sum's error
        # relative to the row's terms (positive: its relative error); the total: SUM_BOUND
        np.testing.assert_allclose(got[0], static[0], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-5, atol=1e-6)
        scale = float(np.abs(ref[0]).sum())
        np.testing.assert_allclose(got[1], ref[1], rtol=0, atol=SUM_BOUND * scale + 1e-5)

    lengths = (2, 3, 1000, 3000) if where == "row length" else (2, 3, 1000, 1 << 15)
    run_sizes(g, [{s0: n} for n in lengths], close)


def test_sizes_that_are_expressions() -> None:
    b = G(11)
    (s0,) = b.s
    n = (s0 - 3) // 2 + 1
    x = b.input(n, 4)
    flat = b.input(s0, 4)
    f = b(Op.RESHAPE, flat, shape=(s0 * 4,), **{})
    f = b.eqns[-1].out
    b.eqns[-1] = Eqn(Op.RESHAPE, (flat,), {"shape": (s0 * 4,)}, f)
    e = b(Op.EXP, f, shape=(s0 * 4,))
    y = b(Op.MUL, x, lit(3.0), shape=(n, 4))
    r = b(Op.SUM, y, shape=(4,), axes=(0,), keepdim=False)
    g = b.graph(e, y, r)
    vals = [{s0: k} for k in (2, 5, 6, 11, 4001)]  # at 2, x has no rows: r is +0.0
    for v in vals:
        assert evaluate(n, {s0.expr: v[s0]}) == (v[s0] - 3) // 2 + 1
    run_sizes(g, vals, sums_close)


def test_mlp_training_graphs_compiled_once() -> None:
    """The template graphs of ``adjit.compile(dynamic=True)``: forward and backward of a small
    MLP with cross-entropy, compiled once, equal to the static programs at three sizes."""
    adjit.manual_seed(0)
    w1 = adjit.randn(16, 32, requires_grad=True)
    b1 = adjit.randn(32, requires_grad=True)
    w2 = adjit.randn(32, 4, requires_grad=True)

    def f(x: Any, y: Any, w1: Any, b1: Any, w2: Any) -> Any:
        out = (x @ w1 + b1).relu() @ w2
        return adjit.nn.functional.cross_entropy(out, y)

    cf = adjit.compile(f, dynamic=True)
    cf(adjit.randn(8, 16), adjit.randint(0, 4, (8,)), w1, b1, w2)
    t = cf._templates[0]
    split = t.training((2, 3, 4)).split
    where = t.symbolic.where  # each symbol's (argument, dim)
    for g in (t.inference(), split.forward, split.backward):
        sx = compile_program(g)
        assert isinstance(sx, SymbolicExecutable) and sx.per_size == {}
        before = _compiles()
        for n in (3, 64, 5000):
            leaves = [(n, 16), (n,), (16, 32), (32,), (32, 4)]
            inst = Instantiator(
                {s: leaves[i][d] for s, (i, d) in zip(t.symbolic.symbols, where, strict=True)}
            )
            gi = inst.graph(g)
            rng = np.random.default_rng(n)
            arrays = [
                rng.integers(0, 4, v.aval.shape) if v.aval.dtype is int64
                else rng.standard_normal(v.aval.shape).astype(np.float32)
                for v in gi.inputs
            ]  # fmt: skip
            got = sx.at(inst)(arrays)
            assert _compiles() == before
            static = compile_program(gi)(arrays)
            before = _compiles()
            # the programs differ only in the order their float sums add terms (a constant trip
            # count and a run-time one vectorize with other remainders): a few ulp of the
            # largest output (measured: at most 1 ulp, 9e-8 of it)
            for a, s in zip(got, static, strict=True):
                scale = float(np.abs(s).max(initial=1.0))
                np.testing.assert_allclose(a, s, rtol=1e-6, atol=1e-6 * scale)


def test_kernels_the_symbolic_code_generator_refuses_compile_per_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A refused kernel (here: every one) is compiled at each size as a static kernel, row
    kernels included, with the same results."""
    from adjit.codegen import symbolic_kernels
    from adjit.codegen.lower import CodegenError

    def refuse(k: Any, use_vecmath: bool = True) -> Any:
        raise CodegenError(f"kernel {k.name}: refused by the test")

    monkeypatch.setattr(symbolic_kernels, "symbolic_kernel_code", refuse)
    b = G(4)
    (s0,) = b.s
    x = b.input(s0, 10)
    y = _softmax(b, b(Op.MUL, x, lit(2.0), shape=(s0, 10)), (s0, 10), log=True)
    g = b.graph(y)
    sx = compile_program(g)
    assert isinstance(sx, SymbolicExecutable) and not sx.kernels
    assert all("refused by the test" in why for why in sx.per_size.values())
    assert any(name.startswith("r") for name in sx.per_size)  # a row kernel
    rng = np.random.default_rng(1)
    for n in (2, 50):
        inst = Instantiator({s0.expr: n})
        gi = inst.graph(g)
        arrays = _arrays(gi, rng)
        np.testing.assert_array_equal(sx.at(inst)(arrays)[0], compile_program(gi)(arrays)[0])


def test_short_rows_are_specialized_once_per_length(monkeypatch: pytest.MonkeyPatch) -> None:
    """Note [short symbolic rows]: a row kernel whose row length is short at an instance's sizes
    runs a variant with the length fixed (rows still symbolic), compiled once per length."""
    monkeypatch.setattr(symbolic, "SPECIALIZE_BELOW", 128)
    b = G(4, 10)
    s0, s1 = b.s
    x = b.input(s0, s1)
    g = b.graph(_softmax(b, x, (s0, s1), log=True))
    sx = compile_program(g)
    assert isinstance(sx, SymbolicExecutable)
    rng = np.random.default_rng(2)
    counts = []
    for rows, length in ((3, 10), (700, 10), (5, 10), (6, 7), (9, 7), (4, 1000), (8, 1000)):
        before = _compiles()
        inst = Instantiator({s0.expr: rows, s1.expr: length})
        ex = sx.at(inst)
        counts.append(_compiles() - before)
        gi = inst.graph(g)
        arrays = _arrays(gi, rng)
        got, static = ex(arrays)[0], compile_program(gi)(arrays)[0]
        np.testing.assert_allclose(got, static, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(got, interpret(gi, arrays)[0], rtol=1e-5, atol=1e-5)
        general = all(ex.kernels[n] is c for n, c in sx.kernels.items())
        assert general == (length == 1000)  # short rows: the variant
    # one variant for length 10, one for 7 (compiled at their first use, unless the kernel
    # cache holds them already), none for the long rows (the general kernel)
    assert counts[1:3] == [0, 0] and counts[4:] == [0, 0, 0]
    assert len(sx.special) == 2


def test_a_loop_in_a_symbolic_graph_runs_at_each_size() -> None:
    """A scan (Note [loops in the IR]) is compiled per size; the kernels around it once."""

    def f(x: Any, h: Any) -> Any:
        def body(c: Any, xi: Any) -> Any:
            c = (c * 0.5 + xi).tanh()
            return c, c.sum()

        c, ys = adjit.scan(body, h, x)
        return c.sum() + ys.sum()

    cf = adjit.compile(f, dynamic=True)
    cf(adjit.randn(5, 3, 4), adjit.randn(3, 4))
    t = cf._templates[0]
    g = t.inference()
    sx = compile_program(g)
    assert isinstance(sx, SymbolicExecutable) and sx.kernels
    for dims in ((5, 3, 4), (7, 2, 9)):
        leaves = [dims, dims[1:]]
        inst = Instantiator(
            {
                s: leaves[i][d]
                for s, (i, d) in zip(t.symbolic.symbols, t.symbolic.where, strict=True)
            }
        )
        gi = inst.graph(g)
        rng = np.random.default_rng(0)
        arrays = [rng.standard_normal(v.aval.shape).astype(np.float32) for v in gi.inputs]
        got = sx.at(inst)(arrays)
        np.testing.assert_allclose(got[0], interpret(gi, arrays)[0], rtol=1e-5)
        np.testing.assert_array_equal(got[0], compile_program(gi)(arrays)[0])


@pytest.mark.parametrize("axes", [(0, 2), (1,), (2,), (0,)])
def test_broadcasts_across_two_symbols_and_reductions(axes: tuple[int, ...]) -> None:
    """Operands broadcast along symbolic and static dims (strides that do not collapse),
    reduced along symbolic and static axes with keepdim."""
    b = G(3, 5)
    s0, s1 = b.s
    full = (s0, 3, s1)
    x, y, z = b.input(*full), b.input(1, 3, 1), b.input(s1)
    w = b(Op.ADD, b(Op.MUL, x, y, shape=full), z, shape=full)
    kept = tuple(1 if d in axes else n for d, n in enumerate(full))
    e = b(Op.EXP, b(Op.TANH, w, shape=full), shape=full)  # terms in [1/e, e]
    r = b(Op.SUM, e, shape=kept, axes=axes, keepdim=True)
    m = b(Op.AMAX, w, shape=kept, axes=axes, keepdim=True)
    g = b.graph(w, r, m)

    def close(got: Any, static: Any, ref: Any, arrays: Any) -> None:
        bit_exact(got[:1] + got[2:], static[:1] + static[2:], ref[:1] + ref[2:], None)
        scale = float(np.exp(np.tanh(ref[0].astype(np.float64))).sum())  # A: sum of the terms
        assert np.isfinite(scale)
        np.testing.assert_allclose(got[1], static[1], rtol=0, atol=SUM_BOUND * scale)
        np.testing.assert_allclose(got[1], ref[1], rtol=0, atol=SUM_BOUND * scale)

    sizes = [{s0: m, s1: n} for m, n in ((2, 2), (3, 7), (40, 1030), (1030, 40))]
    run_sizes(g, sizes, close)


def test_kernels_are_keyed_by_expressions_not_traced_sizes() -> None:
    """Two kernels whose sizes agree at the traced example (s0*s1 and 2*s1 are both 12 at
    s0 = 2, s1 = 6; a SymInt prints as its example) are different kernels."""
    outs = []
    for make in (lambda s0, s1: s0 * s1, lambda s0, s1: 2 * s1):
        b = G(2, 6)
        s0, s1 = b.s
        x = b.input(s0)
        size = make(s0, s1)
        assert size.hint == 12
        y = b(Op.MUL, x, Lit(size, Aval((), int64, weak=True)), shape=(s0,))
        g = b.graph(y)
        sx = compile_program(g)
        assert isinstance(sx, SymbolicExecutable)
        inst = Instantiator({s0.expr: 3, s1.expr: 6})
        outs.append(sx.at(inst)([np.ones(3, np.float32)])[0])
    np.testing.assert_array_equal(outs[0], [18, 18, 18])
    np.testing.assert_array_equal(outs[1], [12, 12, 12])


def test_floats_made_of_sizes() -> None:
    """``var`` divides by ``n - 1``, a SymFloat (the float Python computes from the sizes at
    each call): the kernel replays it in double, as the static program's constant is."""
    cf = adjit.compile(lambda x: (x.var(0), x.std(), x * (1.0 / x.shape[0])), dynamic=True)
    cf(adjit.randn(5, 3, dtype=adjit.float64))
    t = cf._templates[0]
    g = t.inference()
    lits = [a.value for e in g.eqns for a in e.inputs if isinstance(a, Lit)]
    assert any(hasattr(v, "tree") for v in lits)  # a SymFloat
    sx = compile_program(g)
    assert isinstance(sx, SymbolicExecutable) and sx.per_size == {}
    rng = np.random.default_rng(3)
    for m, n in ((2, 2), (7, 3), (1000, 9)):
        inst = Instantiator(dict(zip(t.symbolic.symbols, (m, n), strict=True)))
        gi = inst.graph(g)
        x = rng.standard_normal((m, n))
        got, static = sx.at(inst)([x]), compile_program(gi)([x])
        for a, s in zip(got, static, strict=True):  # float64 sums: Neumaier, ~1 ulp apart
            np.testing.assert_allclose(a, s, rtol=1e-14, atol=0)
        np.testing.assert_allclose(got[0], x.var(0, ddof=1), rtol=1e-13)
        np.testing.assert_allclose(got[1], x.std(ddof=1), rtol=1e-13)
        np.testing.assert_array_equal(got[2], static[2])  # x * (1.0 / m): the same double


def test_a_short_row_with_static_rows_specializes_to_a_static_kernel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(symbolic, "SPECIALIZE_BELOW", 128)
    b = G(5)
    (s0,) = b.s
    x = b.input(6, s0)
    g = b.graph(_softmax(b, x, (6, s0), log=False))
    sx = compile_program(g)
    assert isinstance(sx, SymbolicExecutable)
    rng = np.random.default_rng(4)
    for n in (5, 9, 5, 300):
        inst = Instantiator({s0.expr: n})
        ex = sx.at(inst)
        gi = inst.graph(g)
        arrays = _arrays(gi, rng)
        np.testing.assert_allclose(ex(arrays)[0], compile_program(gi)(arrays)[0], rtol=1e-6)
        (step,) = [s for s in ex.steps if isinstance(s, KernelStep)]
        assert (len(step.kernel.inputs) == 1) == (n <= 128)  # no sizes array: all static
    assert len(sx.special) == 2


def test_size_expressions_lower_to_python_integer_arithmetic() -> None:
    """Extents emits each size expression as i64 arithmetic with Python's rounding (floor
    division and modulo toward -inf), equal to evaluating the expression in Python."""
    import ctypes

    import sympy
    from adjit.codegen.extents import Extents
    from adjit.codegen.jit import compile_ir
    from llvmlite import ir

    env = ShapeEnv()
    s0, s1 = env.create(5, "a"), env.create(3, "b")
    exprs = [
        ((s0 - 3) // 2 + 1).expr,
        (s0 % 3).expr,
        ((s0 - 7) % 4).expr,
        sympy.Mod(s1.expr - s0.expr, 4),  # a negative dividend: the result takes 4's sign
        sympy.Mod(s0.expr, s1.expr),
        ((1 - s0 * 3) // 4).expr,
        sympy.ceiling(sympy.Rational(1, 3) * s0.expr),
        sympy.Max(s0.expr - 5, s1.expr),
        sympy.Min(s0.expr - 5, s1.expr, 4),
        s0.expr**2 * s1.expr - 7,
    ]
    i64 = ir.IntType(64)
    mod = ir.Module(name="sizes_test")
    fns = []
    for k, e in enumerate(exprs):
        fn = ir.Function(mod, ir.FunctionType(i64, [ir.PointerType()]), f"size{k}")
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        b.ret(Extents(b, fn.args[0])(e))
        fns.append(fn.name)
    code = compile_ir(str(mod), "sizes_test", fns[0], disk=False)  # held: unloaded when freed
    engine = code.engine
    for a in (2, 3, 4, 5, 7, 10, 101):
        for c in (2, 9):
            sizes = np.array([a, c], np.int64)
            for name, e in zip(fns, exprs, strict=True):
                want = evaluate(e, {s0.expr: a, s1.expr: c})
                if hasattr(engine, "get_function_address"):
                    addr = engine.get_function_address(name)
                else:
                    addr = ctypes.cast(getattr(engine, name), ctypes.c_void_p).value
                f = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p)(addr)
                assert f(sizes.ctypes.data) == want, (e, a, c)
