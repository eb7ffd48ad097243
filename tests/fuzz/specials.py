"""NaN, ±inf, ±0 and kink inputs: values and gradients vs PyTorch, eager, compiled and grad."""

# The core fuzzer keeps its inputs away from kinks and branch points so finite differences
# apply; this one aims at them. Inputs mix ordinary values with NaN, ±inf, ±0, ±1 (clamp
# bounds), 1e-30 (underflow in x*x and 1/x**2) and repeats (ties for max), and ops are applied
# raw (log of 0, sqrt of -1, relu/abs/sign at 0, x ** 0, nan_to_num at inf, std of one
# element). PyTorch is the oracle for values *and* gradients: adjit eager backward, compiled
# backward (first and cached call) and adjit.grad must match it -- NaN where it has NaN, the
# same infinities, the finite ones within a few ulp per op. In float32 programs, elements where
# PyTorch's float32 result is an over/underflow artifact of its formula (it differs in kind --
# NaN, inf, finite -- from its float64 run rounded to float32) are not compared: there both
# sides are wrong in their own way (see _artifacts).

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import cases
from .builder import broadcast, broadcastable_shapes, shapes
from .cases import Case
from .gates import gated

SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -2.0, 1e-30, -1e-30, 3.0]

# name -> (template over {0}, the least rank it needs, what it reduces: "", "all", "last")
UNARY: dict[str, tuple[str, int, str]] = {
    "exp": ("T.exp({0})", 0, ""),
    "log": ("T.log({0})", 0, ""),
    "log1p": ("T.log1p({0})", 0, ""),
    "sqrt": ("T.sqrt({0})", 0, ""),
    "rsqrt": ("T.rsqrt({0})", 0, ""),
    "reciprocal": ("T.reciprocal({0})", 0, ""),
    "sin": ("T.sin({0})", 0, ""),
    "cos": ("{0}.cos()", 0, ""),
    "tanh": ("T.tanh({0})", 0, ""),
    "sigmoid": ("{0}.sigmoid()", 0, ""),
    "erf": ("T.erf({0})", 0, ""),
    "relu": ("T.relu({0})", 0, ""),
    "abs": ("{0}.abs()", 0, ""),
    "sign": ("T.sign({0})", 0, ""),
    "neg": ("-{0}", 0, ""),
    "square": ("{0} * {0}", 0, ""),
    "pow0": ("{0} ** 0", 0, ""),
    "pow0.0": ("{0}.pow(0.0)", 0, ""),
    "pow-half": ("{0} ** 0.5", 0, ""),
    "pow2": ("{0} ** 2", 0, ""),
    "pow3": ("{0} ** 3", 0, ""),
    "pow-1": ("{0} ** -1", 0, ""),
    "pow1.5": ("{0} ** 1.5", 0, ""),
    "clamp": ("T.clamp({0}, -1.0, 1.0)", 0, ""),
    "clamp-min": ("{0}.clamp(min=0.0)", 0, ""),
    "nan_to_num": ("T.nan_to_num({0})", 0, ""),
    "nan_to_num-args": ("T.nan_to_num({0}, nan=0.0, posinf=1.0, neginf=-1.0)", 0, ""),
    "where-scalar": ("T.where({0} > 0, {0}, 0.0)", 0, ""),
    "sum": ("{0}.sum()", 0, "all"),
    "sum-dim": ("{0}.sum(dim=-1)", 1, "last"),
    "mean": ("{0}.mean()", 0, "all"),
    "max": ("{0}.max()", 0, "all"),
    "min": ("{0}.min()", 0, "all"),
    "amax": ("{0}.amax(dim=-1)", 1, "last"),
    "amin": ("{0}.amin(dim=-1)", 1, "last"),
    "max-dim": ("{0}.max(dim=-1).values", 1, "last"),
    "std": ("{0}.std(dim=-1)", 1, "last"),
    "var": ("{0}.var(dim=-1, correction=0)", 1, "last"),
    "softmax": ("T.softmax({0}, dim=-1)", 1, ""),
    "log_softmax": ("T.log_softmax({0}, dim=-1)", 1, ""),
    "logsumexp": ("T.logsumexp({0}, dim=-1)", 1, "last"),
    "normalize": ("T.nn.functional.normalize({0}, dim=-1)", 1, ""),
    "floor": ("T.floor({0})", 0, ""),
    "trunc": ("T.trunc({0})", 0, ""),
    "mask-nan": ("T.where(T.isnan({0}), 0.0, {0})", 0, ""),
    "mask-inf": ("T.where(T.isfinite({0}), {0}, 0.0)", 0, ""),
    "softplus": ("T.nn.functional.softplus({0})", 0, ""),
    "gelu": ("T.nn.functional.gelu({0})", 0, ""),
    "gelu-tanh": ("T.nn.functional.gelu({0}, approximate='tanh')", 0, ""),
    "silu": ("T.nn.functional.silu({0})", 0, ""),
    "elu": ("T.nn.functional.elu({0})", 0, ""),
    "selu": ("T.nn.functional.selu({0})", 0, ""),
    "leaky_relu": ("T.nn.functional.leaky_relu({0}, 0.1)", 0, ""),
    "hardtanh": ("T.nn.functional.hardtanh({0})", 0, ""),
    "relu6": ("T.nn.functional.relu6({0})", 0, ""),
    "logsigmoid": ("T.nn.functional.logsigmoid({0})", 0, ""),
    "mish": ("T.nn.functional.mish({0})", 0, ""),
    "softmin": ("T.nn.functional.softmin({0}, dim=-1)", 1, ""),
    "layer_norm": ("T.nn.functional.layer_norm({0}, {0}.shape[-1:])", 1, ""),
    "cumsum": ("{0}.cumsum(dim=-1)", 1, ""),
    "flip": ("{0}.flip(-1)", 1, ""),
    "norm": ("{0}.norm()", 0, "all"),
    "norm-dim": ("{0}.norm(dim=-1)", 1, "last"),
    "argmax-take": ("{0}.amax(dim=-1, keepdim=True) + {0}.argmax(dim=-1, keepdim=True)", 1, ""),
}
BINARY: dict[str, str] = {
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "div": "{0} / {1}",
    "maximum": "T.maximum({0}, {1})",
    "minimum": "T.minimum({0}, {1})",
    "where": "T.where({0} > {1}, {0}, {1})",
    "pow": "{0}.pow({1})",
    "lerp-scalar": "{0}.lerp({1}, 0.25)",
    "lerp": "T.lerp({0}, {1}, {1}.sigmoid())",
    "remainder": "{0} % {1}",
    # detached: PyTorch refuses floor_divide's backward, adjit gives its zero derivative
    "floor_divide": "({0} // {1}).detach()",
    "fmod": "T.fmod({0}, {1})",
    "div-trunc": "T.div({0}, {1}, rounding_mode='trunc')",
    "div-floor": "T.div({0}, {1}, rounding_mode='floor')",
    "clamp-tensor": "T.clamp({0}, min={1})",
    "where-equal": "T.where({0} == {1}, {0}, {1} * 2.0)",
}
# losses of both operands broadcast to one shape: (template, what the reduction leaves)
LOSSES: dict[str, tuple[str, str]] = {
    "mse_loss": ("T.nn.functional.mse_loss({a}, {b})", "all"),
    "l1_loss": ("T.nn.functional.l1_loss({a}, {b}, reduction='sum')", "all"),
    "smooth_l1_loss": ("T.nn.functional.smooth_l1_loss({a}, {b}, reduction='none')", ""),
    "huber_loss": ("T.nn.functional.huber_loss({a}, {b}, delta=0.5)", "all"),
    "bce_with_logits": (
        "T.nn.functional.binary_cross_entropy_with_logits({a}, {b}.sigmoid())",
        "all",
    ),
}


@dataclass(frozen=True)
class SValue:
    name: str
    shape: tuple[int, ...]


def _reduced(shape: tuple[int, ...], reduces: str) -> tuple[int, ...]:
    return {"": shape, "all": (), "last": shape[:-1]}[reduces]


def special_array(draw: Callable[..., Any], dtype: str, shape: tuple[int, ...]) -> str:
    """Literal source of an input mixing ordinary values with SPECIAL ones (and repeats)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = int(np.prod(shape))
    share = draw(st.sampled_from([0.2, 0.4, 0.7]))
    plain = np.round(rng.uniform(-2.0, 2.0, n), 3)  # short literals; repeats are likely
    specials = np.array(SPECIAL)[rng.integers(0, len(SPECIAL), n)]
    values = np.where(rng.random(n) < share, specials, plain).astype(dtype).reshape(shape)
    if shape and draw(st.integers(0, 3)) == 0:
        values.reshape(-1, shape[-1])[0] = 0.0  # a zero row (F.normalize, softmax ties)
    return cases.literal(values)


@st.composite
def special_cases(draw: Callable[..., Any]) -> Case:
    dtype = draw(st.sampled_from(cases.FLOAT_DTYPES))
    first = draw(shapes(max_rank=3))
    values: list[SValue] = []
    arrays: list[str] = []
    flags: list[bool] = []

    def new_input(shape: tuple[int, ...]) -> SValue:
        arrays.append(special_array(draw, dtype, shape))
        flags.append(draw(st.sampled_from([True, True, True, False])))
        values.append(SValue(f"x{len(arrays) - 1}", shape))
        return values[-1]

    new_input(first)
    body: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        a = draw(st.sampled_from(values[::-1]))
        if draw(st.booleans()):
            names = [n for n in sorted({**BINARY, **LOSSES}) if not gated(f"specials:{n}")]
            name = draw(st.sampled_from(names))
            fresh = draw(st.booleans())
            cands = [v for v in values if broadcast(a.shape, v.shape) is not None]
            other = new_input(draw(broadcastable_shapes(a.shape))) if fresh else None
            other = other or draw(st.sampled_from(cands[::-1]))
            shape = broadcast(a.shape, other.shape)
            if name in LOSSES:
                template, reduces = LOSSES[name]
                a_, b_ = (f"T.broadcast_to({v.name}, {shape})" for v in (a, other))
                expr, shape = template.format(a=a_, b=b_), _reduced(shape or (), reduces)
            else:
                expr = BINARY[name].format(a.name, other.name)
        else:
            name = draw(st.sampled_from([n for n in sorted(UNARY) if not gated(f"specials:{n}")]))
            template, rank, reduces = UNARY[name]
            if len(a.shape) < rank:
                template, reduces = "{0}.sum()", "all"
            expr, shape = template.format(a.name), _reduced(a.shape, reduces)
        assert shape is not None
        body.append(f"v{len(body)} = {expr}")
        values.append(SValue(f"v{len(body) - 1}", shape))
    body.append(f"return {values[-1].name}")
    return Case(f"specials {dtype}", body, arrays, flags)


def rtol(case: Case) -> float:
    """A few ulp per statement (see the tolerance notes in checks.py)."""
    steps = len(case.body)
    return (4e-6 if "float32" in case.kind else 1e-13) * steps


def check_specials(case: Case) -> None:
    import torch

    tol = rtol(case)
    want = cases.outcome(lambda: cases.leaf_grads(torch, case, case.bind(torch), True))
    skips = _artifacts(case, want)
    got = cases.outcome(lambda: cases.leaf_grads(cases.adjit, case, case.bind(cases.adjit), True))
    _compare(got, want, tol, "adjit eager", skips)
    if isinstance(want, cases.Raised):
        return
    fn = cases.compiled(case)
    for call in ("compiled first call", "compiled cached call"):
        got = cases.outcome(lambda: cases.leaf_grads(cases.adjit, case, fn, True))
        _compare(got, want, tol, call, skips)
    if not want[0].requires_grad:
        return
    grads, wrt = cases.grad_transform(case)
    assert not isinstance(grads, cases.Raised), f"adjit.grad raised {grads}"
    for i, g in zip(wrt, grads, strict=True):
        w = want[1][i]
        w = np.zeros(g.shape) if w is None else w
        cases.assert_floats(g, w, tol, f"adjit.grad x{i}", skips[1 + i])


Skips = list[np.ndarray | None]


def _classes(a: np.ndarray) -> np.ndarray:
    """0 finite, 1 NaN, 2 +inf, 3 -inf."""
    return np.select([np.isnan(a), np.isposinf(a), np.isneginf(a)], [1, 2, 3], 0)


def _artifacts(case: Case, want: Any) -> Skips:
    """Per output and input gradient: where PyTorch's float32 result is an overflow/underflow
    artifact (NaN or inf where its float64 run, rounded to float32, is not, or the reverse):
    rsqrt(1e-30) ** 3 overflows and 0 * inf makes NaN in one formula and not in another."""
    import torch

    if "float32" not in case.kind or isinstance(want, cases.Raised):
        return [None] * (1 + len(case.arrays))
    xs = [x.detach().double().requires_grad_(x.requires_grad) for x in case.inputs(torch)]
    wide = cases.outcome(lambda: _run(case.bind(torch), xs))
    if isinstance(wide, cases.Raised):
        return [None] * (1 + len(case.arrays))
    pairs = [(want[0], wide[0]), *zip(want[1], wide[1], strict=True)]
    skips: Skips = []
    for narrow, w in pairs:
        if narrow is None or w is None:
            skips.append(None)
            continue
        with np.errstate(over="ignore"):
            rounded = cases.to_numpy(w).astype(np.float32)
        skips.append(_classes(cases.to_numpy(narrow)) != _classes(rounded))
    return skips


def _run(fn: Callable[..., Any], xs: list[Any]) -> tuple[Any, list[Any]]:
    out = fn(*xs)
    if out.requires_grad:
        out.sum().backward()
    return out, [x.grad for x in xs]


def _compare(got: Any, want: Any, tol: float, what: str, skips: Skips) -> None:
    if cases.same_raise(got, want, what):
        return
    (out, grads), (t_out, t_grads) = got, want
    assert cases.dtype_name(out) == cases.dtype_name(t_out), f"{what}: dtype differs"
    cases.assert_floats(out, t_out, tol, f"{what} value", skips[0])
    cases.assert_same_grads(grads, t_grads, tol, f"{what} backward:", skips[1:])
