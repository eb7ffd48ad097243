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
    return Tensor._make(np.zeros(tuple(t.shape), t.dtype.np))


def _ones(t: Tensor) -> Tensor:
    return Tensor._make(np.ones(tuple(t.shape), t.dtype.np))


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


STRATEGY_ERROR = (
    'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
    'function has more outputs than inputs, "forward-mode" tends to be more performant. '
    'Otherwise, prefer to use "reverse-mode".'
)


def jacobian(
    func: Callable[..., Any],
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
) -> Any:
    """d func(inputs) / d inputs, shaped output.shape + input.shape (tuples as PyTorch nests).

    ``strategy="forward-mode"`` (with ``vectorize=True``, as PyTorch) is one batched JVP over
    the standard basis of the inputs (adjit.func's jvp under vmap); reverse mode is one
    gradient per output element (``vectorize`` changes nothing but PyTorch's checks there).
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError(STRATEGY_ERROR)
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                "torch.autograd.functional.jacobian: `create_graph=True` and "
                '`strategy="forward-mode"` are not supported together (yet). Please either '
                'set `create_graph=False` or `strategy="reverse-mode"`.'
            )
        return _jacfwd(func, inputs, strict, vectorize)
    if strict and vectorize:
        raise RuntimeError(
            "torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are not "
            "supported together. Please either set `strict=False` or `vectorize=False`."
        )
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


def _jacfwd(func: Callable[..., Any], inputs: Any, strict: bool, vectorize: bool) -> Any:
    """The forward-mode Jacobian: J applied to every basis vector at once (vmap of jvp)."""
    if strict:
        raise RuntimeError(
            'torch.autograd.functional.jacobian: `strict=True` and `strategy="forward-mode"` '
            "are not supported together (yet). Please either set `strict=False` or "
            '`strategy="reverse-mode"`.'
        )
    in_tuple, ins = _as_tuple(inputs)
    if not vectorize:
        raise NotImplementedError(  # (PyTorch's text, its missing space included)
            "Computing Jacobian using forward-AD or forward-over-reverse Hessian is"
            "only implemented for `vectorize=True`."
        )
    from adjit.frontend.jvp import jvp as func_jvp
    from adjit.frontend.vmap import vmap

    numels = [i.numel() for i in ins]
    basis = _standard_basis(ins, numels)
    found: dict[str, Any] = {}

    def tangents_of(*ts: Tensor) -> Any:
        out, tangent = func_jvp(
            func, tuple(ins), tuple(t.view_as(i) for t, i in zip(ts, ins, strict=True))
        )
        found["out"] = out
        return tangent

    batched = vmap(tangents_of)(*basis)
    out_tuple, outs = _as_tuple(found["out"])
    _, jacs = _as_tuple(batched)
    rows = []
    for jac, out in zip(jacs, outs, strict=True):
        per_input = []
        for part, inp in zip(jac.split(numels, dim=0), ins, strict=True):
            moved = part.permute(*range(1, part.ndim), 0)
            per_input.append(moved.reshape((*out.shape, *inp.shape)))
        rows.append(tuple(per_input))
    return _wrap(out_tuple, tuple(_wrap(in_tuple, r) for r in rows))


def _standard_basis(ins: tuple[Tensor, ...], numels: list[int]) -> list[Tensor]:
    """PyTorch's _construct_standard_basis_for: the identity split by columns per input."""
    total = sum(numels)
    eye = np.eye(total)
    chunks, start = [], 0
    for inp, n in zip(ins, numels, strict=True):
        chunks.append(
            Tensor._make(np.ascontiguousarray(eye[:, start : start + n], inp._data.dtype))
        )
        start += n
    return chunks


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
    """The matrix of second derivatives of a scalar function: the Jacobian (by the outer
    strategy) of its reverse-mode gradient, as PyTorch."""
    in_tuple, _ = _as_tuple(inputs)
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def single(*xs: Tensor) -> Tensor:
        out = func(*xs)
        if isinstance(out, tuple | list) or not isinstance(out, Tensor):
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError(
                "The Tensor returned by the function given to hessian should contain a single "
                "element"
            )
        return out.squeeze()

    def gradient(*xs: Tensor) -> Any:
        if outer_jacobian_strategy == "forward-mode":
            xs = tuple(x.requires_grad_(True) for x in xs)
        out = single(*xs)
        gs = _grads(out, xs, _ones(out), True, strict)
        return _wrap(in_tuple, gs)

    return jacobian(
        gradient,
        inputs,
        create_graph=create_graph,
        strict=strict,
        vectorize=vectorize,
        strategy=outer_jacobian_strategy,
    )


def _check_v(v: Any, ins: tuple[Tensor, ...], in_tuple: bool) -> tuple[Tensor, ...]:
    """PyTorch's _validate_v (v given) or its v=None rule (one input of one element)."""
    if v is None:
        if len(ins) != 1 or ins[0].numel() != 1:
            raise RuntimeError(
                "The vector v can only be None if the input to the user-provided function is "
                "a single Tensor with a single element."
            )
        return (_ones(ins[0]),)
    _, vs = _as_tuple(v)
    if len(vs) != len(ins):
        if in_tuple:
            raise RuntimeError(
                f"v is a tuple of invalid length: should be {len(ins)} but got {len(vs)}."
            )
        raise RuntimeError("The given v should contain a single Tensor.")
    for idx, (a, b) in enumerate(zip(vs, ins, strict=True)):
        if tuple(a.shape) != tuple(b.shape):
            prepend = f"Entry {idx} in " if in_tuple else ""
            raise RuntimeError(
                f"{prepend}v has invalid size: should be {b.shape} but got {a.shape}."
            )
    return vs


def jvp(
    func: Callable[..., Any],
    inputs: Any,
    v: Any = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """(func(inputs), J v) by PyTorch's double-backward trick, as torch.autograd.functional
    computes it (so a custom Function without a ``jvp`` works here, as in PyTorch; forward
    mode proper is adjit.func.jvp and autograd.forward_ad)."""
    in_tuple, ins = _as_tuple(inputs)
    vs = _check_v(v, ins, in_tuple)
    independent = (
        "The output of the user-provided function is independent of input {}. This is not "
        "allowed in strict mode."
    )
    with enable_grad():
        ins = _prepare(ins, create_graph)
        out_tuple, outs = _as_tuple(func(*ins))
        if strict:
            for k, o in enumerate(outs):
                if not o.requires_grad:
                    raise RuntimeError(
                        f"Output {k} of the user-provided function does not require gradients. "
                        "The outputs must be computed in a differentiable manner from the "
                        "input when running in strict mode."
                    )
        live = [o for o in outs if o.requires_grad]
        us = [_zeros(o).requires_grad_(True) for o in live]
        gs = (
            grad(live, ins, us, create_graph=True, allow_unused=True)
            if live
            else (None,) * len(ins)
        )
        for k, g in enumerate(gs):
            if g is None and strict:
                raise RuntimeError(independent.format(k))
        pairs = [(g, w) for g, w in zip(gs, vs, strict=True) if g is not None]
        # PyTorch's double-backward trick: the vjp u -> u^T J is linear in u, and its own vjp
        # with cotangent v is J v (for complex values too, where a sum of g * v is not)
        found = (
            grad(
                [g for g, _ in pairs],
                us,
                [w for _, w in pairs],
                retain_graph=True,
                create_graph=create_graph,
                allow_unused=True,
            )
            if pairs
            else (None,) * len(us)
        )
    by_out = iter(found)
    jvs = []
    for o in outs:
        jv = next(by_out) if o.requires_grad else None
        jvs.append(_zeros(o) if jv is None else jv if create_graph else jv.detach())
    values = tuple(o if create_graph else o.detach() for o in outs)
    return _wrap(out_tuple, values), _wrap(out_tuple, tuple(jvs))


def vhp(
    func: Callable[..., Any],
    inputs: Any,
    v: Any = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """(func(inputs), v^T H)."""
    in_tuple, ins = _as_tuple(inputs)
    vs = _check_v(v, ins, in_tuple)
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


def hvp(
    func: Callable[..., Any],
    inputs: Any,
    v: Any = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """(func(inputs), H v): PyTorch's checks, then ``vhp`` (the Hessian of a scalar function
    is symmetric; PyTorch also differentiates its gradient twice here)."""
    in_tuple, ins = _as_tuple(inputs)
    _check_v(v, ins, in_tuple)

    def single(*xs: Tensor) -> Any:
        out = func(*xs)
        if isinstance(out, tuple | list) or not isinstance(out, Tensor):
            raise RuntimeError("The function given to hvp should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError(
                "The Tensor returned by the function given to hvp should contain a single element"
            )
        return out

    return vhp(single, inputs, v, create_graph, strict)
