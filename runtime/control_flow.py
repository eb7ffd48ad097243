"""Eager control flow: scan, while and cond as Python loops of adjit ops (autograd records them).

The public functions (frontend/control.py) flatten pytrees, check the carries' types, and
either trace (one equation with a body graph: Note [loops in the IR]) or, eagerly, call these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .ops_movement import stack
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
    for i in range(length - 1, -1, -1) if reverse else range(length):
        carry, y = step(carry, [x[i] for x in xs])
        ys.append(y)
    if reverse:
        ys.reverse()
    if not ys:
        raise NotImplementedError("adjit.scan of length 0 runs only under adjit.compile")
    return carry, [stack([y[k] for y in ys]) for k in range(len(ys[0]))]


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
