"""CPU autocast at dispatch: its per-thread state, the casts of a listed op's inputs (the
policies of runtime/autocast_ops.py), the weight-cast cache, and the ``autocast_op`` wrapper."""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ..ir.dtypes import DType, bfloat16, float32, float64
from ..ir.ops import Op
from .autocast_ops import CPU_POLICY, FP32, LOWER, LOWER_INSIDE, NATIVE
from .tensor import Tensor
from .trace_state import _local as _trace_local

F = TypeVar("F", bound=Callable[..., Any])

# Note [CPU autocast]
# ``torch.autocast("cpu", dtype)`` changes what listed ops compute in (runtime/autocast_ops.py):
# each wrapped op (``autocast_op``) casts its floating tensor arguments other than float64
# (tensors in a list or tuple too) as its policy says, each cast an ordinary recorded cast
# (ToCopyBackward0) so that gradients flow back through it to the float32 leaves, then runs with
# autocast off, as PyTorch's autocast kernels run with their dispatch key excluded. Inside the
# same autocast region a float32 leaf that requires grad is cast to the autocast dtype once
# (PyTorch's weight cache, cleared on leaving the outermost region). A trace goes through the
# same wrappers, so a compiled program records the same casts; its guards hold the state
# (frontend/guards.py, and segment mode's module templates), and the cache is neither read nor
# written while tracing. Where the arguments choose PyTorch's op (F.pad's mode, an LSTM's oneDNN
# layer) the function asks ``run_as``. In-place methods and out= calls run with autocast off, as
# PyTorch has no autocast kernel for those overloads. What PyTorch's state functions report
# (is_autocast_enabled, get_autocast_dtype, the cache flag, nesting) is this state: adjit/amp.


class _State(threading.local):
    on: DType | None = None  # the autocast dtype while CPU autocast is enabled, else None
    dtype: DType = bfloat16  # torch.get_autocast_dtype("cpu")
    enabled = False  # torch.is_autocast_enabled("cpu") (False inside a listed op)
    cache_enabled = True
    nesting = 0
    cache: dict[int, tuple[Tensor, Tensor]] | None = None


_state = _State()


def key() -> tuple[Any, ...] | None:
    """What a compiled program assumes about the autocast state (None: off)."""
    return None if _state.on is None else (_state.on.name,)


def set_enabled(enabled: bool) -> None:
    _state.enabled = enabled
    _state.on = _state.dtype if enabled else None


def set_dtype(dtype: DType) -> None:
    _state.dtype = dtype
    if _state.on is not None:
        _state.on = dtype


def clear_cache() -> None:
    _state.cache = None


def _eligible(v: Any) -> bool:
    return isinstance(v, Tensor) and v.dtype.is_floating_point and v.dtype is not float64


def _cast(v: Tensor, dtype: DType) -> Tensor:
    if v._sparse:  # (its values cast: runtime/sparse.py)
        return v.to(dtype)
    from .dispatch import apply

    return apply(Op.CAST, v, dtype=dtype)


def _cached_cast(v: Tensor, dtype: DType, cache: bool) -> Tensor:
    """PyTorch's cached_cast: float32 leaves that require grad keep one cast per region."""
    if not (
        cache
        and v.dtype is float32
        and v.requires_grad
        and v.grad_fn is None
        and v._view_base is None
        and not v._is_tracer
    ):
        return _cast(v, dtype)
    store = _state.cache
    if store is None:
        store = _state.cache = {}
    hit = store.get(id(v))
    if hit is not None and hit[0] is v:
        return hit[1]
    out = _cast(v, dtype)
    store[id(v)] = (v, out)
    return out


def _cast_all(v: Any, dtype: DType, cache: bool) -> Any:
    if _eligible(v):
        return v if v.dtype is dtype else _cached_cast(v, dtype, cache)
    if type(v) is list or type(v) is tuple:
        return type(v)(_cast_all(x, dtype, cache) for x in v)
    return v


def _widest(values: Any, lower: DType) -> DType:
    """PyTorch's prioritize: float32 if any eligible tensor is, else the autocast dtype; a
    floating input of another half type is an error."""
    current = lower
    for v in values:
        for t in v if type(v) is list or type(v) is tuple else (v,):
            if not _eligible(t):
                continue
            if current is float32 or t.dtype is float32:
                current = float32
            elif t.dtype is not lower:
                raise RuntimeError("Unexpected floating ScalarType in at::autocast::prioritize")
    return current


def _target(policy: str, lower: DType, args: tuple[Any, ...], kwargs: dict[str, Any]) -> DType:
    if policy is LOWER or policy is LOWER_INSIDE:
        return lower
    if policy is FP32:
        return float32
    return _widest((*args, *kwargs.values()), lower)


def call(policy: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``fn(*args, **kwargs)`` under CPU autocast (Note [CPU autocast])."""
    lower = _state.on
    assert lower is not None
    if kwargs.get("out") is not None:
        policy = NATIVE  # (PyTorch's out= overloads have no autocast kernel: ``excluded``)
    result_type = None
    if policy is LOWER_INSIDE:
        from .dispatch import result_dtype

        result_type = result_dtype(*(a for a in args if isinstance(a, Tensor)))
    if policy is not NATIVE:
        dtype = _target(policy, lower, args, kwargs)
        cache = dtype is lower and _state.cache_enabled and _trace_local.trace is None
        args = _cast_all(args, dtype, cache)
        kwargs = {k: _cast_all(v, dtype, cache) for k, v in kwargs.items()}
    out = excluded(fn, *args, **kwargs)
    return out if result_type is None or out.dtype is result_type else _cast(out, result_type)


def excluded(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` with CPU autocast off while it runs (inside a listed op, and for
    an ``out=`` call: PyTorch's out= overloads have no autocast kernel)."""
    lower = _state.on
    if lower is None:
        return fn(*args, **kwargs)
    _state.on, _state.enabled = None, False
    try:
        return fn(*args, **kwargs)
    finally:
        _state.on, _state.enabled = lower, True


def autocast_op(name: str) -> Callable[[F], F]:
    """Wrap the function of PyTorch op ``name`` with its CPU autocast policy (a name missing
    from CPU_POLICY raises KeyError here, at import)."""
    policy = CPU_POLICY[name]

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            if _state.on is None:
                return fn(*args, **kwargs)
            return call(policy, fn, args, kwargs)

        run._autocast_name = name  # type: ignore[attr-defined]
        WRAPPED[name] = run
        return run  # type: ignore[return-value]

    return wrap


def listed(name: str) -> str:
    """``name``, a listed op that ``run_as`` will be asked for (checked here, at import)."""
    CPU_POLICY[name]  # noqa: B018 - (a KeyError naming it)
    RUN_AS.add(name)
    return name


def run_as(name: str | None, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` as the listed op ``name`` (None: not listed), for a function whose
    arguments choose PyTorch's op (F.pad's mode)."""
    if _state.on is None or name is None:
        return fn(*args, **kwargs)
    return call(CPU_POLICY[name], fn, args, kwargs)


def stacklevel(level: int) -> int:
    """``warnings.warn``'s stacklevel for ``level`` frames above the warning's caller, not
    counting the wrapper's frames (one, two under autocast) between a wrapped op and its caller."""
    frame, n = sys._getframe(1), 1
    while level > 1 and frame.f_back is not None:
        frame, n = frame.f_back, n + 1
        if frame.f_code.co_filename != __file__:
            level -= 1
    return n


WRAPPED: dict[str, Callable[..., Any]] = {}  # op name -> its wrapped function (completeness test)
RUN_AS: set[str] = set()  # the listed ops run through ``run_as`` (completeness test)
