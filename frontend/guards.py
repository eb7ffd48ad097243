"""Specialization keys: what a compiled entry assumes about its arguments (its guards)."""

from __future__ import annotations

import inspect
import types
from typing import Any

from ..ir.dtypes import from_numpy_dtype
from ..runtime.grad_mode import is_grad_enabled
from ..runtime.tensor import Tensor


def leaf_key(x: Any) -> tuple:
    """What one flattened argument contributes to the signature."""
    if isinstance(x, Tensor):
        if not x._is_tracer:  # the same key, read off the array (a lifted tensor's per call)
            d = x._data
            name = from_numpy_dtype(d.dtype).name
            return ("tensor", d.shape, name, x._requires_grad or x._grad_fn is not None)
        return ("tensor", tuple(x.shape), x.dtype.name, x.requires_grad)
    if isinstance(x, bool | int | float | str | type(None)):
        return ("value", type(x).__name__, x)
    try:
        hash(x)
        return ("value", type(x).__name__, x)
    except TypeError:
        return ("object", type(x).__name__, id(x))


_STABLE = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)


def bindings(fn: Any) -> list[tuple[Any, str, Any]]:
    """The global and closure names ``fn`` (and the code nested in it) reads, with the object
    each is bound to now: a compiled entry assumes the same objects (a tensor, module or number
    rebound later traces again instead of computing with the old one). Modules, functions and
    classes are left out (rebinding them is rare, and plain calls stay unguarded)."""
    fn = inspect.unwrap(getattr(fn, "__func__", fn))  # (adjit.grad's wrapper: the user's fn)
    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    names: set[str] = set()
    stack = [code]
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    found: list[tuple[Any, str, Any]] = []
    scope = getattr(fn, "__globals__", {})
    for name in sorted(names):
        if name in scope and not isinstance(scope[name], _STABLE):
            found.append((scope, name, scope[name]))
    for name, cell in zip(code.co_freevars, fn.__closure__ or (), strict=False):
        try:
            value = cell.cell_contents
        except ValueError:  # not bound yet
            continue
        if not isinstance(value, _STABLE):
            found.append((cell, name, value))
    return found


def bindings_ok(found: list[tuple[Any, str, Any]]) -> bool:
    for where, name, value in found:
        now = where.get(name, _MISSING) if isinstance(where, dict) else where.cell_contents
        if now is not value:
            return False
    return True


_MISSING = object()


def signature(leaves: list[Any], spec: Any) -> tuple:
    return (spec_key(spec), tuple(leaf_key(x) for x in leaves), is_grad_enabled())


def spec_key(spec: Any) -> Any:
    if isinstance(spec, tuple):
        kind, keys, children = spec
        return (kind.__name__, tuple(keys) if keys else None, tuple(spec_key(c) for c in children))
    return spec


def describe(sig: tuple) -> list[str]:
    """Readable guard lines for ``explain``."""
    _, leaves, grad_mode = sig
    lines = []
    for i, k in enumerate(leaves):
        if k[0] == "tensor":
            lines.append(f"arg {i}: tensor shape={list(k[1])} dtype={k[2]} requires_grad={k[3]}")
        else:
            lines.append(f"arg {i}: {k[1]} == {k[2]!r}")
    lines.append(f"grad mode enabled == {grad_mode}")
    return lines


def diff(old: tuple, new: tuple) -> str:
    """Why ``new`` missed the cache entry ``old``: the first guard that changed."""
    if old[2] != new[2]:
        return f"grad mode changed from {old[2]} to {new[2]}"
    if old[0] != new[0] or len(old[1]) != len(new[1]):
        return "the structure of the arguments changed"
    names = {1: "shape", 2: "dtype", 3: "requires_grad"}
    for i, (a, b) in enumerate(zip(old[1], new[1], strict=True)):
        if a != b:
            if a[0] == b[0] == "tensor":
                j = next(j for j in (1, 2, 3) if a[j] != b[j])
                return f"{names[j]} of arg {i} changed from {a[j]} to {b[j]}"
            return f"arg {i} changed from {a[2]!r} to {b[2]!r}"
    return "unknown"


def fast_key(args: tuple[Any, ...]) -> tuple | None:
    """A cheap signature for the common call: positional plain tensors only, not tracing.
    Equivalent to ``signature`` for such calls; None when the general path must decide."""
    key: list[Any] = [is_grad_enabled()]
    for a in args:
        if not isinstance(a, Tensor) or a._is_tracer:
            return None
        d = a._data
        key.append((d.shape, d.dtype, a._requires_grad or a._grad_fn is not None))
    return tuple(key)
