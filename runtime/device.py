"""``device``, memory formats and the storage queries of a Tensor, as on PyTorch's CPU build."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.dtypes import DType
from ..ir.ops import Op
from .dispatch import apply
from .storage_offsets import storage_offset_of
from .tensor import Tensor

# PyTorch's device types, in the order its error message lists them
DEVICE_TYPES = ["cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
                "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                "privateuseone"]  # fmt: skip
NO_CUDA = "Torch not compiled with CUDA enabled"
NO_ACCELERATOR = "Cannot access accelerator device when none is available."


class device:  # noqa: N801 - PyTorch's name
    """``device("cpu")``, ``device("cpu", 0)``, ``device("cuda:1")``: any of PyTorch's device
    types can be named; tensors live on the CPU only (``check`` refuses the others)."""

    __slots__ = ("type", "index")

    def __init__(self, type: Any = "cpu", index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index  # noqa: A001
        elif isinstance(type, int) and not isinstance(type, bool):
            raise RuntimeError(NO_ACCELERATOR)
        text = str(type)
        kind, _, number = text.partition(":")
        if kind not in DEVICE_TYPES:
            raise RuntimeError(
                f"Expected one of {', '.join(DEVICE_TYPES)} device type at start of device "
                f"string: {text}"
            )
        if number:
            if not number.isdigit() or index is not None:
                raise RuntimeError(f"Invalid device string: '{text}'")
            index = int(number)
        if index is not None and index < 0:
            raise RuntimeError("Device index must not be negative")
        self.type, self.index = kind, index

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __enter__(self) -> device:
        check(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


def check(dev: Any) -> None:
    """A tensor may be made on ``dev`` (None or the CPU); else PyTorch's CPU-build error."""
    if dev is None:
        return
    kind = device(dev).type
    if kind == "cuda":
        raise AssertionError(NO_CUDA)
    if kind != "cpu":
        raise NotImplementedError(
            f"Could not run 'aten::empty.memory_format' with arguments from the "
            f"'{kind.upper() if len(kind) <= 4 else kind}' backend."
        )


class memory_format:  # noqa: N801 - PyTorch's name
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"torch.{self.name}"


preserve_format = memory_format("preserve_format")
contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
_LAST = {channels_last: (4, "channels_last"), channels_last_3d: (5, "channels_last_3d")}


def _last_order(ndim: int) -> tuple[int, ...]:
    return (0, *range(2, ndim), 1)  # N, spatial..., C


def _laid_out(data: np.ndarray, fmt: memory_format) -> np.ndarray:
    """``data`` copied in ``fmt``'s memory order (``preserve_format``: its own, when dense)."""
    if fmt is contiguous_format:
        return np.array(data, order="C", copy=True)
    if fmt is preserve_format:
        return np.array(data, order="K", copy=True)
    rank, name = _LAST[fmt]
    if data.ndim != rank:
        raise RuntimeError(f"required rank {rank} tensor to use {name} format")
    order = _last_order(rank)
    return np.ascontiguousarray(data.transpose(order)).transpose(np.argsort(order))


def _relaid(x: Tensor, fmt: memory_format) -> Tensor:
    """x's values in ``fmt``'s layout, x's autograd history kept (the copy's)."""
    out = x.clone()
    if not out._is_tracer:
        out._data = _laid_out(out._data, fmt)
    return out


def is_contiguous(x: Tensor, memory_format: memory_format = contiguous_format) -> bool:
    if x._is_tracer:  # (compiled code has no layouts: a traced value is in any of them)
        return memory_format not in _LAST or x.ndim == _LAST[memory_format][0]
    if memory_format in _LAST:
        rank, _ = _LAST[memory_format]
        if x.ndim != rank:
            return False
        return bool(x._data.transpose(_last_order(rank)).flags.c_contiguous)
    return bool(x._data.flags.c_contiguous) or x._data.size <= 1


def contiguous(x: Tensor, memory_format: memory_format = contiguous_format) -> Tensor:
    if memory_format is preserve_format:
        raise RuntimeError("preserve memory format is unsupported by the contiguous operator")
    if memory_format in _LAST and x.ndim != _LAST[memory_format][0]:
        rank, name = _LAST[memory_format]
        raise RuntimeError(f"required rank {rank} tensor to use {name} format")
    if is_contiguous(x, memory_format):
        return x
    return _relaid(x, memory_format)


def clone(x: Tensor, *, memory_format: memory_format = preserve_format) -> Tensor:
    from .ops_elementwise import clone as plain

    out = plain(x)
    if out._is_tracer or (memory_format is preserve_format and x._data.flags.c_contiguous):
        return out  # (traced, also from a tensor outside the trace: no layout to keep)
    out._data = _laid_out(x._data, memory_format)
    return out


def storage_offset(x: Tensor) -> int:
    """Elements between the start of the memory x views and x's first element."""
    if x._is_tracer:  # a traced value is its own dense memory (as in is_contiguous)
        return 0
    return storage_offset_of(x)


def to(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """``.to(dtype)``, ``.to(device)``, ``.to(device, dtype)``, ``.to(tensor)``, with
    ``non_blocking``, ``copy`` and ``memory_format`` as PyTorch's."""
    dtype, dev = D.as_dtype(kwargs.pop("dtype", None)), kwargs.pop("device", None)
    copy, fmt = kwargs.pop("copy", False), kwargs.pop("memory_format", preserve_format)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to() received an invalid combination of arguments - got {kwargs}")
    flags = []  # positional bools: .to(dtype, non_blocking, copy)
    for a in args:
        if isinstance(a, DType) or isinstance(a, type) and a in (float, int, bool, complex):
            dtype = D.as_dtype(a)
        elif isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, bool):
            flags.append(a)
        else:
            dev = a
    if len(flags) > 1:
        copy = flags[1]
    check(dev)
    out = x if dtype is None or dtype is x.dtype else apply(Op.CAST, x, dtype=dtype)
    if copy and out is x:
        return clone(x, memory_format=fmt)
    if fmt is not preserve_format and not is_contiguous(out, fmt):
        return _relaid(out, fmt)
    return out


def cuda(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    raise AssertionError(NO_CUDA)


def pin_memory(x: Tensor, device: Any = None) -> Tensor:
    raise RuntimeError(NO_ACCELERATOR)


def is_nonzero(x: Tensor) -> bool:
    if x._data.size == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if x._data.size > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(x._data.reshape(()))


def _dense_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Row-major strides in elements (PyTorch's for a contiguous tensor: a size-1 dim's is
    the next dim's stride times its size, as for any other dim)."""
    out, step = [], 1
    for n in reversed(shape):
        out.append(step)
        step *= max(n, 1)
    return tuple(reversed(out))


def stride(x: Tensor, dim: int | None = None) -> Any:
    if x._is_tracer:  # compiled code has no layouts: a traced value is dense (is_contiguous)
        strides = _dense_strides(tuple(x.shape))
    else:
        strides = tuple(s // x._data.itemsize for s in x._data.strides)
        if x._data.size == 0 and not any(strides):  # (a made-empty array: PyTorch's dense)
            strides = _dense_strides(tuple(x.shape))
    if dim is None:
        return strides
    if x.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    n = x.ndim
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return strides[dim]


METHODS = {
    "stride": stride,
    "to": to,
    "cuda": cuda,
    "pin_memory": pin_memory,
    "is_pinned": lambda x, device=None: False,
    "is_nonzero": is_nonzero,
    "storage_offset": storage_offset,
    "contiguous": contiguous,
    "is_contiguous": is_contiguous,
    "clone": clone,
}
PROPERTIES = {
    "nbytes": lambda x: x.numel() * x.dtype.itemsize,
    "itemsize": lambda x: x.dtype.itemsize,
    "device": lambda x: device("cpu"),
}


def install(cls: type) -> None:
    for name, fn in METHODS.items():
        setattr(cls, name, fn)
    for name, fn in PROPERTIES.items():
        setattr(cls, name, property(fn))


def get_device(input: Tensor) -> int:  # noqa: A002 - PyTorch's name
    """The CUDA device index of ``input``: -1, a CPU tensor's (adjit's are all on the CPU)."""
    if not isinstance(input, Tensor):
        raise TypeError(
            "get_device(): argument 'input' (position 1) must be Tensor, not "
            f"{type(input).__name__}"
        )
    return -1


class OutOfMemoryError(RuntimeError):
    """PyTorch's ``torch.OutOfMemoryError`` (a RuntimeError), for ``except`` clauses."""
