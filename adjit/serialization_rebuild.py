"""What the globals of a ``torch.save`` pickle mean in adjit: PyTorch's rebuild functions,
storage types, dtypes and classes, as adjit objects (the weights_only allowlist)."""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Any

import numpy as np

from adjit.ir import dtypes as D
from adjit.ir.dtypes import DType, UnsupportedDType
from adjit.nn.parameter import Parameter
from adjit.runtime.device import device
from adjit.runtime.tensor import Size, Tensor
from adjit.serialization_pickler import STORAGE_NAMES

# dtypes PyTorch can save that adjit has no storage for (refused when a tensor of one is built)
_OTHER_DTYPES = ["float8_e5m2", "float8_e4m3fn", "float8_e5m2fnuz", "float8_e4m3fnuz",
                 "float8_e8m0fnu", "float4_e2m1fn_x2", "bits1x8", "bits2x4", "bits4x2", "bits8",
                 "bits16", "qint8", "qint32", "quint8", "quint4x2", "quint2x4",
                 *(f"uint{i}" for i in range(1, 8)), *(f"int{i}" for i in range(1, 8))]  # fmt: skip
DTYPES: dict[str, DType] = {d.name: d for d in (*D.ALL, *D.COMPLEX, *D.UNSUPPORTED)} | {
    n: UnsupportedDType(n) for n in _OTHER_DTYPES
}
# bytes per element, for the storages of dtypes adjit cannot make tensors of
_ITEMSIZES = {"complex32": 4, "uint16": 2, "uint32": 4, "uint64": 8, "bfloat16": 2, "qint32": 4}


def itemsize(d: DType) -> int:
    return _ITEMSIZES.get(d.name, 1) if isinstance(d, UnsupportedDType) else d.itemsize


_QUANTIZED_STORAGES = {"QInt8Storage": "qint8", "QInt32Storage": "qint32",
                       "QUInt8Storage": "quint8", "QUInt4x2Storage": "quint4x2",
                       "QUInt2x4Storage": "quint2x4"}  # fmt: skip


class StorageType:
    """``torch.FloatStorage`` and the like in a pickle: which dtype a storage holds."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = DTYPES[_QUANTIZED_STORAGES.get(name) or _STORAGE_DTYPES[name]]

    def __repr__(self) -> str:
        return f"StorageType(dtype={self.dtype})"


_STORAGE_DTYPES = {s: name for name, s in STORAGE_NAMES.items()} | {"UntypedStorage": "uint8"}


class LoadedStorage:
    """A storage read from a file: flat bytes (``data``, uint8) that tensors view."""

    def __init__(self, data: np.ndarray, location: str) -> None:
        self.data, self.location = data, location

    @property
    def device(self) -> device:
        return device("cpu")

    def nbytes(self) -> int:
        return int(self.data.nbytes)

    def size(self) -> int:
        return int(self.data.nbytes)

    def cpu(self) -> LoadedStorage:
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> LoadedStorage:
        raise RuntimeError("adjit runs on the CPU only: CUDA is not available")

    def __repr__(self) -> str:
        return f"<adjit storage of {self.nbytes()} bytes, saved on {self.location}>"


class TypedView:
    """A storage as the pickle refers to it: the bytes and the dtype the tensor reads them as."""

    __slots__ = ("storage", "dtype")

    def __init__(self, storage: LoadedStorage, dtype: DType) -> None:
        self.storage, self.dtype = storage, dtype


def _extent_error(size: tuple, stride: tuple) -> RuntimeError:
    return RuntimeError(
        f"Storage size calculation overflowed with sizes={list(size)} and strides={list(stride)}"
    )


def _array(view: Any, offset: Any, size: Any, stride: Any, dtype: DType) -> np.ndarray:
    """The array a tensor of ``size``/``stride`` at ``offset`` in ``view``'s bytes is, checked
    against the storage's size as PyTorch's ``set_`` does (a file cannot reach other memory)."""
    if type(view) is not TypedView:
        raise RuntimeError(f"adjit.load: expected a storage, got {type(view).__name__}")
    if isinstance(dtype, UnsupportedDType):
        raise dtype._refuse()
    size, stride = tuple(int(n) for n in size), tuple(int(s) for s in stride)
    offset, item, data = int(offset), dtype.itemsize, view.storage.data
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    if any(n < 0 for n in size) or any(s < 0 for s in stride) or offset < 0:
        raise _extent_error(size, stride)
    if 0 in size:
        return np.empty(size, dtype.np)
    need = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) + 1
    if need * item > data.nbytes:
        raise RuntimeError(
            f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, "
            f"and itemsize {item} requiring a storage size of {need * item} are out of bounds "
            f"for storage of size {data.nbytes}"
        )
    strides = tuple(s * item for s in stride)
    return np.ndarray(size, dtype.np, buffer=data, offset=offset * item, strides=strides)


def _with_metadata(a: np.ndarray, metadata: Any) -> np.ndarray:
    """PyTorch's lazy conj/neg bits (``get_tensor_metadata``): applied to the values here."""
    if not metadata:
        return a
    if not isinstance(metadata, dict) or set(metadata) - {"conj", "neg"}:
        raise NotImplementedError(f"adjit.load: tensor metadata {metadata!r} is not supported")
    if metadata.get("conj"):
        a = np.conj(a)
    if metadata.get("neg"):
        a = np.negative(a)
    return a


def _tensor(a: np.ndarray, requires_grad: Any) -> Tensor:
    t = Tensor._make(a)
    if requires_grad:
        t.requires_grad_(bool(requires_grad))
    return t


def rebuild_tensor(view: Any, offset: Any, size: Any, stride: Any) -> Tensor:
    return _tensor(_array(view, offset, size, stride, view.dtype), False)


def rebuild_tensor_v2(
    view: Any,
    offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any,
    backward_hooks: Any,
    metadata: Any = None,
) -> Tensor:
    a = _array(view, offset, size, stride, getattr(view, "dtype", None))
    return _tensor(_with_metadata(a, metadata), requires_grad)


def rebuild_tensor_v3(
    view: Any,
    offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any,
    backward_hooks: Any,
    dtype: Any,
    metadata: Any = None,
) -> Tensor:
    if not isinstance(dtype, DType):
        raise RuntimeError(f"adjit.load: expected a dtype, got {type(dtype).__name__}")
    a = _array(view, offset, size, stride, dtype)
    return _tensor(_with_metadata(a, metadata), requires_grad)


def rebuild_parameter(data: Any, requires_grad: Any, backward_hooks: Any) -> Parameter:
    if not isinstance(data, Tensor):
        raise RuntimeError(f"adjit.load: expected a tensor, got {type(data).__name__}")
    return Parameter(data, bool(requires_grad))


def _set_state(obj: Any, state: Any) -> Any:
    dict_state, slots = state if isinstance(state, tuple) and len(state) == 2 else (state, None)
    for part in (dict_state, slots):
        for k, v in (part or {}).items():
            # a file may add plain attributes, never replace adjit's own (methods, internals)
            if not isinstance(k, str) or k.startswith("_") or hasattr(type(obj), k):
                raise NotImplementedError(f"adjit.load: tensor attribute {k!r} is not restored")
            setattr(obj, k, v)
    return obj


def rebuild_parameter_with_state(
    data: Any, requires_grad: Any, backward_hooks: Any, state: Any
) -> Parameter:
    return _set_state(rebuild_parameter(data, requires_grad, backward_hooks), state)


def rebuild_from_type_v2(func: Any, new_type: Any, args: Any, state: Any) -> Any:
    """A tensor subclass or a tensor with attributes: the tensor, then its type and state."""
    if func not in _REBUILDERS:
        raise RuntimeError(f"adjit.load: {func!r} does not rebuild a tensor")
    out = func(*args)
    if new_type is Parameter and type(out) is not Parameter:
        out = Parameter(out, out.requires_grad)
    elif new_type not in (Tensor, Parameter):
        raise NotImplementedError(f"adjit.load: tensor subclass {new_type!r} is not supported")
    return _set_state(out, state)


def _unsupported(kind: str) -> Any:
    def rebuild(*args: Any) -> Any:
        raise NotImplementedError(f"adjit.load: {kind} are not supported (adjit has dense CPU "
                                  "tensors only)")  # fmt: skip

    rebuild.__name__ = f"rebuild_{kind.replace(' ', '_')}"
    return rebuild


def _get_layout(name: Any) -> Any:
    if name != "torch.strided":
        raise NotImplementedError(
            f"adjit.load: tensors of layout {name} are not supported (adjit has dense CPU "
            "tensors only)"
        )
    return name


_REBUILDERS = {rebuild_tensor, rebuild_tensor_v2, rebuild_tensor_v3, rebuild_parameter,
               rebuild_parameter_with_state}  # fmt: skip
_UNSUPPORTED_REBUILDS = {
    "_rebuild_qtensor": "quantized tensors",
    "_rebuild_sparse_tensor": "sparse tensors",
    "_rebuild_meta_tensor_no_storage": "meta tensors",
    "_rebuild_nested_tensor": "nested tensors",
    "_rebuild_wrapper_subclass": "tensor subclasses",
    "_rebuild_device_tensor_from_numpy": "device tensors",
    "_rebuild_device_tensor_from_cpu_tensor": "device tensors",
}
_STORAGE_CLASSES = [*STORAGE_NAMES.values(), *_QUANTIZED_STORAGES]
# Note [weights_only allowlist]: the names torch._weights_only_unpickler._get_allowed_globals
# allows, each bound to what it means in adjit (the legacy tensor classes such as
# torch.FloatTensor, which no checkpoint written since PyTorch 1.0 names, are left out)
ALLOWED_GLOBALS: dict[str, Any] = {
    "collections.OrderedDict": OrderedDict,
    "collections.Counter": Counter,
    "torch.nn.parameter.Parameter": Parameter,
    "torch.serialization._get_layout": _get_layout,
    "torch.Size": Size,
    "torch.Tensor": Tensor,
    "torch.device": device,
    "_codecs.encode": __import__("_codecs").encode,  # bytes, in protocol 2
    "builtins.bytearray": bytearray,
    "builtins.set": set,
    "builtins.complex": complex,
    **{f"torch.{name}": d for name, d in DTYPES.items()},
    **{f"torch.{s}": StorageType(s) for s in _STORAGE_CLASSES},
    **{f"torch.cuda.{s}": StorageType(s) for s in STORAGE_NAMES.values()},
    "torch.storage.UntypedStorage": StorageType("UntypedStorage"),
    "torch._utils._rebuild_tensor": rebuild_tensor,
    "torch._utils._rebuild_tensor_v2": rebuild_tensor_v2,
    "torch._utils._rebuild_tensor_v3": rebuild_tensor_v3,
    "torch._utils._rebuild_parameter": rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": rebuild_parameter_with_state,
    "torch._tensor._rebuild_from_type_v2": rebuild_from_type_v2,
    **{f"torch._utils.{name}": _unsupported(kind) for name, kind in _UNSUPPORTED_REBUILDS.items()},
}
