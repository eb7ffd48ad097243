"""Eager forward-mode AD: dual tensors' tangents, and ``apply``'s hook that propagates them.

Note [eager forward AD]
~~~~~~~~~~~~~~~~~~~~~~~
``autograd.forward_ad`` attaches a tangent to a tensor (``make_dual``) inside a dual level.
Every op through ``apply`` on a dual operand computes its output's tangent right away with the
op's JVP rule (ir/jvp.py, the table the JVP pass uses), on the eager values: so the rules are
the compiled ones, and tangents of decompositions follow from their primitives. The check in
``apply`` is one module-level flag (``ACTIVE``), set only while a level is open: code that
never enters a level pays one attribute read per op. The tangent is stored on the tensor with
the level's token; exiting the level makes a new token, so every tangent of the old level is
gone at once (as PyTorch's exit_dual_level deletes them). Tangents are computed with the hook
off (PyTorch supports one level: no tangents of tangents) and with grad mode as it is, so a
tangent records eager autograd when its inputs require grad (reverse over forward).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..ir.jvp import tangent_of
from ..ir.ops import GroupOp, Op
from .grad_mode import enable_grad

ACTIVE = False  # a dual level is open and the hook is on (read by dispatch.apply)
LEVEL = -1  # the open level (-1: none)
_TOKEN: list[object] = [object()]  # the open level's identity; tangents carry it


class ComplexForwardAD(NotImplementedError):
    """Forward mode met a complex value (its rules are written for real ones)."""


def tangent(t: Any) -> Any:
    """The tangent of ``t`` at the open level, or None."""
    fw = t.__dict__.get("_fw")
    return fw[1] if fw is not None and fw[0] is _TOKEN[0] else None


def set_tangent(t: Any, value: Any) -> None:
    t._fw = (_TOKEN[0], value)


def enter() -> int:
    global ACTIVE, LEVEL
    if LEVEL >= 0:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    LEVEL, ACTIVE = 0, True
    _TOKEN[0] = object()
    return LEVEL


def leave(level: int | None) -> None:
    global ACTIVE, LEVEL
    level = LEVEL if level is None else level
    if level < 0:
        raise RuntimeError("Dual level must be a positive number.")
    if level != LEVEL:
        raise RuntimeError(
            "Trying to exit a forward AD level that was not the last one that was created. "
            "This is not supported."
        )
    LEVEL, ACTIVE = -1, False
    _TOKEN[0] = object()  # every tangent of the level is gone


@contextmanager
def paused() -> Iterator[None]:
    """The hook off (a tangent's own ops get no tangent)."""
    global ACTIVE
    was, ACTIVE = ACTIVE, False
    try:
        yield
    finally:
        ACTIVE = was


def any_dual(tree: Any) -> bool:
    """Whether a compiled call's arguments hold a dual tensor: it runs eagerly then, so that
    its ops propagate the tangents (a dual tensor it closes over refuses: ``check_lift``)."""
    from .tensor import Tensor

    def walk(x: Any) -> bool:
        if isinstance(x, Tensor):
            return tangent(x) is not None
        if isinstance(x, tuple | list):
            return any(walk(v) for v in x)
        if isinstance(x, dict):
            return any(walk(v) for v in x.values())
        return False

    return walk(tree)


def check_lift(t: Any) -> None:
    """A traced function closes over ``t``: a dual tensor's tangent would be lost there."""
    if tangent(t) is not None:
        raise NotImplementedError(
            "a dual tensor (autograd.forward_ad) used inside a traced function (adjit.compile, "
            "adjit.func transforms) from outside it is not supported: pass it as an argument"
        )


class _EagerReverse:
    """ir/jvp.py's ``reverse`` helper on eager tensors (Note [JVP as the transpose of the
    VJP])."""

    @staticmethod
    def leaf(like: Any) -> Any:
        from .tensor import Tensor

        return Tensor._make(np.ones(tuple(like.shape), like.dtype.np), requires_grad=True)

    @staticmethod
    def grad(outputs: Any, inputs: Any, grad_outputs: Any, **kw: Any) -> tuple[Any, ...]:
        from .backward import grad

        return grad(outputs, inputs, grad_outputs, **kw)

    recording = staticmethod(enable_grad)


EAGER_REVERSE = _EagerReverse()


def propagate(op: Op, attrs: dict[str, Any], inputs: Sequence[Any], out: Any) -> None:
    """``apply``'s hook: give ``out`` its tangent when an input has one."""
    ts = [tangent(t) for t in inputs]
    if all(t is None for t in ts):
        return
    if out.dtype.is_complex or any(t.dtype.is_complex for t in inputs):
        raise ComplexForwardAD(
            f"adjit does not support forward-mode AD through complex tensors yet "
            f"({op.name.lower()}); use reverse mode"
        )
    if not out.dtype.is_floating_point:
        return
    if op in GroupOp.CONTROL:
        raise NotImplementedError(
            f"forward-mode AD through {op.name.lower()} is not supported eagerly; use "
            "adjit.func.jvp"
        )
    values = [t._data.item() if t._weak else t for t in inputs]

    def same(*operands: Any) -> Any:
        from .dispatch import apply

        return apply(op, *operands, **attrs)

    with paused():
        t = tangent_of(op, attrs, ts, values, out, same, EAGER_REVERSE)
    if t is not None:
        set_tangent(out, t)
        saved = getattr(out._grad_fn, "_saved", None)  # its grad_fn saved ``out`` before it
        if saved and "out" in saved:  # had a tangent: a backward's ops see it (forward over
            saved["out"]._fw = out._fw  # reverse)


def inplace_result(t: Any, result: Any) -> None:
    """``t`` was overwritten by ``result`` (an in-place op): its tangent becomes result's."""
    new = tangent(result)
    if new is None and tangent(t) is None:
        return
    if t._view_base is not None:
        raise NotImplementedError(
            "adjit does not support in-place operations on a view of a dual tensor (its "
            "base's tangent would not see the write); use an out-of-place op"
        )
    if new is not None:
        with paused():
            new = new if new.dtype is t.dtype else new.to(t.dtype)
            new = new if tuple(new.shape) == tuple(t.shape) else new.expand(tuple(t.shape))
    set_tangent(t, new)
