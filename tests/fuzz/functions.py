"""Custom autograd.Function programs under every entry point: right, or a clear error."""

# Programs mix ordinary ops with calls of small custom Functions (saved inputs or outputs,
# non-tensor arguments, needs_input_grad, a reduction, two outputs of which one is unused).
# PyTorch runs each as the oracle; then adjit eager backward, adjit.grad, adjit.value_and_grad
# and adjit.compile (first and cached call, then backward) must each give PyTorch's values and
# gradients, or raise an error that names the Function (the message mentions "Function" or the
# class) -- never a silent zero, never an unrelated crash. The classes print with the program:
# ``fns(T)`` builds them for T = adjit or torch.

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

# name -> (class body lines inside ``class Name(T.autograd.Function):``, apply template, reduces)
CLASSES: dict[str, tuple[list[str], str, bool]] = {
    "Exp": (
        [
            "@staticmethod",
            "def forward(ctx, x):",
            "    y = x.exp()",
            "    ctx.save_for_backward(y)",
            "    return y",
            "@staticmethod",
            "def backward(ctx, g):",
            "    (y,) = ctx.saved_tensors",
            "    return g * y",
        ],
        "F.Exp.apply({0}.tanh())",
        False,
    ),
    "Square": (
        [
            "@staticmethod",
            "def forward(ctx, x):",
            "    ctx.save_for_backward(x)",
            "    return x * x",
            "@staticmethod",
            "def backward(ctx, g):",
            "    (x,) = ctx.saved_tensors",
            "    return 2 * x * g",
        ],
        "F.Square.apply({0})",
        False,
    ),
    "ScaleBy": (
        [
            "@staticmethod",
            "def forward(ctx, x, k):",
            "    ctx.k = k",
            "    return x * k",
            "@staticmethod",
            "def backward(ctx, g):",
            "    return g * ctx.k, None",
        ],
        "F.ScaleBy.apply({0}, 2.5)",
        False,
    ),
    "MulSin": (
        [
            "@staticmethod",
            "def forward(ctx, x, y):",
            "    ctx.save_for_backward(x, y)",
            "    return x * y.sin()",
            "@staticmethod",
            "def backward(ctx, g):",
            "    x, y = ctx.saved_tensors",
            "    return g * y.sin(), g * x * y.cos()",
        ],
        "F.MulSin.apply({0}, {0}.cos())",
        False,
    ),
    "Cube": (
        [
            "@staticmethod",
            "def forward(ctx, x):",
            "    ctx.save_for_backward(x)",
            "    return x * x * x",
            "@staticmethod",
            "def backward(ctx, g):",
            "    (x,) = ctx.saved_tensors",
            "    return 3 * x * x * g if ctx.needs_input_grad[0] else None",
        ],
        "F.Cube.apply({0})",
        False,
    ),
    "SumAll": (
        [
            "@staticmethod",
            "def forward(ctx, x):",
            "    ctx.shape = x.shape",
            "    return x.sum()",
            "@staticmethod",
            "def backward(ctx, g):",
            "    return g.expand(ctx.shape)",
        ],
        "F.SumAll.apply({0})",
        True,
    ),
    "SinCos": (
        [
            "@staticmethod",
            "def forward(ctx, x):",
            "    ctx.save_for_backward(x)",
            "    return x.sin(), x.cos()",
            "@staticmethod",
            "def backward(ctx, gs, gc):",
            "    (x,) = ctx.saved_tensors",
            "    return gs * x.cos() - gc * x.sin()",
        ],
        "F.SinCos.apply({0})[0]",
        False,
    ),
    "MaskOut": (
        [
            "@staticmethod",
            "def forward(ctx, x):",
            "    mask = x > 0",
            "    ctx.mark_non_differentiable(mask)",
            "    ctx.save_for_backward(mask)",
            "    return x * mask, mask",
            "@staticmethod",
            "def backward(ctx, g, g_mask):",
            "    (mask,) = ctx.saved_tensors",
            "    return g * mask",
        ],
        "F.MaskOut.apply({0} + 0.125)[0]",
        False,
    ),
    "NoMaterialize": (
        [
            "@staticmethod",
            "def forward(ctx, x):",
            "    ctx.set_materialize_grads(False)",
            "    return x * 2, x * 3",
            "@staticmethod",
            "def backward(ctx, g2, g3):",
            "    total = None",
            "    if g2 is not None:",
            "        total = 2 * g2",
            "    if g3 is not None:",
            "        total = 3 * g3 if total is None else total + 3 * g3",
            "    return total",
        ],
        "F.NoMaterialize.apply({0})[0]",
        False,
    ),
    "SaveMid": (
        [
            "@staticmethod",
            "def forward(ctx, x):",
            "    s = x.sin()",
            "    ctx.save_for_backward(x, s)",
            "    return s * s",
            "@staticmethod",
            "def backward(ctx, g):",
            "    x, s = ctx.saved_tensors",
            "    return g * 2 * s * x.cos()",
        ],
        "F.SaveMid.apply({0})",
        False,
    ),
}
ORDINARY: dict[str, str] = {
    "sin": "T.sin({0})",
    "tanh": "{0}.tanh()",
    "mul": "{0} * {1}",
    "add": "{0} + {1}",
    "scale": "{0} * 0.75",
}


@dataclass(frozen=True)
class FValue:
    name: str
    shape: tuple[int, ...]


def header(names: list[str]) -> list[str]:
    """Source of ``fns(T)``: the program's Function classes for module T, built once per T."""
    lines = ["import functools", "import types", "", "", "@functools.cache", "def fns(T):"]
    for name in names:
        lines.append(f"    class {name}(T.autograd.Function):")
        lines += [f"        {line}" for line in CLASSES[name][0]]
        lines.append("")
    lines.append(f"    return types.SimpleNamespace({', '.join(f'{n}={n}' for n in names)})")
    return [*lines, "", ""]


@st.composite
def function_cases(draw: Callable[..., Any]) -> Case:
    dtype = draw(st.sampled_from(cases.FLOAT_DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values: list[FValue] = []
    arrays: list[str] = []

    def new_input(shape: tuple[int, ...]) -> FValue:
        data = np.round(rng.uniform(-1.5, 1.5, shape), 4).astype(dtype)
        arrays.append(cases.literal(np.asarray(data)))
        values.append(FValue(f"x{len(arrays) - 1}", shape))
        return values[-1]

    new_input(draw(shapes(max_rank=2)))
    used: list[str] = []
    body = ["F = fns(T)"]
    count = draw(st.integers(1, 4))
    for i in range(count):
        a = draw(st.sampled_from(values[::-1]))
        if i == count - 1 and not used or draw(st.booleans()):
            name = draw(
                st.sampled_from([n for n in sorted(CLASSES) if not gated(f"functions:{n}")])
            )
            used += [] if name in used else [name]
            template, reduces = CLASSES[name][1:]
            expr, shape = template.format(a.name), () if reduces else a.shape
        else:
            op = draw(st.sampled_from(sorted(ORDINARY)))
            other = a
            if "{1}" in ORDINARY[op]:
                other = new_input(draw(broadcastable_shapes(a.shape)))
            expr = ORDINARY[op].format(a.name, other.name)
            shape = broadcast(a.shape, other.shape) or ()
        body.append(f"v{i} = {expr}")
        values.append(FValue(f"v{i}", shape))
    body.append(f"return {values[-1].name}")
    flags = [draw(st.sampled_from([True, True, False])) for _ in arrays]
    flags[0] = True
    return Case(f"functions {dtype}", body, arrays, flags, header(used))


RTOL = {"float32": 1e-5, "float64": 1e-12}


def clear_error(e: BaseException) -> bool:
    """An error that tells the user the custom Function is the cause."""
    return "Function" in str(e) or "autograd.Function" in repr(e)


def check_functions(case: Case) -> None:
    import torch

    tol = RTOL[case.kind.split()[1]]
    t_out, t_grads = cases.leaf_grads(torch, case, case.bind(torch), True)
    got = cases.outcome(lambda: cases.leaf_grads(cases.adjit, case, case.bind(cases.adjit), True))
    _compare(got, t_out, t_grads, tol, "eager backward")
    wrt = tuple(i for i, rg in enumerate(case.requires_grad) if rg)
    want = [t_grads[i] for i in wrt]
    if not gated("functions:grad"):
        _check_transforms(case, wrt, t_out, want, tol)
    if gated("functions:compile"):
        return
    fn = cases.compiled(case)
    for call in ("compiled first call", "compiled cached call"):
        got = cases.outcome(lambda: cases.leaf_grads(cases.adjit, case, fn, True))
        _compare(got, t_out, t_grads, tol, call)


def _check_transforms(
    case: Case, wrt: tuple[int, ...], t_out: Any, want: list[Any], tol: float
) -> None:
    """adjit.grad and adjit.value_and_grad of ``program(...).sum()``."""
    grads, _ = cases.grad_transform(case)
    _compare_grads(grads, want, tol, "adjit.grad")
    vg = cases.outcome(lambda: _value_and_grad(case, wrt))
    if not _raised_clearly(vg, "adjit.value_and_grad"):
        value, grads = vg
        cases.assert_floats(value, t_out.sum(), tol, "adjit.value_and_grad value")
        _compare_grads(grads, want, tol, "adjit.value_and_grad")


def _value_and_grad(case: Case, wrt: tuple[int, ...]) -> Any:
    fn = case.bind(cases.adjit)
    xs = [x.detach() for x in case.inputs(cases.adjit)]
    return cases.adjit.value_and_grad(lambda *xs: fn(*xs).sum(), argnums=wrt)(*xs)


def _raised_clearly(got: Any, what: str) -> bool:
    if isinstance(got, cases.Raised):
        assert clear_error(got.error), (
            f"{what} raised an error that does not name the Function: {got}"
        )
        return True
    return False


def _compare(got: Any, t_out: Any, t_grads: list[Any], tol: float, what: str) -> None:
    if _raised_clearly(got, what):
        return
    out, grads = got
    cases.assert_floats(out, t_out, tol, f"{what} value")
    cases.assert_same_grads(grads, t_grads, tol, f"{what}:")


def _compare_grads(got: Any, want: list[Any], tol: float, what: str) -> None:
    if _raised_clearly(got, what):
        return
    for g, w in zip(got, want, strict=True):
        cases.assert_floats(g, np.zeros(g.shape) if w is None else w, tol, what)
