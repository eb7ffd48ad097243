"""``Parameter``: a Tensor that a Module registers as learnable state."""

from __future__ import annotations

from typing import Any

import numpy as np

from adjit.runtime.describe import tensor_repr
from adjit.runtime.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor sharing ``data``'s memory; ``requires_grad`` defaults to True."""

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Parameter:
        if data is None:
            data = Tensor._make(np.zeros((0,), np.float32))
        if not isinstance(data, Tensor):
            raise TypeError(
                f"Parameter(): argument 'data' must be Tensor, not {type(data).__name__}"
            )
        p = cls._make(data._data, version_box=data._version_box)
        p.requires_grad_(requires_grad)
        return p

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        pass

    def __repr__(self) -> str:
        return tensor_repr(self, prefix="Parameter containing:\ntensor(")

    __str__ = __repr__

    def __reduce_ex__(self, protocol: int) -> Any:
        return (_rebuild_parameter, (self._data, self._requires_grad))


def _rebuild_parameter(data: np.ndarray, requires_grad: bool) -> Parameter:
    return Parameter(Tensor._make(data), requires_grad)


class Buffer(Tensor):
    """Marks a tensor to be registered as a buffer when assigned to a Module attribute."""

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True) -> Tensor:
        t = data if data is not None else Tensor._make(np.zeros((0,), np.float32))
        out = Tensor._make(t._data, version_box=t._version_box)
        out._buffer_persistent = persistent  # type: ignore[attr-defined]
        return out


def is_lazy(param: Any) -> bool:
    return False
