"""The program builder: values with shapes and magnitude bounds, fresh inputs, partners."""

# Domain rules (so every derivative exists and finite differences agree with it):
# - every value carries a bound on its magnitude; ops that would overflow or become too
#   ill-conditioned for float32 (exp of large values, long products) are not drawn for it;
# - log/sqrt/rsqrt/reciprocal/division see ``v * v + c`` with ``c > 0``, never a raw value;
# - kinks (relu, abs, maximum, clamp, where) are shifted by small float32-exact constants and
#   *probed*: the checks reject inputs closer than a margin to any kink; amax gets a distinct
#   perturbation so broadcast copies never tie.

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from .programs import INPUT_HIGH, Input, Stmt

MAX_BOUND = 30.0  # keeps float64 finite differences (eps 1e-6) within their tolerance
MAX_NUMEL = 120  # per value: finite differences cost two runs per input element
MAX_RANK = 4
MAX_DEPTH = 6


@dataclass(frozen=True)
class Value:
    name: str
    shape: tuple[int, ...]
    bound: float
    depth: int


def broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    """NumPy broadcasting of two shapes, or None when they do not broadcast."""
    rank = max(len(a), len(b))
    a, b = (1,) * (rank - len(a)) + a, (1,) * (rank - len(b)) + b
    out = []
    for x, y in zip(reversed(a), reversed(b), strict=True):
        if x != y and 1 not in (x, y):
            return None
        out.append(max(x, y))
    return tuple(reversed(out))


def numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def fits(shape: tuple[int, ...] | None) -> bool:
    return shape is not None and len(shape) <= MAX_RANK and numel(shape) <= MAX_NUMEL


class Builder:
    """Accumulates inputs and statements while a strategy draws a program."""

    def __init__(self, draw: Callable[..., Any], dtype: str) -> None:
        self.draw, self.dtype = draw, dtype
        self.inputs: list[Input] = []
        self.values: list[Value] = []
        self.stmts: list[Stmt] = []

    def new_input(self, shape: tuple[int, ...]) -> Value:
        requires_grad = self.draw(st.sampled_from([True, True, True, False]))
        self.inputs.append(Input(shape, requires_grad))
        v = Value(f"x{len(self.inputs) - 1}", shape, INPUT_HIGH, 0)
        self.values.append(v)
        return v

    def pick(self, ok: Callable[[Value], bool] = lambda v: True) -> Value | None:
        """An existing value satisfying ``ok``, the most recent ones first (shrinks to them)."""
        cands = [v for v in reversed(self.values) if v.depth < MAX_DEPTH and ok(v)]
        return self.draw(st.sampled_from(cands)) if cands else None

    def partner(
        self, shape: tuple[int, ...], ok: Callable[[Value], bool] = lambda v: True
    ) -> Value:
        """A value broadcasting with ``shape``: an existing one or a fresh input."""
        fresh = self.draw(st.booleans())
        if not fresh:
            v = self.pick(lambda v: fits(broadcast(shape, v.shape)) and ok(v))
            if v is not None:
                return v
        return self.new_input(self.draw(broadcastable_shapes(shape)))

    def emit(
        self,
        template: str,
        args: list[Value],
        shape: tuple[int, ...],
        bound: float,
        probes: tuple[str, ...] = (),
        detach: bool = False,
    ) -> None:
        names = [a.name for a in args]
        name = f"v{len(self.stmts)}"
        no_grad = self.draw(st.integers(0, 9)) == 0
        depth = 1 + max(a.depth for a in args)
        stmt = Stmt(
            name,
            template.format(*names),
            shape,
            bound,
            depth,
            no_grad,
            detach,
            tuple(p.format(*names) for p in probes),
        )
        self.stmts.append(stmt)
        self.values.append(Value(name, shape, bound, depth))


@st.composite
def shapes(draw: Callable[..., Any], min_rank: int = 0, max_rank: int = 3) -> tuple[int, ...]:
    rank = draw(st.integers(min_rank, max_rank))
    return tuple(draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank)))


@st.composite
def broadcastable_shapes(draw: Callable[..., Any], shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts with ``shape``: some dims set to 1, leading dims dropped or added."""
    dims = [draw(st.sampled_from([d, d, 1])) for d in shape]
    dims = dims[draw(st.integers(0, len(dims))) :] if draw(st.booleans()) else dims
    if len(dims) < 3 and draw(st.integers(0, 3)) == 0:
        dims = [draw(st.integers(1, 3)), *dims]
    out = tuple(dims)
    return out if fits(broadcast(shape, out)) else tuple(1 for _ in shape)
