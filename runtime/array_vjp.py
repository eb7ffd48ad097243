"""Derivative rules of common ops as NumPy array code, for eager backward without create_graph.

Note [array-level VJPs]
Every rule here is its op's rule in ir/derivatives.py written with the same NumPy calls the
traced-op dispatch would make for it (same formula, same order of operations, Python numbers
converted to the cotangent's dtype first, as the dtype rules do), so the gradients are
bit-identical to the general path. The engine uses it only when nothing else needs the general
path: no create_graph, no trace, no dual level, no saved-tensor hooks, and every value of one
real floating dtype (float32 or float64: no promotion, no reduced-float rounding); otherwise,
and for every op not listed, it runs the general rule. A rule takes the cotangent ``g``, the
saved values by the general rule's parameter names (arrays, or numbers converted to ``g``'s
dtype), and returns one array or None per input, before ``conform``.

Note [quiet NumPy calls]
PyTorch never warns about overflow or invalid values, so eager NumPy calls run with NumPy's
floating-point errors ignored. ``np.errstate(all="ignore")`` costs ~1.4 µs to enter and leave
(an object, a new extobj made per entry); every eager op and every backward node enters it.
``quiet_enter`` does what entering does, setting NumPy's error-state context variable to the
current state with all errors ignored (made once per state NumPy is in, then looked up), and
``quiet_exit(token)`` what leaving does (~0.25 µs together). The user's own settings are the
state outside, untouched. On a NumPy without that context variable (1.x), np.errstate itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir.derivatives import DERIVATIVES
from ..ir.ops import Op
from ..ir.reference import REFERENCE

ArrayRule = Callable[..., tuple[Any, ...]]

try:  # (Note [quiet NumPy calls])
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj
except ImportError:  # NumPy 1.x
    _extobj_contextvar = None

QUIET: dict[Any, Any] = {}  # NumPy's error state -> the same state, all errors ignored


def _quiet_enter_slow() -> Any:
    state = np.errstate(all="ignore")
    state.__enter__()
    return state


def _quiet_exit_slow(state: Any) -> None:
    state.__exit__(None, None, None)


if _extobj_contextvar is not None:
    # the hottest paths inline quiet_enter: ``q = QUIET.get(np_state())``, then
    # ``set_np_state(q if q is not None else quiet_state())``
    np_state: Callable[[], Any] = _extobj_contextvar.get
    set_np_state: Callable[[Any], Any] = _extobj_contextvar.set
    quiet_exit: Callable[[Any], None] = _extobj_contextvar.reset
else:
    np_state = lambda: None  # noqa: E731
    set_np_state, quiet_exit = (lambda _: _quiet_enter_slow()), _quiet_exit_slow


def quiet_state() -> Any:
    """NumPy's current error state with all errors ignored (for ``set_np_state``)."""
    now = np_state()
    quiet = QUIET.get(now)
    if quiet is None and _extobj_contextvar is not None:
        if len(QUIET) > 64:  # (each np.errstate entry makes a new state)
            QUIET.clear()
        quiet = QUIET[now] = _make_extobj(all="ignore")  # (keeps now's other fields)
    return quiet


def quiet_enter() -> Any:
    """Enter ``np.errstate(all="ignore")``; returns the token ``quiet_exit`` takes."""
    return set_np_state(quiet_state())


def _one(g: np.ndarray) -> Any:
    return g.dtype.type(1)


def _div(g: Any, x: Any, y: Any, needs: tuple[bool, ...]) -> tuple[Any, Any]:
    # derivatives.py: (g / y, -g * (_quotient(x, y) / y)); a number x is a 0-d array already
    return (
        np.true_divide(g, y) if needs[0] else None,
        np.multiply(np.negative(g), np.true_divide(np.true_divide(x, y), y)) if needs[1] else None,
    )


def array_sum(a: np.ndarray, axes: tuple[int, ...] | None, keepdim: bool) -> np.ndarray:
    """The SUM op's value as the dispatch computes it (REFERENCE's rule, ``a``'s dtype kept),
    for array code that must round as the op does."""
    out = np.asarray(REFERENCE[Op.SUM](a, axes=axes, keepdim=keepdim))
    return out if out.dtype == a.dtype else out.astype(a.dtype)


def _unreduce(g: Any, x_shape: tuple[int, ...], axes: Any, keepdim: bool) -> tuple[Any]:
    if not keepdim:
        axes_ = range(len(x_shape)) if axes is None else axes
        g = g.reshape(tuple(1 if i in axes_ else n for i, n in enumerate(x_shape)))
    return (np.broadcast_to(g, x_shape),)


ARRAY_VJPS: dict[Op, ArrayRule] = {
    Op.NEG: lambda g: (np.negative(g),),
    Op.EXP: lambda g, out: (np.multiply(g, out),),
    Op.LOG: lambda g, x: (np.true_divide(g, x),),
    Op.SQRT: lambda g, out: (np.true_divide(g, np.multiply(g.dtype.type(2), out)),),
    Op.SIN: lambda g, x: (np.multiply(g, np.cos(x)),),
    Op.COS: lambda g, x: (np.multiply(np.negative(g), np.sin(x)),),
    Op.TANH: lambda g, out: (np.multiply(g, np.subtract(_one(g), np.multiply(out, out))),),
    Op.SIGMOID: lambda g, out: (np.multiply(np.multiply(g, out), np.subtract(_one(g), out)),),
    Op.RELU: lambda g, out: (np.where(out <= 0, g.dtype.type(0), g),),
    Op.ADD: lambda g: (g, g),
    Op.SUB: lambda g: (g, np.negative(g)),
    Op.MUL: lambda g, x, y, needs: (
        np.multiply(g, y) if needs[0] else None,
        np.multiply(g, x) if needs[1] else None,
    ),
    Op.DIV: _div,
    Op.SUM: _unreduce,
    Op.PERMUTE: lambda g, axes: (g.transpose(sorted(range(len(axes)), key=axes.__getitem__)),),
}
REAL_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# the derivative table's rules these copy: when one is replaced (a patched or user rule), the
# engine runs the table's rule instead, so ir/derivatives.py stays the one source of truth
MIRRORS = {op: DERIVATIVES[op] for op in ARRAY_VJPS}
