"""Programs that differentiate inside themselves: ``autograd.grad(..., create_graph=True)``."""

# A random elementwise expression ``y`` of ``a`` and ``b`` (custom_wrap's expression trees); the
# program takes the gradient of ``y.sum()`` with respect to ``a`` inside itself, with
# create_graph (a gradient penalty: the result is differentiated again by the caller) or
# without (a constant), and returns a mix of the gradient and ``y``. ``a`` is the argument
# itself, or a new leaf made inside with ``requires_grad_()`` (the WGAN-GP pattern), or an
# intermediate. PyTorch runs each as the oracle; adjit eager, adjit.grad, adjit.value_and_grad
# and adjit.compile (first and cached call) must give its values and gradients.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from .cases import Case
from .custom_wrap import LEAVES, expressions, two_inputs, unary
from .functions import check_functions

# how ``a`` is made from x0, and whether x0 must require grad for it
WRT: dict[str, tuple[str, bool]] = {
    "argument": ("a = x0", True),
    "new leaf": ("a = (x0 * 0.5).detach().requires_grad_()", False),
    "intermediate": ("a = x0.sin()", True),
}

# the returned value, from the inner gradient ``g`` and the value ``y``
MIX: dict[str, str] = {
    "penalty": "((g * g).sum(-1) - 1) ** 2 + y.sum(-1)",
    "product": "g * y",
    "sum": "g + y",
}


@st.composite
def nested_grad_cases(draw: Callable[..., Any]) -> Case:
    dtype, arrays = draw(two_inputs())
    expr = draw(expressions())
    if expr.code in LEAVES:
        expr = unary("square", expr)
    wrt = draw(st.sampled_from(sorted(WRT)))
    make, needs = WRT[wrt]
    create = draw(st.booleans())
    body = [
        make,
        "b = x1",
        f"y = ({expr.code}) + a * 0",  # (+ a * 0: y has a's shape, so g does)
        f"(g,) = T.autograd.grad(y.sum(), a, create_graph={create}, retain_graph=True)",
        f"return {MIX[draw(st.sampled_from(sorted(MIX)))]}",
    ]
    flags = [needs or draw(st.booleans()), draw(st.booleans())]
    return Case(f"nested-grad {dtype}", body, arrays, flags)


def check_nested_grads(case: Case) -> None:
    check_functions(case)
