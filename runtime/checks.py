"""``check``: assert a condition on tensor values, eagerly now or, while tracing, at run time."""

from __future__ import annotations

from typing import Any

from ..ir.checks import CHECK_ERRORS, check_failure
from ..ir.ops import Op
from . import trace_state
from .dispatch import apply
from .tensor import Tensor
from .trace_state import TracingError


def check(
    x: Tensor,
    ok: Tensor,
    error: type[Exception],
    message: str,
    detail: Tensor | None = None,
) -> Tensor:
    """``x``, once every element of the bool tensor ``ok`` holds; else ``error(message)``.

    ``message`` may hold one ``{}``: it is filled with ``detail``'s element (broadcast to
    ``ok``'s shape) at the first failing position in C order. Eagerly (and on values known
    while tracing) the check runs now and returns ``x`` itself; on traced values it records a
    CHECK equation that the compiled program runs, and the result must be used in place of
    ``x`` for the check to stay in the program (Note [run-time checks] in ir/checks.py).
    ``error`` is one of IndexError, RuntimeError, ValueError, ZeroDivisionError.
    """
    if error.__name__ not in CHECK_ERRORS or CHECK_ERRORS[error.__name__] is not error:
        raise ValueError(f"check: unsupported error class {error.__name__}")
    inputs = [x, ok] if detail is None else [x, ok, detail]
    trace = trace_state.current()
    if trace is not None and trace.involves(inputs):
        return apply(Op.CHECK, *inputs, error=error.__name__, message=message)
    if ok.dtype.name != "bool":
        raise TypeError(f"check: the condition must be a bool tensor, got {ok.dtype}")
    failure = check_failure(
        ok._data, None if detail is None else detail._data, error.__name__, message
    )
    if failure is not None:
        raise failure
    return x


def in_range(
    x: Tensor,
    low: float,
    high: float,
    *,
    inclusive: bool = False,
    exempt: float | None = None,
) -> Tensor:
    """The bool tensor ``low <= x < high`` (``<= high`` if ``inclusive``; NaN is out of
    range), or ``x == exempt``: a bound for ``check``. Computed on the array when ``x`` is
    concrete (an eager index op pays ~2 µs for it, not three ops), recorded when traced."""
    trace = trace_state.current()
    if trace is None or not trace.involves([x]):
        d = x._data
        ok = (d >= low) & ((d <= high) if inclusive else (d < high))
        return Tensor._make(ok if exempt is None else ok | (d == exempt))
    ok = apply(Op.AND, apply(Op.GE, x, low), apply(Op.LE if inclusive else Op.LT, x, high))
    return ok if exempt is None else apply(Op.OR, ok, apply(Op.EQ, x, exempt))


def traced(t: object) -> bool:
    """Whether ``t`` is a tensor whose values are not known while tracing: a tracer, or a
    tensor from outside the trace (a closure, a module buffer) that the compiled call reads
    afresh, so its values at trace time must not be used."""
    if getattr(t, "_is_tracer", False):
        return True
    trace = trace_state.current()
    if trace is None or getattr(getattr(trace, "session", None), "broke", False):
        return False  # split by a graph break: the Python re-runs at every call, reading
    return isinstance(t, Tensor) and trace.involves([t])


def shape_from_values(op: str, size: str, *tensors: object) -> None:
    """Before an op whose result's shape is ``size`` (a count of the values) reads one of
    ``tensors`` that is traced: ``value_dependent`` with the text saying so."""
    message = f"{op} returns {size}, a size unknown while tracing; call it outside adjit.compile"
    value_dependent(message, f"{op}: a result whose size depends on the values", *tensors)


def value_dependent(message: str, reason: str, *tensors: object) -> None:
    """Before Python reads the values of one of ``tensors`` that is traced (a tracer, or a
    tensor from outside the trace whose values a compiled call must read afresh): a graph
    break there (``reason``) when the compiled function may be split, after which the values
    are known and the op runs on them; else a TracingError with ``message`` naming the op
    (Note [the data-read sweep] in tests/frontend/test_no_data_reads.py)."""
    trace = trace_state.current()
    if trace is None or not any(traced(t) for t in tensors):
        return
    trace.split(reason, message)  # a graph break, or the error (frontend/tracer.py)


def run_eagerly(message: str, reason: str, fn: Any, *args: Any) -> Any:
    """``fn(*args)``; when one of its tensor arguments is traced, run with no trace between
    two graph segments (a graph break ``reason``: its autograd is eager autograd, for ops whose
    derivative is NumPy code), or, unsplittable, a TracingError with ``message``."""
    trace = trace_state.current()
    if trace is None or not any(traced(a) for a in args):
        return fn(*args)
    eager_call = getattr(trace, "eager_call", None)  # graph breaks (frontend/breaks.py)
    if eager_call is None:
        raise TracingError(message)
    return eager_call(reason, fn, *args)
