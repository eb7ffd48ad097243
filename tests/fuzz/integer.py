"""Integer and bool programs: bitwise, shift, remainder, floor division, comparisons vs PyTorch."""

# Programs over bool/uint8/int32/int64 tensors (0-d ones too, which promote differently) and
# Python ints, with input values at the edges of each dtype (0, -1, min, max, 0x1337, ...).
# Every program runs through PyTorch, adjit eagerly and adjit.compile; they must agree exactly
# on dtype, shape and values -- or all raise (PyTorch refuses ``-`` on bool, shifts of bool).
# Domain rules: divisors never hold 0 or -1 at run time (``where`` replaces them; PyTorch raises
# on 0, and INT_MIN // -1 traps in hardware division), Python-int operands are within the
# dtype's range (PyTorch wraps out-of-range ones, a corner not worth the noise here).

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import cases
from .builder import broadcast, broadcastable_shapes, shapes
from .cases import Case

INT_DTYPES = ("bool", "uint8", "int32", "int64")
RANK = {"bool": 0, "uint8": 1, "int32": 2, "int64": 3, "float32": 4}
BITS = {"bool": 1, "uint8": 8, "int32": 32, "int64": 64}


def _edges(dtype: str) -> list[int]:
    if dtype == "bool":
        return [0, 1]
    info = np.iinfo(dtype)
    small = [0, 1, 2, 3, 5, 7, 8, 31, 32, 63, 64, 127, 128, 255, 0x1337, 2**30, 2**31, 2**32]
    small += [-v for v in small] + [int(info.min), int(info.min) + 1, int(info.max) - 1]
    small += [int(info.max), 2**62, -(2**62), 2**53 + 1]
    return sorted({v for v in small if info.min <= v <= info.max})


def _scalars(dtype: str) -> list[int]:
    """Python ints to combine with a tensor of ``dtype``: its edges (a bool meets int32's)."""
    return [v for v in _edges("int32" if dtype == "bool" else dtype) if abs(v) < 2**40]


@dataclass(frozen=True)
class IValue:
    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def priority(self) -> int:
        """PyTorch's promotion groups: dimensioned tensors 2, 0-d tensors 1 (scalars are 0)."""
        return 2 if self.shape else 1


def promote(operands: list[tuple[str, int]]) -> str:
    """torch.result_type over (dtype, priority) pairs; a Python int is ("int64", 0).

    The highest-priority group decides unless a lower group is of a higher category (bool <
    integer < float), then that group's type wins (a Python int lifts bool to int64).
    """
    result: str | None = None
    for prio in (2, 1, 0):
        group = [d for d, p in operands if p == prio]
        if not group:
            continue
        top = max(group, key=RANK.__getitem__)
        if result is None or _category(top) > _category(result):
            result = top
    assert result is not None
    return result


def _category(dtype: str) -> int:
    return 0 if dtype == "bool" else 2 if dtype.startswith("float") else 1


class IntBuilder:
    def __init__(self, draw: Callable[..., Any]) -> None:
        self.draw = draw
        self.values: list[IValue] = []
        self.arrays: list[str] = []
        self.body: list[str] = []

    def new_input(self, shape: tuple[int, ...], dtype: str, seed: int) -> IValue:
        rng = np.random.default_rng(seed)
        pool = _edges(dtype)
        n = int(np.prod(shape))
        picks = [pool[i] for i in rng.integers(0, len(pool), n)]
        if dtype != "bool":  # some ordinary values between the edges too
            info = np.iinfo(dtype)
            ordinary = rng.integers(max(info.min, -1000), min(info.max, 1000), n, endpoint=True)
            keep = rng.random(n) < 0.7
            picks = [p if k else int(o) for p, k, o in zip(picks, keep, ordinary, strict=True)]
        self.arrays.append(cases.literal(np.array(picks, dtype=dtype).reshape(shape)))
        v = IValue(f"x{len(self.arrays) - 1}", dtype, shape)
        self.values.append(v)
        return v

    def partner(self, a: IValue) -> IValue | None:
        cands = [v for v in self.values if broadcast(a.shape, v.shape) is not None]
        return self.draw(st.sampled_from(cands[::-1])) if cands else None

    def scalar(self, dtype: str) -> int:
        return int(self.draw(st.sampled_from(_scalars(dtype))))

    def emit(self, expr: str, dtype: str, shape: tuple[int, ...]) -> IValue:
        name = f"v{len(self.body)}"
        self.body.append(f"{name} = {expr}")
        v = IValue(name, dtype, shape)
        self.values.append(v)
        return v


BITWISE = ["&", "|", "^"]
ARITH = ["+", "-", "*"]
DIVISION = ["%", "//"]
SHIFTS = ["<<", ">>"]
COMPARE = ["==", "!=", "<", "<=", ">", ">="]
REFUSED_ON_BOOL = {"-", "<<", ">>", "%", "//"}  # PyTorch raises for these on two bools


# operators also spelled as torch functions (PyTorch's names: the same op underneath)
FUNCTIONS = {
    "&": "bitwise_and",
    "|": "bitwise_or",
    "^": "bitwise_xor",
    "<<": "bitwise_left_shift",
    ">>": "bitwise_right_shift",
    "%": "remainder",
    "//": "floor_divide",
    "+": "add",
    "-": "sub",
    "*": "mul",
    "==": "eq",
    "!=": "ne",
    "<": "lt",
    "<=": "le",
    ">": "gt",
    ">=": "ge",
}
# divisions without an operator: C's remainder (sign of the dividend) and the rounding modes
TENSOR_ONLY = {
    "fmod": "T.fmod({0}, {1})",
    "div-trunc": "T.div({0}, {1}, rounding_mode='trunc')",
    "div-floor": "T.div({0}, {1}, rounding_mode='floor')",
    "logical_and": "T.logical_and({0}, {1})",
    "logical_xor": "T.logical_xor({0}, {1})",
}


def _shift_amounts(dtype: str) -> list[int]:
    bits = BITS[dtype]
    inside = [0, 1, 3, 7, bits - 1, bits // 2]
    return sorted({a for a in inside if 0 <= a < bits}) + [bits, bits + 1, 64, -1]


def _guarded_divisor(name: str) -> str:
    """A tensor divisor with 0 and -1 replaced by 3 (see the domain rules above)."""
    return f"T.where(({name} == 0) | ({name} == -1), 3, {name})"


def binary(b: IntBuilder) -> None:
    a = b.draw(st.sampled_from(b.values[::-1]))
    op = b.draw(st.sampled_from(BITWISE + ARITH + DIVISION + SHIFTS + COMPARE))
    use_scalar = b.draw(st.integers(0, 2)) == 0
    other = None if use_scalar else b.partner(a)
    if other is None:
        dtype = promote([(a.dtype, a.priority), ("int64", 0)])
        if op in SHIFTS:
            rhs = str(b.draw(st.sampled_from(_shift_amounts(dtype))))
        else:  # within the dtype's range; a Python-int divisor is never 0
            rhs = str(
                b.draw(st.sampled_from([s for s in _scalars(a.dtype) if op not in DIVISION or s]))
            )
        flip = a.dtype != "bool" and b.draw(st.booleans())  # the Python int on the left
        if flip and op in DIVISION:
            expr = f"{rhs} {op} {_guarded_divisor(a.name)}"
        elif flip and op in SHIFTS:
            expr = f"{b.scalar(a.dtype)} {op} ({a.name} & {BITS[a.dtype] - 1})"
        else:
            expr = f"{rhs} {op} {a.name}" if flip else f"{a.name} {op} {rhs}"
        shape = a.shape
    else:
        dtype = promote([(a.dtype, a.priority), (other.dtype, other.priority)])
        if dtype == "bool" and op in REFUSED_ON_BOOL and b.draw(st.integers(0, 4)) > 0:
            op = "^"  # mostly valid programs; a fifth of them check PyTorch's refusal
        rhs = other.name
        if op in DIVISION:
            rhs = _guarded_divisor(other.name)
        elif op in SHIFTS and other.dtype != "bool" and b.draw(st.booleans()):
            rhs = f"({other.name} & {BITS[dtype] - 1 if dtype != 'bool' else 1})"
        expr = f"{a.name} {op} {rhs}"
        spelling = b.draw(st.sampled_from(["operator", "operator", "function", "method", "other"]))
        if spelling == "function":
            expr = f"T.{FUNCTIONS[op]}({a.name}, {rhs})"
        elif spelling == "method":
            expr = f"{a.name}.{FUNCTIONS[op]}({rhs})"
        elif spelling == "other":
            name = b.draw(st.sampled_from(sorted(TENSOR_ONLY)))
            guarded = rhs if name.startswith("logical") else _guarded_divisor(other.name)
            expr = TENSOR_ONLY[name].format(a.name, guarded)
            dtype = "bool" if name.startswith("logical") else dtype
            if dtype == "bool" and not name.startswith("logical"):
                expr, dtype = TENSOR_ONLY["logical_xor"].format(a.name, rhs), "bool"
        shape = broadcast(a.shape, other.shape) or ()
    if op in COMPARE:
        dtype = "bool"
    b.emit(f"({expr})", dtype, shape)


def unary(b: IntBuilder) -> None:
    a = b.draw(st.sampled_from(b.values[::-1]))
    kind = b.draw(
        st.sampled_from(["~", "~", "-", "abs", "where", "sum", "sum-dim", "not", "logical_not"])
    )
    if kind in ("-", "abs") and a.dtype == "bool" and b.draw(st.integers(0, 4)) > 0:
        kind = "~"
    if kind == "~":
        b.emit(f"~{a.name}", a.dtype, a.shape)
    elif kind == "not":
        b.emit(f"T.bitwise_not({a.name})", a.dtype, a.shape)
    elif kind == "logical_not":
        b.emit(f"T.logical_not({a.name})", "bool", a.shape)
    elif kind == "-":
        b.emit(f"-{a.name}", a.dtype, a.shape)
    elif kind == "abs":
        b.emit(f"{a.name}.abs()", a.dtype, a.shape)
    elif kind == "where":
        other = b.partner(a) or a
        shape = broadcast(a.shape, other.shape) or ()
        k = b.scalar(a.dtype)
        cond = f"({a.name} > {k})" if a.dtype != "bool" else a.name
        dtype = promote([(a.dtype, a.priority), (other.dtype, other.priority)])
        b.emit(f"T.where({cond}, {a.name}, {other.name})", dtype, shape)
    elif kind == "sum" or not a.shape:
        b.emit(f"{a.name}.sum()", "int64", ())
    else:
        d = b.draw(st.integers(-len(a.shape), len(a.shape) - 1))
        shape = a.shape[: d % len(a.shape)] + a.shape[d % len(a.shape) + 1 :]
        b.emit(f"{a.name}.sum(dim={d})", "int64", shape)


def float_tail(b: IntBuilder) -> None:
    """True division or a Python float: integer programs that end in float32."""
    a = b.values[-1]
    other = b.partner(a) or a
    form = b.draw(st.sampled_from(["{0} / {1}", "{0} * 0.5", "{0} + 1.25", "{0} / 3"]))
    rhs = _guarded_divisor(other.name) if "{1}" in form else ""
    b.emit(form.format(a.name, rhs), "float32", broadcast(a.shape, other.shape) or ())


@st.composite
def integer_cases(draw: Callable[..., Any]) -> Case:
    b = IntBuilder(draw)
    first = draw(shapes(max_rank=3))
    for i in range(draw(st.integers(1, 3))):
        shape = first if i == 0 else draw(st.sampled_from([(), draw(broadcastable_shapes(first))]))
        b.new_input(shape, draw(st.sampled_from(INT_DTYPES)), draw(st.integers(0, 2**32 - 1)))
    for _ in range(draw(st.integers(1, 5))):
        draw(st.sampled_from([binary, binary, binary, unary]))(b)
    if draw(st.integers(0, 9)) == 0:
        float_tail(b)
    b.body.append(f"return {b.values[-1].name}")
    return Case("integer", b.body, b.arrays, [False] * len(b.arrays))


def check_integer(case: Case) -> None:
    """PyTorch, adjit eager and adjit.compile (first and cached call) agree exactly."""
    import torch

    want = cases.outcome(lambda: case.bind(torch)(*case.inputs(torch)))
    got = cases.outcome(lambda: case.bind(cases.adjit)(*case.inputs(cases.adjit)))
    _compare(got, want, "adjit eager vs PyTorch")
    fn = cases.compiled(case)
    for call in ("compiled first call", "compiled cached call"):
        _compare(cases.outcome(lambda: fn(*case.inputs(cases.adjit))), want, call)


def _compare(got: Any, want: Any, what: str) -> None:
    if cases.same_raise(got, want, what):
        return
    if cases.dtype_name(want).startswith("float"):
        assert cases.dtype_name(got) == cases.dtype_name(want), f"{what}: dtype differs"
        cases.assert_floats(got, want, 2.5e-7, what)  # one float32 rounding apart
    else:
        cases.assert_exact(got, want, what)
