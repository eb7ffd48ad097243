"""Module helpers: torch.typename, repr indentation, hook handles, state_dict save and load."""

from __future__ import annotations

import itertools
from collections import namedtuple
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from adjit.nn.parameter import is_lazy
from adjit.runtime.grad_mode import no_grad
from adjit.runtime.tensor import Size, Tensor

if TYPE_CHECKING:
    from adjit.nn.module import Module


def typename(obj: Any) -> str:
    """``torch.typename``: ``torch.FloatTensor`` for tensors, the qualified class name otherwise."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(type(obj), "__module__", "") or ""
    qualname = type(obj).__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


def _addindent(s: str, spaces: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    rest = [(" " * spaces + line) if line.strip() else "" for line in lines[1:]]
    return lines[0] + "\n" + "\n".join(rest)


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class RemovableHandle:
    """Returned by ``register_*_hook``; ``remove()`` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, *tables: dict[int, Any], extra_dict: Any = None) -> None:
        self.id = next(RemovableHandle._ids)
        extra = [extra_dict] if isinstance(extra_dict, dict) else list(extra_dict or [])
        self._tables = (*tables, *extra)  # torch.utils.hooks: (hooks_dict, extra_dict=...)

    def remove(self) -> None:
        for table in self._tables:
            table.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def convert(module: Module, fn: Callable[[Tensor], Tensor]) -> Module:
    """Apply ``fn`` to every parameter (in place, keeping identity), gradient and buffer."""
    for m in module.modules():
        for p in m._parameters.values():
            if p is not None:
                with no_grad():
                    p._data = fn(p)._data
                if p.grad is not None:
                    p.grad = fn(p.grad)
        for k, b in m._buffers.items():
            if b is not None and is_lazy(b):  # keep the placeholder (PyTorch: dtype changes)
                b._data = fn(b)._data
            elif b is not None:
                m._buffers[k] = fn(b)
    return module


def target_dtype(args: tuple, kwargs: dict[str, Any]) -> Any:
    """The dtype in ``Module.to``'s arguments (devices are checked to be the CPU)."""
    from adjit.runtime.device import check, device

    dtype = kwargs.get("dtype")
    for a in (*args, kwargs.get("device")):
        if isinstance(a, str | int | device) and not isinstance(a, bool):
            check(a)  # PyTorch's error for a device this build lacks ('cuda', 'meta')
        elif isinstance(a, Tensor):
            dtype = a.dtype
        elif a is not None:
            dtype = a
    if dtype is not None and not dtype.is_floating_point:
        raise TypeError(
            f"nn.Module.to only accepts floating point or complex dtypes, but got desired "
            f"dtype={dtype}"
        )
    return dtype


def _floating_to(dtype: Any) -> Callable[[Tensor], Tensor]:
    return lambda t: t.to(dtype) if t.is_floating_point() else t


def _size(shape: tuple[int, ...]) -> str:
    return repr(Size(shape))
