"""Pickling adjit objects as PyTorch pickles them: tensors as ``torch._utils`` rebuild calls on
persistent storages, without importing torch."""

from __future__ import annotations

import pickle
from collections import OrderedDict
from typing import IO, Any

import numpy as np

from adjit.ir import dtypes as D
from adjit.ir.dtypes import DType
from adjit.runtime.device import device
from adjit.runtime.tensor import Size, Tensor


class Global:
    """A reference to ``module.name`` written as pickle's GLOBAL, never imported."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __repr__(self) -> str:
        return f"{self.module}.{self.name}"

    def __call__(self, *args: Any) -> Any:  # (pickle's save_reduce wants a callable)
        raise TypeError(f"{self!r} is a name written into a pickle, not a function")


# the storage class PyTorch names each dtype's storage by (torch.storage._dtype_to_storage_type_map)
STORAGE_NAMES = {
    "float64": "DoubleStorage",
    "float32": "FloatStorage",
    "float16": "HalfStorage",
    "int64": "LongStorage",
    "int32": "IntStorage",
    "int16": "ShortStorage",
    "int8": "CharStorage",
    "uint8": "ByteStorage",
    "bool": "BoolStorage",
    "bfloat16": "BFloat16Storage",
    "complex128": "ComplexDoubleStorage",
    "complex64": "ComplexFloatStorage",
}
_STORAGE = {name: Global("torch", s) for name, s in STORAGE_NAMES.items()}
_DTYPE = {d.name: Global("torch", d.name) for d in (*D.ALL, *D.COMPLEX, *D.UNSUPPORTED)}
REBUILD_TENSOR = Global("torch._utils", "_rebuild_tensor_v2")
REBUILD_PARAMETER = Global("torch._utils", "_rebuild_parameter")
_SIZE = Global("torch", "Size")
_DEVICE = Global("torch", "device")
SAME_DATA_AS_OTHER_TYPES = (
    "Cannot save multiple tensors or storages that view the same data as different types"
)


class _Storage:
    """One saved storage: its bytes (a flat uint8 array) and the dtype it is typed as."""

    __slots__ = ("key", "dtype", "data")

    def __init__(self, key: str, dtype: DType, data: np.ndarray) -> None:
        self.key, self.dtype, self.data = key, dtype, data


def _memory_of(a: np.ndarray) -> tuple[np.ndarray, int] | None:
    """The whole memory block ``a`` views, as flat bytes, and ``a``'s byte offset in it; None
    when ``a`` cannot be described as (offset, non-negative strides) into one block."""
    root = a
    while isinstance(root.base, np.ndarray):
        root = root.base
    if not (root.flags.c_contiguous or root.flags.f_contiguous) or root.size == 0:
        return None  # (a fresh empty tensor: PyTorch gives it its own empty storage)
    block = root.reshape(-1, order="A").view(np.uint8)
    offset = a.ctypes.data - block.ctypes.data
    item = a.itemsize
    if offset < 0 or offset % item or block.nbytes % item or offset > block.nbytes:
        return None
    if any(s < 0 or s % item for s in a.strides):
        return None
    return block, offset // item


def _contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """PyTorch's strides of a contiguous tensor (a 0 extent counts as 1)."""
    out, step = [], 1
    for n in reversed(shape):
        out.append(step)
        step *= max(n, 1)
    return tuple(reversed(out))


class TorchPickler(pickle._Pickler):  # the pure-Python pickler: its save() can be extended
    """Writes PyTorch's pickle of ``obj``; the storages it refers to collect in ``storages``."""

    def __init__(self, file: IO[bytes], protocol: int) -> None:
        super().__init__(file, protocol)
        self.storages: dict[tuple[int, int], _Storage] = {}
        self._keep: list[Any] = []  # objects made while pickling, alive until the end (ids)

    def save(self, obj: Any, save_persistent_id: bool = True) -> None:
        if isinstance(obj, DType):
            obj = _DTYPE[obj.name]
        if type(obj) is Global:
            self._save_global_ref(obj)
        else:
            super().save(obj, save_persistent_id)

    def _save_global_ref(self, g: Global) -> None:
        hit = self.memo.get(id(g))
        if hit is not None:
            self.write(self.get(hit[0]))
            return
        if self.proto >= 4:
            self.save(g.module)
            self.save(g.name)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + f"{g.module}\n{g.name}\n".encode())
        self.memoize(g)

    def persistent_id(self, obj: Any) -> Any:
        if type(obj) is _Storage:
            numel = obj.data.nbytes // obj.dtype.itemsize
            return ("storage", _STORAGE[obj.dtype.name], obj.key, "cpu", numel)
        return None

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, Tensor):
            return self._reduce_tensor(obj)
        if isinstance(obj, Size):
            return (_SIZE, (tuple(obj),))
        if isinstance(obj, device):
            return (_DEVICE, (obj.type,) if obj.index is None else (obj.type, obj.index))
        return NotImplemented

    def _reduce_tensor(self, t: Tensor) -> tuple:
        from adjit.nn.parameter import Parameter

        if t._is_tracer:
            raise RuntimeError("adjit.save cannot save a tensor of a function being traced")
        if isinstance(t, Parameter):
            plain = Tensor._make(t._data)
            self._keep.append(plain)
            return (REBUILD_PARAMETER, (plain, t.requires_grad, OrderedDict()))
        a, dtype = t._data, t.dtype
        if dtype.name not in STORAGE_NAMES:
            raise TypeError(f"adjit.save: tensors of dtype {dtype} cannot be saved")
        found = _memory_of(a)
        if found is None:  # empty, or a layout PyTorch has no view for (negative strides)
            found = np.ascontiguousarray(a).reshape(-1).view(np.uint8), 0
            stride = _contiguous_strides(a.shape)
        else:
            stride = tuple(s // a.itemsize for s in a.strides)
        block, offset = found
        storage = self._storage(block, dtype)
        args = (storage, offset, tuple(a.shape), stride, t.requires_grad, OrderedDict())
        return (REBUILD_TENSOR, args)

    def _storage(self, block: np.ndarray, dtype: DType) -> _Storage:
        where = (block.ctypes.data, block.nbytes) if block.nbytes else (id(block), 0)
        hit = self.storages.get(where)
        if hit is None:
            hit = self.storages[where] = _Storage(str(len(self.storages)), dtype, block)
            self._keep.append(block)
        elif hit.dtype is not dtype:
            raise RuntimeError(SAME_DATA_AS_OTHER_TYPES)
        return hit
