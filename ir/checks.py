"""CHECK, the run-time assertion primitive: its shape rule, NumPy rule and error classes.

Note [run-time checks]
~~~~~~~~~~~~~~~~~~~~~~
Index bounds, value ranges and zero divisors depend on a tensor's values, which tracing never
reads. A decomposition states such a condition as data instead:

    t = check(t, ok, error="IndexError", message="Target {} is out of bounds.", detail=t)

``CHECK(x, ok[, detail])`` is the identity on ``x``; it raises ``error(message)`` unless every
element of the bool tensor ``ok`` is true. ``message`` may hold one ``{}``, filled with the
``detail`` element (broadcast to ``ok``'s shape) at the first failing position in C order,
which is the element PyTorch's loops report; ``{position}`` is that position (a flat index
into ``ok``: linalg's "(Batch element 2)"). Because the checked value is threaded through
the check (later ops read its output), the check needs no side-effect rules anywhere:

- DCE keeps it exactly when the value is used (a check whose value nothing reads guards
  nothing: it goes, as the computation it guarded does); CSE merges equal checks; constant
  folding leaves a failing one to run time (its rule raises).
- The adjoint treats it as the identity on ``x`` (``ok`` and ``detail`` get no cotangent).
- Fusion never puts it into a generated kernel: it runs as an extern step between kernels
  (the kernel computing ``ok`` writes it out; the check reads it, one ``np.all`` pass, and
  hands ``x``'s buffer on uncopied). The executor adds the traced equation's source line to
  the error as a note, keeping PyTorch's type and text.
- Eager mode evaluates the same rule on the spot (``runtime.checks.check``), so eager and
  compiled code share one check and raise the same error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .aval import Aval
from .dtypes import bool_
from .errors import ShapeError, _LinAlgError

# the exception classes a check may raise, by the name its ``error`` attribute holds
CHECK_ERRORS: dict[str, type[Exception]] = {
    e.__name__: e for e in (IndexError, RuntimeError, ValueError, ZeroDivisionError, _LinAlgError)
}


def check_shape(x: Aval, ok: Aval, *detail: Aval, error: str, message: str) -> Aval:
    """CHECK's output is its first input; ``ok`` is bool, ``detail`` broadcasts to it."""
    from .shapes import broadcast_shapes

    if ok.dtype is not bool_:
        raise ShapeError(f"the condition must be bool, got {ok.dtype.name}")
    if error not in CHECK_ERRORS:
        raise ShapeError(f"unknown error class {error!r} (one of {sorted(CHECK_ERRORS)})")
    if len(detail) > 1:
        raise ShapeError(f"at most one detail operand, got {len(detail)}")
    if detail and broadcast_shapes(ok.shape, detail[0].shape) != ok.shape:
        raise ShapeError(f"detail {detail[0]} does not broadcast to the condition {ok}")
    return Aval(x.shape, x.dtype)


def check_failure(
    ok: np.ndarray, detail: np.ndarray | None, error: str, message: str
) -> Exception | None:
    """The exception a failing check raises (None when every element of ``ok`` holds)."""
    if ok.all():
        return None
    first = int(np.argmin(ok.reshape(-1)))  # the first False, in C order
    message = message.replace("{position}", str(first))
    if detail is not None:
        value: Any = np.broadcast_to(detail, ok.shape).reshape(-1)[first].item()
        message = message.format(value)
    return CHECK_ERRORS[error](message)


def check_reference(
    x: np.ndarray, ok: np.ndarray, *detail: np.ndarray, error: str, message: str
) -> np.ndarray:
    """The identity on ``x``, after asserting ``ok`` (Note [run-time checks])."""
    failure = check_failure(np.asarray(ok), detail[0] if detail else None, error, message)
    if failure is not None:
        raise failure
    return x
