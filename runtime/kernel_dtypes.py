"""PyTorch's refusals of dtypes a CPU kernel is not built for, in PyTorch's words."""

from __future__ import annotations

from typing import Any


def not_implemented(kernel: str, dtype: Any) -> NotImplementedError:
    """``"elu_cpu" not implemented for 'Long'``: PyTorch's dispatch error for ``dtype``."""
    return NotImplementedError(f"\"{kernel}\" not implemented for '{dtype.type_name}'")


def require_float(x: Any, kernel: str, *, bool_ok: bool = False) -> None:
    """Refuse ``x`` unless floating point (or bool, where PyTorch's kernel takes it)."""
    if x.dtype.is_floating_point or (bool_ok and x.dtype.name == "bool"):
        return
    raise not_implemented(kernel, x.dtype)


def require_not_bool(x: Any, kernel: str) -> None:
    if x.dtype.name == "bool":
        raise not_implemented(kernel, x.dtype)
