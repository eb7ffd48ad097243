"""In-place writes to a view made before its base got a history, a stale view's is_leaf, and
backward(create_graph=True)'s once-per-process reference-cycle warning, side by side with
PyTorch."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

import adjit

torch = pytest.importorskip("torch")

CASES = {
    "base requires grad since": "a = T.zeros(3, 3); row = a[0]; a.requires_grad_(); row.mul_(2)",
    "base requires grad since, copy_": (
        "a = T.zeros(3, 3); row = a[0]; a.requires_grad_(); row.copy_(T.ones(3))"
    ),
    "base requires grad since, setitem": (
        "a = T.zeros(3, 3); row = a[0]; a.requires_grad_(); row[1] = 5.0"
    ),
    "base requires grad since, no_grad": (
        "a = T.zeros(3, 3); row = a[0]; a.requires_grad_()\nwith T.no_grad(): row.mul_(2)"
    ),
    "base requires grad then not": (
        "a = T.zeros(3, 3); row = a[0]; a.requires_grad_(); a.requires_grad_(False); row.mul_(2)"
    ),
    "view made after": "a = T.zeros(3, 3); a.requires_grad_(); row = a[0]; row.mul_(2)",
    "base history since": (
        "w = T.ones(3, requires_grad=True); a = T.zeros(3, 3); row = a[0]; a.add_(w); row.mul_(2)"
    ),
    "base history since, view()": (
        "w = T.ones(3, requires_grad=True); a = T.zeros(3, 3); v = a.view(9); a.add_(w); v.mul_(2)"
    ),
    "base history since, view of view": (
        "w = T.ones(3, requires_grad=True); a = T.zeros(3, 3); r = a[0][1:]; a.add_(w); r.mul_(2)"
    ),
    "base history since, grad_fn read first": (
        "w = T.ones(3, requires_grad=True); a = T.zeros(3, 3); row = a[0]; a.add_(w)\n"
        "row.grad_fn; row.mul_(2); a.sum().backward(); out(w.grad)"
    ),
    "base history since, is_leaf read first": (
        "w = T.ones(3, requires_grad=True); a = T.zeros(3, 3); row = a[0]; a.add_(w)\n"
        "out(row.is_leaf); row.mul_(2); a.sum().backward(); out(w.grad)"
    ),
    "base history since, used first": (
        "w = T.ones(3, requires_grad=True); a = T.zeros(3, 3); row = a[0]; a.add_(w)\n"
        "row.sum(); row.mul_(2); a.sum().backward(); out(w.grad)"
    ),
    "base history since, no_grad": (
        "w = T.ones(3, requires_grad=True); a = T.zeros(3, 3); row = a[0]; a.add_(w)\n"
        "with T.no_grad(): row.mul_(2)\na.sum().backward(); out(w.grad)"
    ),
    "base history under no_grad": (
        "w = T.ones(3, requires_grad=True); a = T.zeros(3, 3); row = a[0]\n"
        "with T.no_grad(): a.add_(w)\nrow.mul_(2); out(row.requires_grad)"
    ),
    "view read after": (
        "w = T.ones(3, requires_grad=True); a = T.zeros(3); v = a[:2]; a.add_(w)\n"
        "out(type(v.grad_fn).__name__, v.requires_grad, v.is_leaf)"
    ),
    "view written itself, then in place again": (
        "w = T.ones(3, 4, requires_grad=True); h = T.zeros(3, 4); v = h[:, 1:]\n"
        "v.add_(w[:, 1:] - 0.2); v.relu_(); h.sum().backward(); out(w.grad.tolist())"
    ),
    "view written itself, base written since": (
        "w = T.ones(3, 4, requires_grad=True); h = T.zeros(3, 4); v = h[:, 1:]\n"
        "v.add_(w[:, 1:] * 2); h.mul_(w); v.mul_(3); h.sum().backward(); out(w.grad.tolist())"
    ),
    "stale view's is_leaf": (
        "w = T.ones(3, requires_grad=True); a = T.zeros(3, 3); row = a[0]; a.add_(w)\n"
        "out(row.is_leaf, row.requires_grad, type(row.grad_fn).__name__)"
    ),
}


def _outcome(T: Any, code: str) -> list[str]:
    printed: list[str] = []
    env = {"T": T, "out": lambda *v: printed.append(" ".join(map(str, v)))}
    try:
        exec(code, env)
    except RuntimeError as e:
        printed.append(f"RuntimeError: {e}")
    return printed


@pytest.mark.parametrize("name", list(CASES))
def test_inplace_on_views_as_pytorch(name: str) -> None:
    assert _outcome(adjit, CASES[name]) == _outcome(torch, CASES[name])


PROGRAM = """
import sys, warnings
warnings.simplefilter("always")
T = __import__(sys.argv[1])
x = T.ones(3, requires_grad=True)
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    T.autograd.grad((x * x).sum(), x, create_graph=True)  # autograd.grad: no warning
    (x * x).sum().backward()  # no create_graph: none
    try:
        T.ones(2).sum().backward(create_graph=True)  # the engine's error first: none
    except RuntimeError:
        pass
    print(len(seen))
    (x * x).sum().backward(create_graph=True)  # this one warns
    (x * x).sum().backward(create_graph=True, inputs=[x])  # once per process
    T.autograd.backward([(x * x).sum()], create_graph=True)
for w in seen:
    print(w.category.__name__, str(w.message).split(" (Triggered internally")[0])
"""


def test_create_graph_backward_warns_once_as_pytorch() -> None:
    outs = [
        subprocess.run(
            [sys.executable, "-c", PROGRAM, name], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        for name in ("adjit", "torch")
    ]
    assert outs[0] == outs[1]
    assert outs[0][0] == "0" and len(outs[0]) == 2
    assert outs[0][1].startswith("UserWarning Using backward() with create_graph=True will create")


def test_create_graph_warning_points_at_the_caller() -> None:
    code = PROGRAM.split("with warnings")[0] + (
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        "    (x * x).sum().backward(create_graph=True)\n"
        "print(seen[0].filename, seen[0].lineno)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, "adjit"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [
        "<string>",
        str(code.splitlines().index("    (x * x).sum().backward(create_graph=True)") + 1),
    ]
