"""``adjit.autograd.function``: custom Functions and the ``once_differentiable`` decorator."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from adjit.autograd.custom import Function, FunctionCtx
from adjit.runtime.dispatch import with_rule
from adjit.runtime.grad_mode import is_grad_enabled, no_grad
from adjit.runtime.ops_math import _Rule
from adjit.runtime.tensor import Tensor

__all__ = ["Function", "FunctionCtx", "once_differentiable"]

TWICE_MSG = "trying to differentiate twice a function that was marked with @once_differentiable"


def _refuse(g: Tensor, out: Tensor, *xs: Any) -> tuple:
    raise RuntimeError(TWICE_MSG)


_TWICE = _Rule("once_differentiable", _refuse)  # the derivative of a once_differentiable result


def once_differentiable(
    fn: Callable[..., Any],
) -> Callable[..., Any]:
    """Run a custom Function's ``backward`` without recording it; when its results would
    need a gradient (create_graph=True), differentiating them raises PyTorch's error."""

    @functools.wraps(fn)
    def wrapper(ctx: Any, *args: Any) -> Any:
        with no_grad():
            outputs = fn(ctx, *args)
        if not is_grad_enabled():
            return outputs
        inputs = [a for a in args if isinstance(a, Tensor) and a.requires_grad]
        if any(getattr(a, "_is_tracer", False) for a in args):
            inputs += _ctx_tensors(ctx)  # Note [once_differentiable traced]
        if not inputs:
            return outputs
        results = outputs if isinstance(outputs, tuple) else (outputs,)
        marked = tuple(
            _as_error_node(with_rule(_TWICE, lambda *ts, r=r: r, *inputs, name="Error"))
            if isinstance(r, Tensor) and r.dtype.is_floating_point
            else r
            for r in results
        )
        return marked if isinstance(outputs, tuple) else marked[0]

    return wrapper


# Note [once_differentiable traced]
# PyTorch marks the backward's results as failing to differentiate only when a cotangent it
# was given requires grad (an approximation, its comment says: the saved tensors are not
# looked at). Eagerly adjit does the same, so errors match. Traced (the backward is a rule of
# the adjoint pass, and adjit.grad(adjit.grad(f)) differentiates it again), a result that
# depends on the input only through a saved tensor would otherwise get a silent zero second
# derivative: there the saved tensors and those stored on ctx are marked too, so
# differentiating raises PyTorch's error instead.


def _ctx_tensors(ctx: Any) -> list[Tensor]:
    from adjit.autograd.traced import tensors_in

    saved = [t for t in getattr(ctx, "_saved", ()) if isinstance(t, Tensor)]
    return saved + [t for k, v in vars(ctx).items() if not k.startswith("_") for t in tensors_in(v)]


_ERROR_NODES: dict[type, type] = {}


def _as_error_node(t: Tensor) -> Tensor:
    """``t`` whose grad_fn prints as PyTorch's (``Error``, named ``torch::autograd::Error``)."""
    node = t.grad_fn
    if node is not None:
        cls = _ERROR_NODES.get(type(node))
        if cls is None:
            cls = _ERROR_NODES[type(node)] = type(
                "Error", (type(node),), {"name": lambda self: "torch::autograd::Error"}
            )
        node.__class__ = cls
    return t
