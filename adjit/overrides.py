"""``torch.overrides``' dispatch helpers: ``has_torch_function``, ``handle_torch_function``."""

# They dispatch on ``__torch_function__`` of the argument types, for code that calls them
# itself: adjit's own ops do not dispatch to ``__torch_function__`` (no modes either).

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

from adjit.nn.parameter import Parameter
from adjit.runtime.tensor import Tensor

__all__ = ["handle_torch_function", "has_torch_function", "has_torch_function_unary"]
__all__ += ["has_torch_function_variadic", "is_tensor_like"]

_PLAIN = (Tensor, Parameter)  # exact Tensors and Parameters never dispatch


def _overloads(arg: Any) -> bool:
    kind = type(arg)
    return kind not in _PLAIN and getattr(kind, "__torch_function__", None) is not None


def has_torch_function(relevant_args: Iterable[Any]) -> bool:
    """Whether an argument's type (not an exact Tensor or Parameter) has __torch_function__."""
    return any(_overloads(a) for a in relevant_args)


def has_torch_function_unary(arg: Any) -> bool:
    return _overloads(arg)


def has_torch_function_variadic(*args: Any) -> bool:
    return any(_overloads(a) for a in args)


def _get_overloaded_args(relevant_args: Iterable[Any]) -> list[Any]:
    """One argument per overloading type, subclasses before their superclasses."""
    overloaded: list[Any] = []
    seen: set[type] = set()
    for arg in relevant_args:
        kind = type(arg)
        if kind in seen or not _overloads(arg):
            continue
        seen.add(kind)
        index = next((i for i, o in enumerate(overloaded) if issubclass(kind, type(o))), None)
        overloaded.insert(len(overloaded) if index is None else index, arg)
    return overloaded


def handle_torch_function(
    public_api: Callable[..., Any], relevant_args: Iterable[Any], *args: Any, **kwargs: Any
) -> Any:
    """Call ``__torch_function__(public_api, types, args, kwargs)`` of each overloading
    argument in turn until one does not return NotImplemented."""
    overloaded_args = _get_overloaded_args(relevant_args)
    types = tuple(map(type, overloaded_args))
    for overloaded_arg in overloaded_args:
        method = overloaded_arg.__torch_function__
        if getattr(method, "__self__", None) is overloaded_arg:
            warnings.warn(
                "Defining your `__torch_function__ as a plain method is deprecated and "
                "will be an error in future, please define it as a classmethod.",
                DeprecationWarning,
                stacklevel=2,
            )
        result = method(public_api, types, args, kwargs)
        if result is not NotImplemented:
            return result
    func_name = f"{public_api.__module__}.{public_api.__name__}"
    raise TypeError(
        f"no implementation found for '{func_name}' on types that implement "
        f"__torch_function__: {[type(arg) for arg in overloaded_args]}"
    )


def is_tensor_like(inp: Any) -> bool:
    """A Tensor (a Parameter and other subclasses included: PyTorch's have Tensor's
    __torch_function__), or anything whose type has __torch_function__."""
    return isinstance(inp, Tensor) or hasattr(type(inp), "__torch_function__")
