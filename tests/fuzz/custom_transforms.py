"""Custom Functions under torch.func's transforms: vmap, jvp and grad in every nesting."""

# A random elementwise Function of ``a`` and ``b`` (custom_wrap's expressions: one or two
# outputs, its true derivative written out as the backward and as the jvp), in torch.func's
# style: setup_context, save_for_backward and save_for_forward, generate_vmap_rule=True. The
# backward and jvp scale the true derivative by 3 and 5: only a transform that calls them gets
# PyTorch's numbers. Each program applies one composition of vmap (over a batch of ``a``, or
# of both), grad and jvp to it, eagerly and compiled, against torch.func.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from . import cases
from .cases import Case
from .custom_wrap import LEAVES, Expr, expressions, two_inputs, unary
from .functions import RTOL


def _scaled(k: str, d: str) -> str:
    return "0" if d == "0" else f"{k} * ({d})"


def function_class(outputs: list[Expr]) -> list[str]:
    """Source of ``fns(T)`` with the class ``Wrap`` (see the module comment)."""
    values = ", ".join(f"({o.code})" for o in outputs)
    gs = [f"g{k}" for k in range(len(outputs))]
    grads = []
    for wrt in ("da", "db"):
        terms = [
            f"({g}) * {_scaled('3', getattr(o, wrt))}"
            for g, o in zip(gs, outputs, strict=True)
            if getattr(o, wrt) != "0"
        ]
        grads.append(" + ".join(terms) if terms else "None")
    tangents = []
    for o in outputs:
        terms = [f"ta * {_scaled('5', o.da)}" if o.da != "0" else ""]
        terms += [f"tb * {_scaled('5', o.db)}" if o.db != "0" else ""]
        zero = f"({o.code}) * 0"  # the output's shape: a broadcast input's tangent fits it
        tangents.append(" + ".join([t for t in terms if t] + [zero]))
    body = [
        "generate_vmap_rule = True",
        "@staticmethod",
        "def forward(a, b):",
        f"    return {values}",
        "@staticmethod",
        "def setup_context(ctx, inputs, output):",
        "    ctx.save_for_backward(*inputs)",
        "    ctx.save_for_forward(*inputs)",
        "@staticmethod",
        f"def backward(ctx, {', '.join(gs)}):",
        "    a, b = ctx.saved_tensors",
        f"    return {grads[0]}, {grads[1]}",
        "@staticmethod",
        "def jvp(ctx, ta, tb):",
        "    a, b = ctx.saved_tensors",
        f"    return {', '.join(tangents)}",
    ]
    lines = ["import functools", "import types", "", "", "@functools.cache", "def fns(T):"]
    lines.append("    class Wrap(T.autograd.Function):")
    lines += [f"        {line}" for line in body]
    lines += ["", "    return types.SimpleNamespace(Wrap=Wrap)", "", ""]
    return lines


# compositions over f(a, b) -> a scalar-or-tensor; ``F`` the Function, ``s`` the sum of its
# outputs, B the batch (x0 and x1 are stacked over it: x0 always, x1 for "both")
COMPOSE = {
    "vmap": "T.func.vmap(F.Wrap.apply, dims)(x0, x1)",
    "vmap-grad": "T.func.vmap(T.func.grad(s, argnums=(0, 1)), dims)(x0, x1)",
    "grad-vmap": "T.func.grad(lambda a, b: s_of(T.func.vmap(F.Wrap.apply, dims)(a, b)), "
    "argnums=(0, 1))(x0, x1)",
    "jvp": "T.func.jvp(F.Wrap.apply, (x0, x1), (x0 * 0.5 + 1, x1 * 0 - 2))[1]",
    "vmap-jvp": "T.func.vmap(lambda a, b: T.func.jvp(F.Wrap.apply, (a, b), (a * 0 + 1, b))[1], "
    "dims)(x0, x1)",
    "jvp-vmap": "T.func.jvp(lambda a, b: T.func.vmap(F.Wrap.apply, dims)(a, b), (x0, x1), "
    "(x0 * 0 + 1, x1))[1]",
    "jvp-grad": "T.func.jvp(lambda a: T.func.grad(s)(a, x1), (x0,), (x0 * 0 + 1,))[1]",
}
BATCHED = {"vmap", "vmap-grad", "grad-vmap", "vmap-jvp", "jvp-vmap"}


@st.composite
def custom_transform_cases(draw: Callable[..., Any]) -> Case:
    dtype, arrays = draw(two_inputs())
    n_out = draw(st.sampled_from([1, 2]))
    outputs = [draw(expressions()) for _ in range(n_out)]
    outputs = [unary("scale", o) if o.code in LEAVES else o for o in outputs]
    how = draw(st.sampled_from(sorted(COMPOSE)))
    both = draw(st.booleans())
    if how in BATCHED:  # a batch of 2 (of both inputs, or of x0 with x1 shared)
        arrays = [
            f"np.stack([{a}, {a} * 0.5 + 0.25])" if both or i == 0 else a
            for i, a in enumerate(arrays)
        ]
    body = [
        "F = fns(T)",
        f"dims = {(0, 0) if both else (0, None)}",
        "s_of = lambda y: sum(o.sum() for o in y) if isinstance(y, tuple) else y.sum()",
        "s = lambda a, b: s_of(F.Wrap.apply(a, b))",
        f"return {COMPOSE[how]}",
    ]
    kind = f"custom-transforms {dtype} {how}"
    return Case(kind, body, arrays, [False, False], function_class(outputs))


def _flat(out: Any) -> list[Any]:
    return [t for o in (out if isinstance(out, tuple) else (out,)) for t in _flat_one(o)]


def _flat_one(o: Any) -> list[Any]:
    return _flat(o) if isinstance(o, tuple) else [o]


def check_custom_transforms(case: Case) -> None:
    import torch

    tol = RTOL[case.kind.split()[1]]
    want = cases.outcome(lambda: case.bind(torch)(*case.inputs(torch)))
    got_eager = cases.outcome(lambda: case.bind(cases.adjit)(*case.inputs(cases.adjit)))
    compiled = cases.adjit.compile(case.bind(cases.adjit))
    got_compiled = cases.outcome(lambda: compiled(*case.inputs(cases.adjit)))
    for what, got in (("eager", got_eager), ("compiled", got_compiled)):
        if cases.same_raise(got, want, what):
            assert str(got.error) == str(want.error), f"{what}: {got} != {want}"
            continue
        g, w = _flat(got), _flat(want)
        assert len(g) == len(w), f"{what}: {len(g)} results, PyTorch {len(w)}"
        for i, (a, b) in enumerate(zip(g, w, strict=True)):
            assert (a is None) == (b is None), f"{what}: result {i} is None on one side"
            if b is not None:
                cases.assert_floats(a, b, tol, f"{what}, result {i}")
