"""Memory shared with other libraries: DLPack (NumPy, PyTorch, JAX...) and Python buffers."""

from __future__ import annotations

import enum
import warnings
from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.dtypes import DType
from .tensor import Tensor


class DLDeviceType(enum.IntEnum):
    """DLPack's device codes (PyTorch's ``torch.utils.dlpack.DLDeviceType``, CPU first)."""

    kDLCPU = 1  # noqa: N815 - DLPack's spelling
    kDLCUDA = 2  # noqa: N815


def _exportable(x: Tensor) -> np.ndarray:
    if x.requires_grad:
        raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
    if x._is_tracer:
        raise BufferError("Can't export a tensor being traced by adjit.compile (it has no memory)")
    return x._data


def __dlpack__(x: Tensor, *, stream: Any = None, **kwargs: Any) -> Any:  # noqa: N807
    """The DLPack capsule of ``x``'s memory (no copy; NumPy's exporter, so its versions)."""
    data = _exportable(x)
    if stream is not None and stream != -1:
        raise BufferError("stream is only allowed for a CUDA tensor (adjit's are on the CPU)")
    return data.__dlpack__(stream=None, **kwargs)


def __dlpack_device__(x: Tensor) -> tuple[DLDeviceType, int]:  # noqa: N807
    return DLDeviceType.kDLCPU, 0


class _Capsule:
    """A bare DLPack capsule (``to_dlpack``'s) as the object protocol ``np.from_dlpack`` reads."""

    def __init__(self, capsule: Any) -> None:
        self.capsule = capsule

    def __dlpack__(self, **kwargs: Any) -> Any:
        if kwargs.get("max_version") is not None:
            raise TypeError("a legacy capsule")  # NumPy then asks again without versions
        capsule, self.capsule = self.capsule, None
        if capsule is None:
            raise RuntimeError(_CONSUMED)
        return capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return 1, 0


_CONSUMED = (
    "from_dlpack received an invalid capsule. Note that DLTensor capsules can be consumed only "
    "once, so you might have already constructed a tensor from it once."
)


def to_dlpack(tensor: Tensor) -> Any:
    """A one-use DLPack capsule of ``tensor``'s memory (PyTorch's ``torch.to_dlpack``)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(
            "_to_dlpack(): argument 'data' (position 1) must be Tensor, not "
            f"{type(tensor).__name__}"
        )
    return _exportable(tensor.detach()).__dlpack__()


def from_dlpack(ext_tensor: Any) -> Tensor:
    """A tensor sharing memory with any CPU DLPack exporter (an object with ``__dlpack__``,
    such as a NumPy array or a torch tensor, or a capsule from ``to_dlpack``)."""
    if isinstance(ext_tensor, Tensor):
        return ext_tensor
    source = ext_tensor
    if type(ext_tensor).__name__ == "PyCapsule":
        source = _Capsule(ext_tensor)
    elif not hasattr(ext_tensor, "__dlpack__"):
        raise RuntimeError(_CONSUMED)
    try:
        data = np.from_dlpack(source)
    except BufferError as e:
        raise BufferError(str(e)) from None
    except (TypeError, RuntimeError) as e:
        if str(e) == _CONSUMED:
            raise RuntimeError(_CONSUMED) from None
        raise
    D.from_numpy_dtype(data.dtype)  # PyTorch's refusal of a dtype adjit has not got
    return Tensor._make(data)


_READ_ONLY = (
    "The given buffer is not writable, and PyTorch does not support non-writable tensors. This "
    "means you can write to the underlying (supposedly non-writable) buffer using the tensor. "
    "You may want to copy the buffer to protect its data or make it writable before converting "
    "it to a tensor. This type of warning will be suppressed for the rest of this program."
)
_WARNED = [False]


def frombuffer(
    buffer: Any,
    *,
    dtype: DType,
    count: int = -1,
    offset: int = 0,
    requires_grad: bool = False,
) -> Tensor:
    """A 1-D tensor over an object's buffer (bytes, bytearray, array.array, mmap): no copy.
    A read-only buffer warns as PyTorch's does; writing to it then fails, where PyTorch
    would write into the buffer."""
    try:
        view = memoryview(buffer)
    except TypeError:
        raise ValueError("object does not implement Python buffer protocol.") from None
    length, item = view.nbytes, dtype.itemsize
    if length == 0 or count == 0:
        raise ValueError(f"both buffer length ({length}) and count ({count}) must not be 0")
    if not 0 <= offset < length:
        raise ValueError(
            f"offset ({offset} bytes) must be non-negative and no greater than buffer length "
            f"({length} bytes) minus 1"
        )
    if count < 0:
        if (length - offset) % item:
            raise ValueError(
                f"buffer length ({length - offset} bytes) after offset ({offset} bytes) must be "
                f"a multiple of element size ({item})"
            )
        count = (length - offset) // item
    elif offset + count * item > length:
        raise ValueError(
            f"requested buffer length ({count} * {item} bytes) after offset ({offset} bytes) "
            f"must not be greater than actual buffer length ({length} bytes)"
        )
    if view.readonly and not _WARNED[0]:
        warnings.warn(_READ_ONLY, UserWarning, stacklevel=2)
        _WARNED[0] = True
    data = np.frombuffer(buffer, dtype=dtype.np, count=count, offset=offset)
    return Tensor._make(data, requires_grad=requires_grad)


METHODS = {"__dlpack__": __dlpack__, "__dlpack_device__": __dlpack_device__}
