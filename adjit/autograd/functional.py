"""``adjit.autograd.functional``: jacobian, hessian, vjp, jvp, hvp and vhp of a function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from adjit.runtime.backward import grad
from adjit.runtime.grad_mode import enable_grad
from adjit.runtime.tensor import Tensor


def _as_tuple(x: Any) -> tuple[bool, tuple[Tensor, ...]]:
    return (True, tuple(x)) if isinstance(x, tuple | list) else (False, (x,))


def _prepare(inputs: tuple[Tensor, ...], create_graph: bool) -> tuple[Tensor, ...]:
    return tuple(
        t if create_graph and t.requires_grad else t.detach().requires_grad_(True) for t in inputs
    )


def _zeros(t: Tensor) -> Tensor:
    return Tensor._make(np.zeros(t._data.shape, t._data.dtype))


def _grads(
    out: Tensor, inputs: tuple[Tensor, ...], v: Tensor, create_graph: bool, strict: bool
) -> tuple[Tensor, ...]:
    if not out.requires_grad:
        if strict:
            raise RuntimeError(
                "The output of the user-provided function is independent of "
                "input 0. This is not allowed in strict mode."
            )
        return tuple(_zeros(i) for i in inputs)
    gs = grad(out, inputs, v, retain_graph=True, create_graph=create_graph, allow_unused=True)
    if strict and any(g is None for g in gs):
        k = next(i for i, g in enumerate(gs) if g is None)
        raise RuntimeError(
            f"The output of the user-provided function is independent of input "
            f"{k}. This is not allowed in strict mode."
        )
    return tuple(
        _zeros(i) if g is None else g if create_graph else g.detach()
        for g, i in zip(gs, inputs, strict=True)
    )


def _wrap(is_tuple: bool, values: tuple[Any, ...]) -> Any:
    return values if is_tuple else values[0]


def vjp(
    func: Callable[..., Any],
    inputs: Any,
    v: Any = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """(func(inputs), v^T J)."""
    in_tuple, ins = _as_tuple(inputs)
    with enable_grad():
        ins = _prepare(ins, create_graph)
        out = func(*ins)
        if v is None:
            if out.numel() != 1:
                raise RuntimeError(
                    "The vector v can only be None if the user-provided function "
                    "returns a single Tensor with a single element."
                )
            v = Tensor._make(np.ones(out._data.shape, out._data.dtype))
        gs = _grads(out, ins, v, create_graph, strict)
    return (out if create_graph else out.detach()), _wrap(in_tuple, gs)


def jacobian(
    func: Callable[..., Any],
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
) -> Any:
    """d func(inputs) / d inputs, shaped output.shape + input.shape (tuples as PyTorch nests)."""
    in_tuple, ins = _as_tuple(inputs)
    with enable_grad():
        ins = _prepare(ins, create_graph)
        out_tuple, outs = _as_tuple(func(*ins))
        rows: list[tuple[Tensor, ...]] = []
        for out in outs:
            if out.dtype.is_complex:  # (PyTorch's jacobian refuses complex outputs so)
                raise RuntimeError(
                    "grad can be implicitly created only for real scalar outputs but got "
                    f"{out.dtype}"
                )
            flat = out.reshape(-1)
            per_input: list[list[Tensor]] = [[] for _ in ins]
            for k in range(flat.shape[0]):
                onehot = np.zeros(flat._data.shape, flat._data.dtype)
                onehot[k] = 1
                gs = _grads(flat, ins, Tensor._make(onehot), create_graph, strict)
                for j, g in enumerate(gs):
                    per_input[j].append(g)
            rows.append(tuple(_stack(per_input[j], out, ins[j]) for j in range(len(ins))))
    result = tuple(_wrap(in_tuple, r) for r in rows)
    return _wrap(out_tuple, result)


def _stack(gs: list[Tensor], out: Tensor, inp: Tensor) -> Tensor:
    from adjit.runtime.functional import stack

    shape = (*out.shape, *inp.shape)
    if not gs:
        return Tensor._make(np.zeros(shape, inp._data.dtype))
    return stack(gs).reshape(shape)


def hessian(
    func: Callable[..., Any],
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
) -> Any:
    """The matrix of second derivatives of a scalar function."""
    in_tuple, _ = _as_tuple(inputs)

    def gradient(*xs: Tensor) -> Any:
        out = func(*xs)
        gs = _grads(out, xs, Tensor._make(np.ones(out._data.shape, out._data.dtype)), True, strict)
        return _wrap(in_tuple, gs)

    return jacobian(gradient, inputs, create_graph=create_graph, strict=strict)


def jvp(
    func: Callable[..., Any],
    inputs: Any,
    v: Any = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """(func(inputs), J v), by differentiating a vjp with respect to its cotangent."""
    in_tuple, ins = _as_tuple(inputs)
    _, vs = (
        _as_tuple(v)
        if v is not None
        else (False, tuple(Tensor._make(np.ones(i._data.shape, i._data.dtype)) for i in ins))
    )
    with enable_grad():
        ins = _prepare(ins, create_graph)
        out = func(*ins)
        u = Tensor._make(np.zeros(out._data.shape, out._data.dtype)).requires_grad_(True)
        gs = grad(out, ins, u, create_graph=True, allow_unused=True)
        pairs = [(g, w) for g, w in zip(gs, vs, strict=True) if g is not None]
        if not pairs:
            return out.detach(), _zeros(out)
        # PyTorch's double-backward trick: the vjp u -> u^T J is linear in u, and its own vjp
        # with cotangent v is J v (for complex values too, where a sum of g * v is not)
        (jv,) = grad(
            [g for g, _ in pairs],
            [u],
            [w for _, w in pairs],
            retain_graph=True,
            create_graph=create_graph,
            allow_unused=True,
        )
        jv = _zeros(out) if jv is None else jv if create_graph else jv.detach()
    return (out if create_graph else out.detach()), jv


def vhp(
    func: Callable[..., Any],
    inputs: Any,
    v: Any = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """(func(inputs), v^T H)."""
    in_tuple, ins = _as_tuple(inputs)
    _, vs = _as_tuple(v)
    with enable_grad():
        ins = _prepare(ins, create_graph)
        out = func(*ins)
        gs = grad(out, ins, create_graph=True, allow_unused=True)
        pairs = [(g, w) for g, w in zip(gs, vs, strict=True) if g is not None]
        # (the gradients' vjp with cotangent v, as PyTorch: right for complex inputs too)
        hv = grad(
            [g for g, _ in pairs],
            ins,
            [w for _, w in pairs],
            retain_graph=True,
            create_graph=create_graph,
            allow_unused=True,
        )
        hv = tuple(
            _zeros(i) if h is None else h if create_graph else h.detach()
            for h, i in zip(hv, ins, strict=True)
        )
    return (out if create_graph else out.detach()), _wrap(in_tuple, hv)


hvp = vhp  # the Hessian of a scalar function is symmetric
