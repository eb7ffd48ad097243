"""Mixed-dtype programs over all ten stored dtypes: promotion and exact values vs PyTorch."""

# Programs over tensors of every dtype adjit stores (int8/int16 and float16/bfloat16 among
# them; dimensioned and 0-d, which promote differently) and Python bools, ints and floats,
# through ops whose result is one correctly rounded operation (+ - * /, sqrt, neg, abs,
# maximum, comparisons, where, casts between dtypes): PyTorch, adjit eager and adjit.compile
# must agree on dtype, shape and every bit (float16/bfloat16 ops compute in float32 and round
# once, Note [reduced floats]); compiled on both backends (llvm lowers the narrow floats
# elementwise kernels, Note [reduced floats in kernels]). Domain rules: no float -> integer casts
# (x86 conversion of NaN/out-of-range values is tested in test_dtypes_vs_torch.py) and no
# integer division (its zero-divisor errors are the integer strategy's).

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import cases
from .builder import broadcast, broadcastable_shapes, shapes
from .cases import Case

DTYPES = (
    "bool",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
)
NARROW = ("float16", "bfloat16")
FLOAT_VALUES = [0.0, -0.0, 1.0, -1.5, 0.1, 1 / 3, 2.5, 100.0, 65504.0, 1e5, 3e38, 1e-6, 1e-40]
FLOAT_VALUES += [float("inf"), float("-inf"), float("nan"), -7.25, 1024.5]
SCALARS: list[Any] = [True, False, 0, 1, -2, 3, 127, 300, 70000, 0.5, -1.25, 1 / 3, 1e6, 0.1]
BINARY = ["+", "-", "*", "/", "maximum", "<", "==", ">=", "where"]
UNARY = ["neg", "abs", "sqrt", "cast"]


@dataclass(frozen=True)
class DValue:
    name: str
    shape: tuple[int, ...]


class DtypeBuilder:
    def __init__(self, draw: Callable[..., Any]) -> None:
        self.draw = draw
        self.body: list[str] = []
        self.arrays: list[str] = []
        self.values: list[DValue] = []

    def new_input(self, shape: tuple[int, ...], dtype: str, seed: int) -> None:
        """An input of ``dtype``: edges and ordinary values, stored as a NumPy array PyTorch
        reads (float16/bfloat16 come from float32 with a ``.to`` in the program)."""
        rng = np.random.default_rng(seed)
        n = int(np.prod(shape))
        if dtype == "bool":
            arr = rng.random(n) < 0.5
        elif dtype.startswith(("int", "uint")):
            info = np.iinfo(dtype)
            edges = [0, 1, -1, int(info.min), int(info.max), 7, -100, 100]
            picks = [v for v in edges if info.min <= v <= info.max]
            arr = np.array([rng.choice(picks) if rng.random() < 0.4 else 0 for _ in range(n)])
            arr = np.where(arr == 0, rng.integers(max(info.min, -50), 50, n), arr).astype(dtype)
        else:
            arr = np.array([rng.choice(FLOAT_VALUES) for _ in range(n)]) * (rng.random(n) + 0.5)
            with np.errstate(over="ignore"):  # 3e38 * 1.4 is inf in float32
                arr = arr.astype("float64" if dtype == "float64" else "float32")
        self.arrays.append(cases.literal(np.asarray(arr).reshape(shape)))
        name = f"x{len(self.arrays) - 1}"
        if dtype in NARROW:
            self.body.append(f"{name} = {name}.to(T.{dtype})")
        self.values.append(DValue(name, shape))

    def pick(self) -> DValue:
        return self.draw(st.sampled_from(self.values[::-1]))

    def operand(self, a: DValue) -> tuple[str, tuple[int, ...]]:
        """A partner for ``a``: a broadcastable value, or a Python scalar."""
        if self.draw(st.integers(0, 2)) == 0:
            return cases.literal_scalar(self.draw(st.sampled_from(SCALARS))), a.shape
        cands = [v for v in self.values if broadcast(a.shape, v.shape) is not None]
        b = self.draw(st.sampled_from(cands[::-1]))
        return b.name, broadcast(a.shape, b.shape) or ()

    def emit(self, expr: str, shape: tuple[int, ...]) -> None:
        name = f"v{len(self.body)}"
        self.body.append(f"{name} = {expr}")
        self.values.append(DValue(name, shape))


def binary(b: DtypeBuilder) -> None:
    a = b.pick()
    rhs, shape = b.operand(a)
    op = b.draw(st.sampled_from(BINARY))
    flip = b.draw(st.booleans()) and op in ("+", "*", "-", "/", "<", "==")
    if op == "maximum":
        if not rhs.startswith(("x", "v")):
            rhs = f"T.tensor({rhs})"
        expr = f"T.maximum({a.name}, {rhs})"
    elif op == "where":
        expr = f"T.where({a.name} > 0, {a.name}, {rhs})"
    elif flip:
        expr = f"{rhs} {op} {a.name}"
    else:
        expr = f"{a.name} {op} {rhs}"
    b.emit(f"({expr})", shape)


def unary(b: DtypeBuilder) -> None:
    a = b.pick()
    kind = b.draw(st.sampled_from(UNARY))
    if kind == "cast":
        dtype = b.draw(st.sampled_from(DTYPES))
        expr = f"{a.name}.to(T.{dtype})"
        if dtype.startswith(("int", "uint")):  # (no float -> integer casts: domain rules)
            expr = f"({a.name} if {a.name}.is_floating_point() else {expr})"
        b.emit(expr, a.shape)
    elif kind == "sqrt":
        # (PyTorch's float32 sqrt is not always correctly rounded: sqrt(42.0) is 1 ulp off;
        # rounded to float16/bfloat16 from float32 the results agree)
        narrow = b.draw(st.sampled_from(NARROW))
        b.emit(f"{a.name}.to(T.{narrow}).abs().sqrt()", a.shape)
    else:
        b.emit(f"{a.name}.{kind}()", a.shape)


@st.composite
def dtype_cases(draw: Callable[..., Any]) -> Case:
    b = DtypeBuilder(draw)
    first = draw(shapes(max_rank=2))
    for i in range(draw(st.integers(1, 3))):
        shape = first if i == 0 else draw(st.sampled_from([(), draw(broadcastable_shapes(first))]))
        b.new_input(shape, draw(st.sampled_from(DTYPES)), draw(st.integers(0, 2**32 - 1)))
    for _ in range(draw(st.integers(1, 4))):
        draw(st.sampled_from([binary, binary, unary]))(b)
    b.body.append(f"return {b.values[-1].name}")
    return Case("dtypes", b.body, b.arrays, [False] * len(b.arrays))


def check_dtypes(case: Case) -> None:
    """PyTorch, adjit eager and adjit.compile agree on dtype, shape and every bit (or all
    raise, e.g. PyTorch's refusal of ``-`` and ``neg`` on bool)."""
    import torch

    want = cases.outcome(lambda: case.bind(torch)(*case.inputs(torch)))
    got = cases.outcome(lambda: case.bind(cases.adjit)(*case.inputs(cases.adjit)))
    _compare(got, want, "adjit eager vs PyTorch")
    for backend in ("llvm", "interpreter"):
        fn = cases.adjit.compile(case.bind(cases.adjit), backend=backend)
        got = cases.outcome(lambda fn=fn: fn(*case.inputs(cases.adjit)))
        _compare(got, want, f"compiled ({backend})")


def _bits(t: Any) -> np.ndarray:
    """Values as float64 (exact for every dtype here), -0.0 and NaN kept."""
    return np.asarray(t.detach().double().numpy())


def _compare(got: Any, want: Any, what: str) -> None:
    if cases.same_raise(got, want, what):
        return
    assert cases.dtype_name(got) == cases.dtype_name(want), (
        f"{what}: dtype {got.dtype} != {want.dtype}"
    )
    g, w = _bits(got), _bits(want)
    assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
    same = ((g == w) & (np.signbit(g) == np.signbit(w))) | (np.isnan(g) & np.isnan(w))
    bad = np.flatnonzero(~same)
    assert not bad.size, (
        f"{what}: {bad.size} values differ, first at flat index {bad[0]}: "
        f"{g.flat[bad[0]]!r} != {w.flat[bad[0]]!r}"
    )
