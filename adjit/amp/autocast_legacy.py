"""PyTorch's per-device autocast spellings (``torch.set_autocast_cpu_enabled``, ...): deprecated
aliases of the ``device_type`` forms, made from one table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adjit.amp.autocast_mode import (
    deprecated,
    get_autocast_dtype,
    is_autocast_enabled,
    set_autocast_dtype,
    set_autocast_enabled,
)
from adjit.ir.dtypes import DType

# Note [deprecated autocast spellings]
# PyTorch's C++ binds these as METH_O / METH_NOARGS builtins: a keyword or a wrong count raises
# CPython's builtin texts, a wrong type "enabled must be a bool (got int)" before any warning,
# and each call warns "torch.<old> is deprecated. Please use torch.<new> instead." at the
# caller's line. The names say "gpu" where the device is "cuda".
_SETTERS = {  # name: (device, what it sets)
    "set_autocast_cpu_enabled": ("cpu", "enabled"),
    "set_autocast_cpu_dtype": ("cpu", "dtype"),
    "set_autocast_gpu_dtype": ("cuda", "dtype"),
    "set_autocast_ipu_enabled": ("ipu", "enabled"),
    "set_autocast_ipu_dtype": ("ipu", "dtype"),
    "set_autocast_xla_enabled": ("xla", "enabled"),
    "set_autocast_xla_dtype": ("xla", "dtype"),
}
_GETTERS = {  # name: (device, what it reads)
    "is_autocast_ipu_enabled": ("ipu", "enabled"),
    "get_autocast_ipu_dtype": ("ipu", "dtype"),
    "is_autocast_xla_enabled": ("xla", "enabled"),
    "get_autocast_xla_dtype": ("xla", "dtype"),
}
_KINDS: dict[str, tuple[type, str]] = {
    "enabled": (bool, "a bool"),
    "dtype": (DType, "a torch.dtype"),
}


def _setter(name: str, device: str, what: str) -> Callable[..., None]:
    kind, article = _KINDS[what]
    setter = set_autocast_enabled if what == "enabled" else set_autocast_dtype

    def function(*args: Any, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"torch.{name}() takes no keyword arguments")
        if len(args) != 1:
            raise TypeError(f"torch.{name}() takes exactly one argument ({len(args)} given)")
        if not isinstance(args[0], kind):
            raise TypeError(f"{what} must be {article} (got {type(args[0]).__name__})")
        new = f"set_autocast_{what}('{device}', {what})"
        deprecated(f"torch.{name}({what})", f"torch.{new}")
        setter(device, args[0])

    function.__name__ = function.__qualname__ = name
    function.__doc__ = (
        f"Deprecated: ``torch.{name}(x)`` is ``torch.set_autocast_{what}('{device}', x)``."
    )
    return function


def _getter(name: str, device: str, what: str) -> Callable[..., Any]:
    getter = is_autocast_enabled if what == "enabled" else get_autocast_dtype
    new = f"{'is' if what == 'enabled' else 'get'}_autocast_{what}('{device}')"

    def function(*args: Any) -> Any:
        if args:
            raise TypeError(f"torch.{name}() takes no arguments ({len(args)} given)")
        deprecated(f"torch.{name}()", f"torch.{new}")
        return getter(device)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"Deprecated: ``torch.{name}()`` is ``torch.{new}``."
    return function


set_autocast_cpu_enabled = _setter(
    "set_autocast_cpu_enabled", *_SETTERS["set_autocast_cpu_enabled"]
)
set_autocast_cpu_dtype = _setter("set_autocast_cpu_dtype", *_SETTERS["set_autocast_cpu_dtype"])
set_autocast_gpu_dtype = _setter("set_autocast_gpu_dtype", *_SETTERS["set_autocast_gpu_dtype"])
set_autocast_ipu_enabled = _setter(
    "set_autocast_ipu_enabled", *_SETTERS["set_autocast_ipu_enabled"]
)
set_autocast_ipu_dtype = _setter("set_autocast_ipu_dtype", *_SETTERS["set_autocast_ipu_dtype"])
set_autocast_xla_enabled = _setter(
    "set_autocast_xla_enabled", *_SETTERS["set_autocast_xla_enabled"]
)
set_autocast_xla_dtype = _setter("set_autocast_xla_dtype", *_SETTERS["set_autocast_xla_dtype"])
is_autocast_ipu_enabled = _getter("is_autocast_ipu_enabled", *_GETTERS["is_autocast_ipu_enabled"])
get_autocast_ipu_dtype = _getter("get_autocast_ipu_dtype", *_GETTERS["get_autocast_ipu_dtype"])
is_autocast_xla_enabled = _getter("is_autocast_xla_enabled", *_GETTERS["is_autocast_xla_enabled"])
get_autocast_xla_dtype = _getter("get_autocast_xla_dtype", *_GETTERS["get_autocast_xla_dtype"])

__all__ = [*_SETTERS, *_GETTERS]
