"""Elementwise ops, where and reductions for the program builder, with their domain rules."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from .builder import MAX_BOUND, Builder, broadcast, numel

# ---- elementwise ---------------------------------------------------------------------------
# name -> (template over {0}, bound of the result given the operand's bound m, largest m allowed,
#          probes: expressions that must stay away from zero)
UNARY: dict[str, tuple[str, Callable[[float], float], float, tuple[str, ...]]] = {
    "neg": ("-{0}", lambda m: m, math.inf, ()),
    "exp": ("T.exp({0})", math.exp, 2.5, ()),
    "log": ("T.log({0} * {0} + 0.5)", lambda m: max(0.7, math.log(m * m + 0.5)), math.inf, ()),
    "log1p": ("T.log1p({0} * {0})", lambda m: math.log1p(m * m), math.inf, ()),
    "sqrt": ("T.sqrt({0} * {0} + 0.25)", lambda m: math.sqrt(m * m + 0.25), math.inf, ()),
    "rsqrt": ("T.rsqrt({0} * {0} + 0.25)", lambda m: 2.0, math.inf, ()),
    "reciprocal": ("T.reciprocal({0} * {0} + 0.5)", lambda m: 2.0, math.inf, ()),
    "sin": ("T.sin({0})", lambda m: 1.0, math.inf, ()),
    "cos": ("{0}.cos()", lambda m: 1.0, math.inf, ()),
    "tanh": ("T.tanh({0})", lambda m: 1.0, math.inf, ()),
    "sigmoid": ("{0}.sigmoid()", lambda m: 1.0, math.inf, ()),
    "erf": ("T.erf({0})", lambda m: 1.0, math.inf, ()),
    "square": ("T.square({0})", lambda m: m * m, 5.0, ()),
    "cube": ("{0} ** 3", lambda m: m**3, 3.0, ()),
    "pow-frac": ("({0} * {0} + 0.5) ** 1.5", lambda m: (m * m + 0.5) ** 1.5, 4.0, ()),
    "scale": ("{0} * 2.5", lambda m: 2.5 * m, 12.0, ()),
    "rsub": ("1.5 - {0}", lambda m: m + 1.5, math.inf, ()),
    "abs": (
        "T.abs({0} + 0.037109375)",
        lambda m: m + 0.037109375,
        math.inf,
        ("{0} + 0.037109375",),
    ),
    "relu": (
        "T.relu({0} - 0.021484375)",
        lambda m: m + 0.021484375,
        math.inf,
        ("{0} - 0.021484375",),
    ),
    "clamp": (
        "T.clamp({0}, -0.5, 0.75)",
        lambda m: min(m, 0.75),
        math.inf,
        ("{0} + 0.5", "{0} - 0.75"),
    ),
    "clamp-min": ("{0}.clamp(min=-0.1875)", lambda m: max(m, 0.1875), math.inf, ("{0} + 0.1875",)),
    "detach": ("{0}.detach()", lambda m: m, math.inf, ()),
}

# (template over {0}, {1}; bound from (m0, m1); probes)
BINARY: dict[str, tuple[str, Callable[[float, float], float], tuple[str, ...]]] = {
    "add": ("{0} + {1}", lambda a, b: a + b, ()),
    "sub": ("{0} - {1}", lambda a, b: a + b, ()),
    "mul": ("{0} * {1}", lambda a, b: a * b, ()),
    "div": ("{0} / ({1} * {1} + 0.5)", lambda a, b: 2 * a, ()),
    "pow": ("(T.sigmoid({0}) + 0.5) ** T.tanh({1})", lambda a, b: 2.0, ()),
    "maximum": (
        "T.maximum({0}, {1} + 0.013671875)",
        lambda a, b: max(a, b + 0.013671875),
        ("{0} - ({1} + 0.013671875)",),
    ),
    "minimum": (
        "T.minimum({0}, {1} - 0.029296875)",
        lambda a, b: max(a, b + 0.03),
        ("{0} - {1} + 0.029296875",),
    ),
    "add-alpha": ("T.add({0}, {1}, alpha=0.5)", lambda a, b: a + b / 2, ()),
}


def unary(b: Builder) -> None:
    name = b.draw(st.sampled_from(list(UNARY)))
    template, bound, max_m, probes = UNARY[name]
    v = b.pick(lambda v: v.bound <= max_m) or b.pick()
    assert v is not None
    if v.bound > max_m:
        template, bound, probes = UNARY["tanh"][0], UNARY["tanh"][1], ()
    b.emit(template, [v], v.shape, bound(v.bound), probes, detach=name == "detach")


def binary(b: Builder) -> None:
    name = b.draw(st.sampled_from(list(BINARY)))
    template, bound, probes = BINARY[name]
    x = b.pick()
    assert x is not None
    y = b.partner(x.shape, lambda v: bound(x.bound, v.bound) <= MAX_BOUND)
    if bound(x.bound, y.bound) > MAX_BOUND:
        template, bound, probes = BINARY["div"]
    shape = broadcast(x.shape, y.shape)
    assert shape is not None
    b.emit(template, [x, y], shape, bound(x.bound, y.bound), probes)


def where(b: Builder) -> None:
    """``where(a <cmp> c, x, y)``: a branch point probed like a kink."""
    a = b.pick()
    assert a is not None
    c = b.partner(a.shape)
    shape = broadcast(a.shape, c.shape)
    assert shape is not None
    x = b.partner(shape)
    shape = broadcast(shape, x.shape)
    assert shape is not None
    cmp = b.draw(st.sampled_from([">", "<", ">=", "<="]))
    if b.draw(st.booleans()):
        y = b.partner(shape)
        shape = broadcast(shape, y.shape)
        assert shape is not None
        template, args, bound = "T.where({0} " + cmp + " {1}, {2}, {3})", [a, c, x, y], y.bound
    else:
        template, args, bound = "T.where({0} " + cmp + " {1}, {2}, 0.25)", [a, c, x], 0.25
    b.emit(template, args, shape, max(x.bound, bound), ("{0} - {1}",))


# ---- reductions ----------------------------------------------------------------------------
@st.composite
def axes(draw: Callable[..., Any], rank: int) -> tuple[int, ...]:
    """A non-empty set of axes, sometimes negative."""
    picked = draw(st.sets(st.integers(0, rank - 1), min_size=1, max_size=rank))
    return tuple(d - rank if draw(st.booleans()) else d for d in sorted(picked))


def _reduced(shape: tuple[int, ...], dims: tuple[int, ...], keep: bool) -> tuple[int, ...]:
    ds = {d % len(shape) for d in dims}
    return tuple(1 if i in ds else n for i, n in enumerate(shape) if keep or i not in ds)


def reduction(b: Builder) -> None:
    kind = b.draw(st.sampled_from(["sum", "mean", "var", "amax", "softmax", "log_softmax"]))
    v = b.pick(lambda v: len(v.shape) >= 1) if kind != "sum" else b.pick()
    if v is None:
        kind, v = "sum", b.pick()
    assert v is not None
    if not v.shape:
        b.emit("{0}.sum()", [v], (), v.bound)
        return
    rank = len(v.shape)
    if kind in ("softmax", "log_softmax"):
        d = b.draw(st.integers(-rank, rank - 1))
        bound = 1.0 if kind == "softmax" else 2 * v.bound + math.log(v.shape[d])
        fn = b.draw(st.sampled_from([f"{{0}}.{kind}(dim={d})", f"T.{kind}({{0}}, {d})"]))
        b.emit(fn, [v], v.shape, bound)
        return
    everything = kind in ("sum", "mean") and b.draw(st.integers(0, 3)) == 0
    dims, keep = b.draw(axes(rank)), b.draw(st.booleans())
    if everything:
        dims, keep = tuple(range(rank)), False
    shape = _reduced(v.shape, dims, keep)
    count = numel(v.shape) // max(1, numel(_reduced(v.shape, dims, False)))
    if kind == "sum" and v.bound * count > MAX_BOUND:
        kind = "mean"
    if kind == "var" and v.bound > 5:
        kind = "mean"
    dim = dims[0] if len(dims) == 1 and b.draw(st.booleans()) else dims
    args = "" if everything else f"dim={dim}, keepdim={keep}"
    if kind in ("sum", "mean"):
        b.emit(f"{{0}}.{kind}({args})", [v], shape, v.bound * (count if kind == "sum" else 1))
    elif kind == "var":
        correction = 1 if count >= 2 else 0
        b.emit(f"{{0}}.var({args}, correction={correction})", [v], shape, 2 * v.bound * v.bound)
    else:
        # distinct offsets: broadcast copies and clamped plateaus never tie for the maximum
        offsets = f"T.arange({numel(v.shape)}, dtype={{0}}.dtype).reshape({v.shape}) * 0.0078125"
        b.emit(f"({{0}} + {offsets}).amax({args})", [v], shape, v.bound + 1.0)
