"""Eager control flow: scan, while and cond as Python loops of adjit ops (autograd records them).

The public functions (frontend/control.py) flatten pytrees, check the carries' types, and
either trace (one equation with a body graph: Note [loops in the IR]) or, eagerly, call these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .ops_movement import split, squeeze, stack
from .tensor import Tensor

Leaves = list[Tensor]


def scan_eager(
    step: Callable[[Leaves, Leaves], tuple[Leaves, Leaves]],
    init: Leaves,
    xs: Leaves,
    length: int,
    reverse: bool,
) -> tuple[Leaves, Leaves]:
    """``step(carry, x) -> (carry, y)`` over ``length`` slices of ``xs`` (last first when
    ``reverse``); the final carry and the ys stacked on a new leading axis."""
    carry, ys = init, []
    slices = [_steps(x, length) for x in xs]
    for i in range(length - 1, -1, -1) if reverse else range(length):
        carry, y = step(carry, [s[i] for s in slices])
        ys.append(y)
    if reverse:
        ys.reverse()
    return carry, [stack([y[k] for y in ys]) for k in range(len(ys[0]))]


def _steps(x: Tensor, n: int) -> list[Tensor]:
    """``x``'s slices along its leading axis; split in halves, recursively, when it needs a
    gradient (each slice's backward writes a gradient of all of ``x``: O(n log n) work, not
    O(n^2): Note [slicing a sequence in halves] in adjit/nn/functional_rnn.py)."""
    if not x.requires_grad:
        return [x[i] for i in range(n)]  # type: ignore[index]
    return [squeeze(p, 0) for p in _halves(x, n)]


def _halves(x: Tensor, n: int) -> list[Tensor]:
    if n == 1:
        return [x]
    a, b = split(x, [n // 2, n - n // 2], 0)
    return _halves(a, n // 2) + _halves(b, n - n // 2)


def while_eager(
    cond: Callable[[Leaves], Any], body: Callable[[Leaves], Leaves], init: Leaves
) -> Leaves:
    """``carry = body(carry)`` while ``cond(carry)``; ``init`` itself when it never runs."""
    carry = init
    while bool(cond(carry)):
        carry = body(carry)
    return carry


def cond_eager(
    pred: Any, true_fn: Callable[..., Any], false_fn: Callable[..., Any], ops: Any
) -> Any:
    return true_fn(*ops) if bool(pred) else false_fn(*ops)
