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
