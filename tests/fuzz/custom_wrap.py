"""Programs that wrap a random sub-expression in a custom Function with a hand-written backward."""

# A random elementwise expression of the Function's inputs ``a`` and ``b`` (broadcasting) is its
# forward; its backward is the true derivative, written out by the generator (chain rule over
# the expression tree), or for a straight-through Function the derivative of the expression
# before a final ``round``/``floor``. Styles vary: forward(ctx, ...) or setup_context, inputs
# saved with save_for_backward or stored on ctx, one output or two (the backward then gets both
# cotangents, None for an unused one without materialized grads). PyTorch runs each as the
# oracle; adjit eager, adjit.grad, adjit.value_and_grad and adjit.compile must give its values
# and gradients (functions.check_functions), and with a true derivative the second derivative of
# a gradient penalty, eagerly and compiled (the backward differentiated again).

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import cases
from .builder import broadcastable_shapes, shapes
from .cases import Case
from .functions import RTOL, check_functions


@dataclass(frozen=True)
class Expr:
    """Source of a value and of its partial derivatives with respect to ``a`` and ``b``
    ("0" when it does not depend on one)."""

    code: str
    da: str
    db: str


def _times(x: str, y: str) -> str:
    if "0" in (x, y):
        return "0"
    if x == "1":
        return y
    return x if y == "1" else f"({x}) * ({y})"


def _plus(x: str, y: str) -> str:
    if x == "0":
        return y
    return x if y == "0" else f"({x}) + ({y})"


# name -> (value of u, derivative of the value with respect to u), as source in ``u``
UNARY: dict[str, tuple[str, str]] = {
    "sin": ("({u}).sin()", "({u}).cos()"),
    "cos": ("({u}).cos()", "-({u}).sin()"),
    "exp": ("({u}).exp()", "({u}).exp()"),
    "tanh": ("({u}).tanh()", "1 - ({u}).tanh() ** 2"),
    "sigmoid": ("({u}).sigmoid()", "({u}).sigmoid() * (1 - ({u}).sigmoid())"),
    "square": ("({u}) * ({u})", "2 * ({u})"),
    "scale": ("({u}) * 0.75", "0.75"),
}


def unary(name: str, e: Expr) -> Expr:
    value, d = (t.format(u=e.code) for t in UNARY[name])
    return Expr(value, _times(d, e.da), _times(d, e.db))


def binary(name: str, x: Expr, y: Expr) -> Expr:
    if name == "add":
        return Expr(f"({x.code}) + ({y.code})", _plus(x.da, y.da), _plus(x.db, y.db))
    return Expr(  # mul
        f"({x.code}) * ({y.code})",
        _plus(_times(x.code, y.da), _times(y.code, x.da)),
        _plus(_times(x.code, y.db), _times(y.code, x.db)),
    )


LEAVES = {"a": Expr("a", "1", "0"), "b": Expr("b", "0", "1")}


@st.composite
def expressions(draw: Callable[..., Any], depth: int = 3) -> Expr:
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return LEAVES[draw(st.sampled_from(["a", "b"]))]
    if draw(st.booleans()):
        return unary(draw(st.sampled_from(sorted(UNARY))), draw(expressions(depth - 1)))
    op = draw(st.sampled_from(["add", "mul"]))
    return binary(op, draw(expressions(depth - 1)), draw(expressions(depth - 1)))


def _grad(parts: list[tuple[str, str]]) -> str:
    """``sum of g_k * d_k`` over the outputs, or None when no output depends on the input."""
    terms = [_times(g, d) for g, d in parts if d != "0"]
    return " + ".join(f"({t})" for t in terms) if terms else "None"


def function_class(
    outputs: list[Expr], finish: str, setup: bool, stored: bool, materialize: bool
) -> list[str]:
    """Source of ``fns(T)`` with one class ``Wrap`` (forward ``outputs``, each finished by
    ``finish``: "" for the true derivative, ".round()"/".floor()" for straight-through).
    Without ``materialize`` the backward gets None for an unused output and makes the zeros."""
    save = "ctx.a, ctx.b = a, b" if stored else "ctx.save_for_backward(a, b)"
    if not materialize:
        save += "; ctx.set_materialize_grads(False)"
    load = "a, b = ctx.a, ctx.b" if stored else "a, b = ctx.saved_tensors"
    values = ", ".join(f"({o.code}){finish}" for o in outputs)
    gs = [f"g{k}" for k in range(len(outputs))]
    body = ["@staticmethod"]
    if setup:
        body += ["def forward(a, b):", f"    return {values}", "@staticmethod"]
        body += ["def setup_context(ctx, inputs, output):", "    a, b = inputs", f"    {save}"]
    else:
        body += ["def forward(ctx, a, b):", f"    {save}", f"    return {values}"]
    body += ["@staticmethod", f"def backward(ctx, {', '.join(gs)}):", f"    {load}"]
    if not materialize:
        body += [f"    {g} = (a * 0 + b * 0) if {g} is None else {g}" for g in gs]
    ga = _grad([(g, o.da) for g, o in zip(gs, outputs, strict=True)])
    gb = _grad([(g, o.db) for g, o in zip(gs, outputs, strict=True)])
    body.append(f"    return {ga}, {gb}")
    lines = ["import functools", "import types", "", "", "@functools.cache", "def fns(T):"]
    lines.append("    class Wrap(T.autograd.Function):")
    lines += [f"        {line}" for line in body]
    lines += ["", "    return types.SimpleNamespace(Wrap=Wrap)", "", ""]
    return lines


@st.composite
def two_inputs(draw: Callable[..., Any]) -> tuple[str, list[str]]:
    """A float dtype and two broadcastable inputs (NumPy source) in [-1.5, 1.5]."""
    dtype = draw(st.sampled_from(cases.FLOAT_DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    s0 = draw(shapes(max_rank=2))
    s1 = draw(broadcastable_shapes(s0))
    arrays = [cases.literal(np.round(rng.uniform(-1.5, 1.5, s), 4).astype(dtype)) for s in (s0, s1)]
    return dtype, arrays


PRE = {"x": "{0}", "sin": "T.sin({0})", "half": "{0} * 0.5"}
POST = {"sum": "{0}", "tanh": "{0}.tanh()", "times-input": "{0} * x0", "exp": "({0} * 0.25).exp()"}


@st.composite
def custom_wrap_cases(draw: Callable[..., Any]) -> Case:
    dtype, arrays = draw(two_inputs())
    n_out = draw(st.sampled_from([1, 1, 2]))
    outputs = [draw(expressions()) for _ in range(n_out)]
    # an input returned as-is and saved is refused by PyTorch (setup_context): never drawn
    outputs = [unary("scale", o) if o.code in LEAVES else o for o in outputs]
    finish = draw(st.sampled_from(["", "", "", ".round()", ".floor()"]))
    used = draw(st.integers(0, n_out)) if n_out == 2 else 0  # 2: both outputs
    styles = [draw(st.booleans()) for _ in range(3)]  # setup_context, stored, materialize
    header = function_class(outputs, finish, *styles)
    a = PRE[draw(st.sampled_from(sorted(PRE)))].format("x0")
    b = PRE[draw(st.sampled_from(sorted(PRE)))].format("x1")
    body = ["F = fns(T)", f"y = F.Wrap.apply({a}, {b})"]
    if n_out == 2:
        body.append(["y = y[0]", "y = y[1]", "y = y[0] * y[1]"][used])
    body.append(f"return {POST[draw(st.sampled_from(sorted(POST)))].format('y')}")
    flags = [True, draw(st.booleans())]
    kind = f"custom-wrap {dtype}" + (" straight-through" if finish else "")
    return Case(kind, body, arrays, flags, header)


def check_custom_wrap(case: Case) -> None:
    check_functions(case)
    if "straight-through" not in case.kind:
        _check_second_order(case)


def _penalty(T: Any, case: Case) -> Callable[..., Any]:
    """``sum(d/dx0 sum(program)) ** 2)``: differentiating it differentiates the backward."""
    program = case.bind(T)

    def penalty(*xs: Any) -> Any:
        (g,) = T.autograd.grad(program(*xs).sum(), xs[0], create_graph=True)
        return (g * g).sum()

    return penalty


def _second(T: Any, case: Case, fn: Callable[..., Any]) -> Any:
    xs = case.inputs(T)
    fn(*xs).backward()
    return xs[0].grad


def _check_second_order(case: Case) -> None:
    """The hand-written backward is differentiated again: eagerly (autograd.grad with
    create_graph) and compiled (the same, inside adjit.compile), vs PyTorch."""
    import torch

    want = cases.outcome(lambda: _second(torch, case, _penalty(torch, case)))
    if isinstance(want, cases.Raised) or want is None:  # the first derivative is constant
        return
    tol = RTOL[case.kind.split()[1]]
    penalty = _penalty(cases.adjit, case)
    got = _second(cases.adjit, case, penalty)
    cases.assert_floats(got, want, tol, "second order, eager")
    got = _second(cases.adjit, case, cases.adjit.compile(penalty))
    cases.assert_floats(got, want, tol, "second order, compiled")
    program = case.bind(cases.adjit)
    xs = [x.detach() for x in case.inputs(cases.adjit)]

    def first(x0: Any) -> Any:
        return cases.adjit.grad(lambda t: program(t, *xs[1:]).sum())(x0)

    got = cases.adjit.grad(lambda x0: (first(x0) ** 2).sum())(xs[0])
    cases.assert_floats(got, want, tol, "second order, adjit.grad(adjit.grad)")
