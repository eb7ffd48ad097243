"""The user-facing entry points of the eager engine: ``backward`` and ``grad``."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import trace_state
from .autograd import run_backward
from .graph_task import GradientEdge
from .tensor import Tensor


def _tracing(outs: list[Any]) -> Any:
    """The trace that recorded ``outs`` when they are tracers (autograd then builds into the
    active trace: Note [autograd while tracing] in frontend/trace_autograd.py). That may be an
    enclosing trace: a vjp_fn made under compile and called under vmap differentiates the
    enclosing trace's equations, with the vmap trace's cotangents."""
    if trace_state.current() is None:
        return None
    for o in outs:
        if getattr(o, "_is_tracer", False):
            return o._trace
    return None


def _seq(x: Any) -> list[Any]:
    if x is None:
        return []
    return list(x) if isinstance(x, tuple | list) and type(x) is not GradientEdge else [x]


def make_grads(outputs: list[Tensor], grads: list[Any]) -> list[Tensor]:
    """The cotangent of each output: given (checked), or ones for a one-element output, with
    PyTorch's checks and texts (outputs may be tracers: only shapes and dtypes are read)."""
    if grads and len(grads) != len(outputs):
        raise RuntimeError(
            "grad can be implicitly created only for scalar outputs"
            if not grads
            else f"Mismatch in number of gradients: got {len(grads)} for {len(outputs)} outputs"
        )
    result = []
    for i, out in enumerate(outputs):
        g = grads[i] if grads else None
        if type(out) is GradientEdge:  # (its tensor's shape and dtype, kept by get_gradient_edge)
            out = _edge_output(out, g)
        if g is None and not out.requires_grad:  # (the engine then names it, as PyTorch's)
            g = Tensor._make(np.ones(tuple(out.shape), out.dtype.np))
        elif g is None:
            if out.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not out.dtype.is_floating_point:
                raise RuntimeError(
                    f"grad can be implicitly created only for real scalar outputs "
                    f"but got {out.dtype}"
                )
            g = Tensor._make(np.ones(tuple(out.shape), out.dtype.np))
        elif not isinstance(g, Tensor):
            g = Tensor._make(np.asarray(g, out.dtype.np))
        elif tuple(g.shape) != tuple(out.shape):
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} "
                f"and output[{i}] has a shape of {out.shape}."
            )
        elif (g.dtype.category == 3) != (out.dtype.category == 3):
            raise RuntimeError(
                "For complex Tensors, both grad_output and output are required to have the same "
                f"dtype. Mismatch in dtype: grad_output[{i}] has a dtype of {g.dtype} and "
                f"output[{i}] has a dtype of {out.dtype}."
            )
        result.append(g)
    return result


class _EdgeOutput:
    """What make_grads reads of an output given as a GradientEdge: its tensor's metadata."""

    requires_grad = True

    def __init__(self, shape: Any, dtype: Any) -> None:
        self.shape, self.dtype = shape, dtype

    def numel(self) -> int:
        return int(np.prod(self.shape))


def _edge_output(edge: GradientEdge, g: Any) -> Any:
    meta = (getattr(edge.node, "_edge_meta", None) or {}).get(edge.output_nr)
    if meta is None:
        if g is None:
            raise RuntimeError(
                "grad_outputs must be given for a GradientEdge that autograd.graph."
                "get_gradient_edge did not make (adjit knows no shape for it)"
            )
        return _EdgeOutput(g.shape, g.dtype)
    return _EdgeOutput(*meta)


CREATE_GRAPH_CYCLE = (
    "Using backward() with create_graph=True will create a reference cycle between the parameter "
    "and its gradient which can cause a memory leak. We recommend using autograd.grad when "
    "creating the graph to avoid this. If you have to use this function, make sure to reset the "
    ".grad fields of your parameters to None after use to break the cycle and avoid the leak."
)
_CYCLE_WARNED: list[bool] = []  # (PyTorch's engine warns once per process)


def _warn_cycle(outs: list[Any]) -> None:
    """PyTorch's warning, once per process, for a backward() that accumulates into .grad with
    create_graph=True (autograd.grad does not warn), at the first frame outside runtime/."""
    if _CYCLE_WARNED or not all(type(o) is GradientEdge or o.requires_grad for o in outs):
        return  # (no history: the engine's error comes first, as PyTorch's)
    _CYCLE_WARNED.append(True)
    here, frame, level = os.path.dirname(__file__) + os.sep, sys._getframe(0), 1
    while frame is not None and frame.f_code.co_filename.startswith(here):
        frame, level = frame.f_back, level + 1
    warnings.warn(CREATE_GRAPH_CYCLE, UserWarning, stacklevel=level)


def backward(
    tensors: Any,
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Sequence[Tensor] | None = None,
) -> None:
    """Accumulate the gradients of ``tensors`` into the leaves' ``.grad`` (PyTorch's semantics)."""
    outs = _seq(tensors)
    trace = _tracing(outs)
    if trace is not None:
        trace.backward(outs, _seq(grad_tensors), create_graph, _seq(inputs) if inputs else None)
        return
    split = getattr(trace_state.current(), "eager_call", None)
    if split is not None:  # values from before a graph break: eager autograd, between segments
        args = (tensors, grad_tensors, retain_graph, create_graph, inputs)
        return split("backward() of a value computed before a graph break", backward, *args)
    grads = make_grads(outs, _seq(grad_tensors))
    retain = create_graph if retain_graph is None else retain_graph
    if create_graph:
        _warn_cycle(outs)
    if inputs is not None:
        inputs = _seq(inputs)
        results = run_backward(
            outs,
            grads,
            inputs=inputs,
            retain_graph=retain,
            create_graph=create_graph,
            allow_unused=True,
            grad_call=False,
        )
        from .autograd import _accumulate

        for t, g in zip(inputs, results, strict=True):
            if g is not None:  # (a leaf's hooks ran when its cotangent was captured)
                _accumulate(t, g, create_graph, hooked=False)
        return
    run_backward(
        outs, grads, inputs=None, retain_graph=retain, create_graph=create_graph, accumulate=True
    )


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
) -> tuple[Any, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``."""
    if is_grads_batched:
        if BATCHED is None or grad_outputs is None:
            raise RuntimeError("is_grads_batched=True needs grad_outputs and adjit.func.vmap")
        results = BATCHED(
            outputs, inputs, grad_outputs, retain_graph, create_graph, bool(allow_unused)
        )
        return _materialized(results, _seq(inputs)) if materialize_grads else results
    outs = _seq(outputs)
    ins = _seq(inputs)
    trace = _tracing(outs)
    current = trace_state.current()
    split = (  # (a trace that runs autograd in place: vmap of autograd.grad on eager values)
        None
        if trace is not None or getattr(current, "autograd_in_place", False)
        else getattr(current, "eager_call", None)
    )
    if split is not None:  # values from before a graph break: eager autograd, between segments
        args = (outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)
        return split(  # type: ignore[no-any-return]
            "autograd.grad of values computed before a graph break",
            grad,
            *args,
            is_grads_batched=is_grads_batched,
            materialize_grads=materialize_grads,
        )
    if trace is not None:
        results = trace.grad(
            outs, ins, _seq(grad_outputs), create_graph, bool(allow_unused) or materialize_grads
        )
    else:
        grads = make_grads(outs, _seq(grad_outputs))
        retain = create_graph if retain_graph is None else retain_graph
        results = run_backward(
            outs,
            grads,
            inputs=ins,
            retain_graph=retain,
            create_graph=create_graph,
            allow_unused=bool(allow_unused) or materialize_grads,
        )
    return _materialized(results, ins) if materialize_grads else results


def _materialized(results: tuple[Any, ...], ins: list[Any]) -> tuple[Any, ...]:
    """``materialize_grads``: zeros for the inputs no gradient reached."""
    from .creation import zeros_like

    return tuple(zeros_like(i) if r is None else r for r, i in zip(results, ins, strict=True))


# autograd.grad(is_grads_batched=True) vmaps the engine; vmap is the frontend's, which sets
# this when it is imported (the runtime does not import the frontend)
BATCHED: Any = None
