"""PyTorch's legacy tensor types (``torch.LongTensor`` & co.): constructors of one dtype, and
``isinstance`` checks by dtype; ``Tensor.new`` and ``set_default_tensor_type``."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.dtypes import DType
from .tensor import _LEGACY_NAMES, Size, Tensor

# Note [legacy tensor types]
# ``torch.LongTensor([1, 2])`` is an int64 tensor whatever the default dtype, and
# ``isinstance(t, torch.LongTensor)`` asks whether ``t`` is int64: PyTorch's legacy types are
# instances of a metaclass (``torch.tensortype``), not subclasses of Tensor. adjit once bound
# ``LongTensor = Tensor``, which made ``torch.LongTensor([1, 2])`` a float32 tensor and every
# tensor an instance of every legacy type: a silently wrong dtype. Here each type is a class of
# the metaclass TensorType, which builds tensors of its dtype with the legacy constructor's rules
# (tensor_new.cpp's legacy_tensor_new): no argument, an empty 1-D tensor; integers or a Size,
# a tensor of that shape (uninitialized in PyTorch; zeros here); a sequence or array, its data
# converted (floats truncated toward zero for integer types); a tensor, that same tensor if its
# dtype matches. ``Tensor.new`` follows the same rules with the tensor's own dtype.

_CPP_NAMES = {  # c10's names for the dtypes, as TensorOptions prints them in the mismatch error
    "float32": "float",
    "float64": "double",
    "int64": "long int",
    "int32": "int",
    "int16": "short int",
    "int8": "signed char",
    "uint8": "unsigned char",
    "bool": "bool",
    "float16": "c10::Half",
    "bfloat16": "c10::BFloat16",
}


def _options(dtype: DType) -> str:
    return (
        f"TensorOptions(dtype={_CPP_NAMES.get(dtype.name, dtype.name)}, device=cpu, "
        "layout=Strided, requires_grad=false (default), pinned_memory=false (default), "
        "memory_format=(nullopt))"
    )


_SIGNATURES = (
    " * (*, torch.device device = None)\n"
    " * (torch.Storage storage)\n"
    " * (Tensor other)\n"
    " * (tuple of ints size, *, torch.device device = None)\n"
    " * (object data, *, torch.device device = None)\n"
)


def legacy_new(dtype: DType, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Tensor:
    """A tensor of ``dtype`` by the legacy constructor's rules (Note [legacy tensor types])."""
    from .creation import tensor

    extra = sorted(set(kwargs) - {"device"})
    got = [type(a).__name__ for a in args] + [f"{k}={_kind(kwargs[k])}" for k in extra]
    if extra:
        raise _invalid(got, extra)
    if not args:
        return Tensor._make(np.zeros((0,), dtype.np))
    data = args[0]
    if all(isinstance(a, int) and not isinstance(a, bool) for a in args) or (
        len(args) == 1 and isinstance(data, Size)
    ):
        shape = tuple(data) if isinstance(data, Size) else args
        if any(n < 0 for n in shape):
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {min(shape)}: {list(shape)}"
            )
        return Tensor._make(np.zeros(shape, dtype.np))
    if len(args) > 1:
        i, bad = next((i, a) for i, a in enumerate(args) if not isinstance(a, int))
        raise TypeError(
            f"new(): argument 'size' failed to unpack the object at pos {i + 1} with error "
            f'"type must be tuple of ints,but got {type(bad).__name__}"'
        )
    if isinstance(data, Tensor):
        if data.dtype is not dtype:
            raise TypeError(f"expected {_options(dtype)} (got {_options(data.dtype)})")
        return data.view_as(data)  # (PyTorch: an alias, in the autograd graph)
    if isinstance(data, str):
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    if not isinstance(data, Sequence | np.ndarray):
        raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
    if np.asarray(data).dtype.kind == "c" and dtype.category != 3:
        raise TypeError("must be real number, not complex")
    return tensor(data, dtype=dtype)


def _invalid(got: list[str], keywords: list[str]) -> TypeError:
    first, rest = _SIGNATURES.split("\n", 1)
    why = f"      didn't match because some of the keywords were incorrect: {', '.join(keywords)}"
    return TypeError(
        f"new() received an invalid combination of arguments - got ({', '.join(got)}), but "
        f"expected one of:\n{first}\n{why}\n{rest}"
    )


def _kind(value: Any) -> str:
    return "torch.dtype" if isinstance(value, DType) else type(value).__name__


class TensorType(type):
    """The legacy types' metaclass (PyTorch's ``torch.tensortype``)."""

    dtype: DType

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype

    def __call__(cls, *args: Any, **kwargs: Any) -> Tensor:
        return legacy_new(cls.dtype, args, kwargs)

    def __repr__(cls) -> str:
        return f"<class 'torch.{cls.__name__}'>"

    @property
    def is_sparse(cls) -> bool:
        return False

    @property
    def is_cuda(cls) -> bool:
        return False


def _legacy_type(dtype: DType) -> TensorType:
    name = _LEGACY_NAMES[dtype.name].removeprefix("torch.")
    return TensorType(name, (), {"dtype": dtype, "__module__": "torch"})


FloatTensor = _legacy_type(D.float32)
DoubleTensor = _legacy_type(D.float64)
HalfTensor = _legacy_type(D.float16)
BFloat16Tensor = _legacy_type(D.bfloat16)
ByteTensor = _legacy_type(D.uint8)
CharTensor = _legacy_type(D.int8)
ShortTensor = _legacy_type(D.int16)
IntTensor = _legacy_type(D.int32)
LongTensor = _legacy_type(D.int64)
BoolTensor = _legacy_type(D.bool_)

_BY_NAME = {
    f"torch.{t.__name__}": t for t in (FloatTensor, DoubleTensor, HalfTensor, BFloat16Tensor)
}


_WARNED = [False]


def set_default_tensor_type(t: Any) -> None:
    """``torch.set_default_tensor_type`` (deprecated in PyTorch 2.1): the default dtype, from a
    floating legacy type or its name."""
    if isinstance(t, str):
        module, _, name = t.rpartition(".")
        if module != "torch":
            raise ModuleNotFoundError(f"No module named '{module or name}'")
        if not isinstance(globals().get(name), TensorType):  # (torch's legacy classes)
            raise AttributeError(f"module 'torch' has no attribute '{name}'")
        t = _BY_NAME.get(t)
    if not isinstance(t, TensorType) or not t.dtype.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    if not _WARNED[0]:  # (PyTorch's TORCH_WARN_ONCE)
        _WARNED[0] = True
        warnings.warn(
            "torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
            "torch.set_default_dtype() and torch.set_default_device() as alternatives.",
            UserWarning,
            stacklevel=2,
        )
    D.set_default_dtype(t.dtype)


def new(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """``Tensor.new``: the legacy constructor with this tensor's dtype."""
    return legacy_new(self.dtype, args, kwargs)
