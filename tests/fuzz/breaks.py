"""Programs that look at their values: graph breaks (``.item()``, ``float()``, ``if tensor``,
``.tolist()``) between differentiable computations."""

# A random elementwise expression ``h`` of the inputs, then one or two uses of its value that
# tracing cannot see (a Python number from ``.item()``/``float()``, a branch on ``h.mean() >
# 0``, a ``tolist()`` summed in Python), each feeding later tensor work, and a ``.backward()``
# of the sum through all of it. PyTorch runs each as the oracle; adjit eagerly and
# ``adjit.compile`` (first and cached calls, which split the function into compiled segments)
# must give its values and its gradients, which flow across the breaks; the Python values the
# program observed are returned too, so a break that lost or repeated one shows.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from . import cases
from .cases import Case
from .custom_wrap import LEAVES, expressions, two_inputs, unary

# a value seen by Python, and the statements using it (``h``: the tensor so far)
LOOKS: dict[str, list[str]] = {
    "item": ["s = h.sum().item()", "h = h * (1 + abs(s) / (1 + abs(s)))"],
    "float": ["s = float(h.mean())", "h = h - s"],
    "branch": ["if h.mean() > 0:", "    h = h.sin() * 2", "else:", "    h = h.cos() + h"],
    "tolist": ["s = sum(np.ravel(h.tolist()))", "h = h * (0.5 if s > 0 else 1.5)"],
    "bool-any": ["if bool((h > 1).any()):", "    h = h.tanh()", "else:", "    h = h * h"],
}


@st.composite
def break_cases(draw: Callable[..., Any]) -> Case:
    dtype, arrays = draw(two_inputs())
    expr = draw(expressions())
    if expr.code in LEAVES:
        expr = unary("scale", expr)
    body = ["a, b = x0, x1", f"h = {expr.code}"]
    for name in draw(st.lists(st.sampled_from(sorted(LOOKS)), min_size=1, max_size=2)):
        body += LOOKS[name]
        body.append("h = h * b + a")
    body.append("return h")
    flags = [draw(st.booleans()), draw(st.booleans())]
    return Case(f"breaks {dtype}", body, arrays, flags)


RTOL = {"float32": 2e-5, "float64": 1e-10}


def check_breaks(case: Case) -> None:
    import torch

    tol = RTOL[case.kind.split()[1]]
    t_out, t_grads = cases.leaf_grads(torch, case, case.bind(torch), True)
    for what, fn in [("eager", case.bind(cases.adjit)), ("compiled", cases.compiled(case))]:
        calls = ("first call", "cached call") if what == "compiled" else ("call",)
        for call in calls:
            out, grads = cases.leaf_grads(cases.adjit, case, fn, True)
            cases.assert_floats(out, t_out, tol, f"{what} {call} value")
            cases.assert_same_grads(grads, t_grads, tol, f"{what} {call}:")
