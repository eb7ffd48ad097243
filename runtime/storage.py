"""torch.UntypedStorage and TypedStorage over the NumPy memory a tensor views."""

from __future__ import annotations

import ctypes
import warnings
import weakref
from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.dtypes import DType
from .tensor import Tensor

# Note [storage is the root array]
# A tensor's memory is a NumPy array; its views (slices, reshapes, transposes) are NumPy views
# whose ``.base`` chain ends at the array that owns (or wraps) the block. That root is the
# tensor's storage, as in adjit's serialization (serialization_pickler._memory_of) and its
# safetensors overlap test: ``a.untyped_storage().data_ptr() == a[1:].untyped_storage()
# .data_ptr()``, and ``storage_offset()`` counts from the same start. One storage object is kept
# per live root (PyTorch also hands back the same object for views of one tensor).
_LIVE: weakref.WeakValueDictionary[int, UntypedStorage] = weakref.WeakValueDictionary()
# roots moved to "shared memory" (share_memory_), by id while they live: the flag outlives the
# storage objects, as the memory's own state does in PyTorch
_SHARED: dict[int, weakref.ref] = {}
_TYPED_WARNING = (
    "TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be "
    "the only storage class. This should only matter to you if you are using storages "
    "directly.  To access UntypedStorage directly, use tensor.untyped_storage() instead of "
    "tensor.storage()"
)
_WARNED = [False]


def _warn_typed(stacklevel: int = 3) -> None:
    """PyTorch's deprecation warning, once per process (every time under set_warn_always)."""
    from .settings import is_warn_always_enabled

    if is_warn_always_enabled() or not _WARNED[0]:
        warnings.warn(_TYPED_WARNING, UserWarning, stacklevel=stacklevel)
        _WARNED[0] = True


def _root(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _bytes_of(root: np.ndarray) -> np.ndarray:
    """The block ``root`` spans, from its first element, as flat writable-as-root bytes."""
    if root.size == 0:
        return np.zeros(0, np.uint8)
    if root.flags.c_contiguous or root.flags.f_contiguous:
        return root.reshape(-1, order="A").view(np.uint8)
    shape, steps = root.shape, root.strides
    span = sum((n - 1) * s for n, s in zip(shape, steps, strict=True) if s > 0)
    n = span + root.itemsize
    flat = np.ctypeslib.as_array((ctypes.c_uint8 * n).from_address(root.ctypes.data))
    flat.setflags(write=root.flags.writeable)
    return flat


class UntypedStorage:
    """Bytes on the CPU: a tensor's (``Tensor.untyped_storage()``) or new ones
    (``UntypedStorage(n)`` zeroed, ``UntypedStorage([1, 2])`` from byte values)."""

    __slots__ = ("_bytes", "_owner", "__weakref__")

    def __init__(self, *args: Any, device: Any = None) -> None:
        from .device import check

        check(device)
        if len(args) > 1:
            raise TypeError(f"UntypedStorage(): expected at most 1 argument, got {len(args)}")
        arg = args[0] if args else 0
        if isinstance(arg, int) and not isinstance(arg, bool):
            data = np.zeros(arg, np.uint8)
        else:
            data = np.array(list(arg), np.uint8)
        self._bytes, self._owner = data, data

    @classmethod
    def _of(cls, root: np.ndarray) -> UntypedStorage:
        found = _LIVE.get(id(root))
        if found is not None and found._owner is root:
            return found
        out = object.__new__(cls)
        out._bytes, out._owner = _bytes_of(root), root
        _LIVE[id(root)] = out
        return out

    # ---- queries --------------------------------------------------------------------------
    def data_ptr(self) -> int:
        return int(self._owner.ctypes.data) if self._bytes.size else 0

    def nbytes(self) -> int:
        return int(self._bytes.size)

    def size(self) -> int:
        return int(self._bytes.size)

    def __len__(self) -> int:
        return int(self._bytes.size)

    def element_size(self) -> int:
        return 1

    @property
    def device(self) -> Any:
        from .device import device

        return device("cpu")

    @property
    def is_cuda(self) -> bool:
        return False

    def is_pinned(self, device: Any = None) -> bool:
        return False

    def is_shared(self) -> bool:
        ref = _SHARED.get(id(self._owner))
        return ref is not None and ref() is self._owner

    def share_memory_(self) -> UntypedStorage:
        """Marked shared, the memory unmoved: adjit hands tensors to other processes by
        pickling (copies), so writes there are not seen here, unlike PyTorch's shared memory."""
        key = id(self._owner)
        _SHARED[key] = weakref.ref(self._owner, lambda _: _SHARED.pop(key, None))
        return self

    def cpu(self) -> UntypedStorage:
        return self

    def type(self, dtype: Any = None, non_blocking: bool = False) -> str:
        return "torch.storage.UntypedStorage"

    def tolist(self) -> list[int]:
        return [int(b) for b in self._bytes]

    def __getitem__(self, idx: int) -> int:
        return int(self._bytes[idx])

    def __setitem__(self, idx: Any, value: int) -> None:
        self._bytes[idx] = value

    def clone(self) -> UntypedStorage:
        return UntypedStorage._of(self._bytes.copy())

    def copy_(self, source: UntypedStorage, non_blocking: bool | None = None) -> UntypedStorage:
        if source.nbytes() != self.nbytes():
            raise RuntimeError(
                f"size mismatch, expected {self.nbytes()} bytes but got {source.nbytes()}"
            )
        self._bytes[...] = source._bytes
        return self

    def fill_(self, value: int) -> UntypedStorage:
        self._bytes[...] = value
        return self

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __str__(self) -> str:
        head = f"[torch.storage.UntypedStorage(device=cpu) of size {len(self)}]"
        return "".join(f" {b}\n" for b in self._bytes.tolist()) + head

    __repr__ = __str__


class TypedStorage:
    """A storage read as ``dtype`` elements (deprecated in PyTorch, as here: it warns once)."""

    __slots__ = ("_untyped_storage", "dtype")
    _default: DType | None = None  # the legacy classes' dtype (FloatStorage: float32)

    def __init__(
        self, *args: Any, dtype: DType | None = None, device: Any = None, wrap_storage: Any = None,
        _internal: bool = False,
    ) -> None:  # fmt: skip
        if not _internal:
            _warn_typed()
        dt = dtype or self._default or D.get_default_dtype()
        self.dtype = dt
        if wrap_storage is not None:
            self._untyped_storage = wrap_storage
            return
        arg = args[0] if args else 0
        if isinstance(arg, int) and not isinstance(arg, bool):
            data = np.zeros(arg, dt.np)
        else:
            data = np.array(list(arg), dt.np)
        self._untyped_storage = UntypedStorage._of(data)

    def _values(self) -> np.ndarray:
        raw = self._untyped_storage._bytes
        item = self.element_size()
        return raw[: len(raw) // item * item].view(self.dtype.np)

    def untyped(self) -> UntypedStorage:
        _warn_typed()
        return self._untyped_storage

    def size(self) -> int:
        _warn_typed()
        return len(self._values())

    def __len__(self) -> int:
        _warn_typed()
        return len(self._values())

    def nbytes(self) -> int:
        _warn_typed()
        return self._untyped_storage.nbytes()

    def element_size(self) -> int:
        return self.dtype.itemsize

    def data_ptr(self) -> int:
        _warn_typed()
        return self._untyped_storage.data_ptr()

    @property
    def device(self) -> Any:
        _warn_typed()
        return self._untyped_storage.device

    @property
    def is_cuda(self) -> bool:
        return False

    @property
    def is_sparse(self) -> bool:
        return False

    def is_shared(self) -> bool:
        _warn_typed()
        return self._untyped_storage.is_shared()

    def share_memory_(self) -> TypedStorage:
        _warn_typed()
        self._untyped_storage.share_memory_()
        return self

    def tolist(self) -> list[Any]:
        _warn_typed()
        return self._values().tolist()

    def __getitem__(self, idx: int) -> Any:
        _warn_typed()
        return self._values()[idx].item()

    def __setitem__(self, idx: Any, value: Any) -> None:
        _warn_typed()
        self._values()[idx] = value

    def type(self, dtype: Any = None, non_blocking: bool = False) -> str:
        _warn_typed()
        return _LEGACY.get(self.dtype.name, "torch.TypedStorage")

    def pickle_storage_type(self) -> str:
        _warn_typed()
        return self.type()[len("torch.") :]

    def cpu(self) -> TypedStorage:
        return self

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __str__(self) -> str:
        _warn_typed()
        head = (
            f"[torch.storage.TypedStorage(dtype=torch.{self.dtype.name}, device=cpu) of size "
            f"{len(self._values())}]"
        )
        return "".join(f" {v.item()}\n" for v in self._values()) + head

    __repr__ = __str__


_LEGACY = {
    "float32": "torch.FloatStorage",
    "float64": "torch.DoubleStorage",
    "float16": "torch.HalfStorage",
    "bfloat16": "torch.BFloat16Storage",
    "int64": "torch.LongStorage",
    "int32": "torch.IntStorage",
    "int16": "torch.ShortStorage",
    "int8": "torch.CharStorage",
    "uint8": "torch.ByteStorage",
    "bool": "torch.BoolStorage",
}


def _legacy_class(name: str, dt: DType) -> type:
    return type(name, (TypedStorage,), {"__slots__": (), "_default": dt})


FloatStorage = _legacy_class("FloatStorage", D.float32)
DoubleStorage = _legacy_class("DoubleStorage", D.float64)
HalfStorage = _legacy_class("HalfStorage", D.float16)
BFloat16Storage = _legacy_class("BFloat16Storage", D.bfloat16)
LongStorage = _legacy_class("LongStorage", D.int64)
IntStorage = _legacy_class("IntStorage", D.int32)
ShortStorage = _legacy_class("ShortStorage", D.int16)
CharStorage = _legacy_class("CharStorage", D.int8)
ByteStorage = _legacy_class("ByteStorage", D.uint8)
BoolStorage = _legacy_class("BoolStorage", D.bool_)
ComplexFloatStorage = _legacy_class("ComplexFloatStorage", D.complex64)
ComplexDoubleStorage = _legacy_class("ComplexDoubleStorage", D.complex128)
LEGACY_CLASSES = {  # dtype name -> legacy class (Tensor.storage_type)
    c._default.name: c  # type: ignore[attr-defined]
    for c in (FloatStorage, DoubleStorage, HalfStorage, BFloat16Storage, LongStorage)
    + (IntStorage, ShortStorage, CharStorage, ByteStorage, BoolStorage)
    + (ComplexFloatStorage, ComplexDoubleStorage)
}
Storage = FloatStorage  # PyTorch's torch.Storage is torch.FloatStorage


def untyped_storage(x: Tensor) -> UntypedStorage:
    if x._is_tracer:
        raise RuntimeError(
            "Cannot access storage of a tensor being traced by adjit.compile (it has no memory "
            "until the compiled program runs)"
        )
    return UntypedStorage._of(_root(x._data))


def storage(x: Tensor) -> TypedStorage:
    _warn_typed()
    return TypedStorage(wrap_storage=untyped_storage(x), dtype=x.dtype, _internal=True)


def is_shared(x: Tensor) -> bool:
    return untyped_storage(x).is_shared()


def share_memory_(x: Tensor) -> Tensor:
    untyped_storage(x).share_memory_()
    return x


def is_set_to(x: Tensor, tensor: Any) -> bool:
    """Whether ``x`` and ``tensor`` view the same memory with the same offset, sizes and
    strides (PyTorch's ``Tensor.is_set_to``; the dtypes may differ if the sizes agree)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(
            f"is_set_to(): argument 'tensor' (position 1) must be Tensor, not "
            f"{type(tensor).__name__}"
        )
    if x._is_tracer or tensor._is_tracer:
        raise RuntimeError("is_set_to: a tensor being traced by adjit.compile has no memory yet")
    return (
        _root(x._data) is _root(tensor._data)
        and x._data.itemsize == tensor._data.itemsize
        and (x.storage_offset(), x.shape, x.stride())
        == (tensor.storage_offset(), tensor.shape, tensor.stride())
    )


def is_storage(obj: Any) -> bool:
    return isinstance(obj, UntypedStorage | TypedStorage)


METHODS = {
    "untyped_storage": untyped_storage,
    "storage": storage,
    "_typed_storage": lambda x: TypedStorage(
        wrap_storage=untyped_storage(x), dtype=x.dtype, _internal=True
    ),
    "is_shared": is_shared,
    "share_memory_": share_memory_,
    "is_set_to": is_set_to,
}
