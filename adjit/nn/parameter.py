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


class UninitializedTensorMixin:
    """A lazy module's placeholder: no shape until ``materialize(shape)`` turns it into
    ``cls_to_become`` (PyTorch refuses most ops on it; adjit refuses ``shape`` and ``repr``
    shows ``<UninitializedParameter>``)."""

    cls_to_become: type

    def materialize(self, shape: Any, device: Any = None, dtype: Any = None) -> None:
        from adjit.runtime.creation import empty

        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        dtype = self.dtype if dtype is None else dtype  # type: ignore[attr-defined]
        self._data = empty(*shape, dtype=dtype)._data  # type: ignore[attr-defined]
        self.__class__ = self.cls_to_become

    @property
    def shape(self) -> Any:
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. "
            "This error usually happens in `load_state_dict` when trying to load "
            "an uninitialized parameter into an initialized one. "
            "Call `forward` to initialize the parameters before accessing their attributes."
        )

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__}>"

    __str__ = __repr__


def _placeholder(dtype: Any) -> Tensor:
    from adjit.runtime.creation import empty

    return empty(0, dtype=dtype)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A parameter of a lazy module before its first forward."""

    cls_to_become = Parameter

    def __new__(
        cls, requires_grad: bool = True, device: Any = None, dtype: Any = None
    ) -> UninitializedParameter:
        p = Parameter.__new__(cls, _placeholder(dtype), requires_grad)
        return p  # type: ignore[return-value]

    def __init__(self, requires_grad: bool = True, device: Any = None, dtype: Any = None) -> None:
        pass

    def __reduce_ex__(self, protocol: int) -> Any:
        return (self.__class__, (self.requires_grad,))


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer of a lazy module before its first forward."""

    cls_to_become = Tensor

    def __new__(
        cls, requires_grad: bool = False, device: Any = None, dtype: Any = None
    ) -> UninitializedBuffer:
        t = cls._make(_placeholder(dtype)._data)
        t.requires_grad_(requires_grad)
        return t  # type: ignore[return-value]

    def __init__(self, requires_grad: bool = False, device: Any = None, dtype: Any = None) -> None:
        pass


def is_lazy(param: Any) -> bool:
    """Whether ``param`` is an ``UninitializedParameter`` or ``UninitializedBuffer``."""
    return isinstance(param, UninitializedTensorMixin)
