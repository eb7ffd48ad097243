"""Creating tensors: ``tensor``, ``zeros``, ``arange``, ``*_like`` (random ones: ops_random)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.dtypes import DType
from ..ir.ops import Op
from ..ir.sizes import SymbolicSize, has_symbols, is_size
from . import device as _devices
from . import trace_state
from .generator import default_generator, initial_seed, manual_seed, seed  # noqa: F401 (moved)
from .layout import check_layout
from .range_values import arange_values, integer_arange, linspace_values, logspace_values
from .tensor import Tensor, _dims

device = _devices.device  # (moved: runtime/device.py)


def _check_device(dev: Any) -> None:
    _devices.check(dev)


def _finish(data: np.ndarray, dtype: DType | None, requires_grad: bool, dev: Any = None) -> Tensor:
    _check_device(dev)
    if dtype is not None and data.dtype != dtype.np:
        data = D.to_storage(data, dtype)
    # (np.ascontiguousarray would turn a 0-d array into a 1-d one)
    t = Tensor._make(data if data.flags.c_contiguous else np.array(data, order="C"))
    if requires_grad:
        if t.dtype.category < 2:
            raise RuntimeError(
                "Only Tensors of floating point and complex dtype can require gradients"
            )
        t._requires_grad = True
    return t


def _infer(data: Any, dtype: DType | None = None) -> np.ndarray:
    """NumPy array for nested Python data, typed as PyTorch would type it (or as ``dtype``:
    converted once from the full-precision values, never through float32)."""
    if isinstance(data, Tensor):
        return data._data.copy()
    if isinstance(data, np.ndarray | np.generic):  # (a NumPy scalar keeps its dtype too)
        return np.array(data, D.from_numpy_dtype(data.dtype).np)
    if isinstance(data, list | tuple) and any(isinstance(v, Tensor) for v in _flat(data)):
        dtype = dtype or _promoted([_scalar_type(v) for v in _flat(data)])  # PyTorch's types
        data = _untensor(data)
    if dtype is None and isinstance(data, list | tuple):
        dtype = _numpy_scalars_dtype(_flat(data))
    try:
        arr = np.asarray(data)
    except ValueError:  # ragged nested lists: PyTorch's own error
        empty = _check_ragged(data, dtype)
        if empty is None:
            raise
        arr = empty
    if arr.dtype.kind in "US":  # strings: PyTorch's refusal
        first = data
        while isinstance(first, list | tuple) and first:
            first = first[0]
        if isinstance(first, str) and first is not data:
            raise ValueError("too many dimensions 'str'")
        raise TypeError("new(): invalid data type 'str'")
    if arr.dtype == object:
        raise TypeError(f"Could not infer dtype of {type(data).__name__}")
    if dtype is not None:
        if arr.dtype.kind == "c" and dtype.category in (1, 2):  # Python's own conversion errors
            if dtype.category == 2:
                raise TypeError("must be real number, not complex")
            raise TypeError("'complex' object cannot be interpreted as an integer")
        check_fits(arr, dtype, dtype.name)
        return D.to_storage(arr, dtype)
    if arr.dtype.kind == "f":
        return D.to_storage(arr, D.get_default_dtype())
    if arr.dtype.kind == "c":  # Python complex numbers: the default complex dtype
        return D.to_storage(arr, D.get_default_complex_dtype())
    return arr.astype(D.from_numpy_dtype(arr.dtype).np)


def _check_ragged(data: Any, dtype: DType | None) -> np.ndarray | None:
    """PyTorch's errors for nested sequences of unequal lengths: the sizes are read down the
    first elements, then every sequence is checked against them (torch's recursive_store).
    When a size read is 0, PyTorch stores nothing: the empty tensor of those sizes."""
    sizes = []
    seq = data
    while isinstance(seq, list | tuple):
        sizes.append(len(seq))
        if not seq:
            break
        seq = seq[0]
    if 0 in sizes:  # an empty tensor: PyTorch stores nothing, so checks nothing
        return np.zeros(sizes, (dtype or D.get_default_dtype()).np)

    def visit(v: Any, dim: int) -> None:
        if isinstance(v, str):
            raise TypeError("new(): invalid data type 'str'")
        if dim == len(sizes):
            if isinstance(v, list | tuple):
                floating = (  # (PyTorch infers a float type from any float or complex)
                    dtype.category >= 2
                    if dtype is not None
                    else any(isinstance(x, float | complex) for x in _flat(data))
                )
                raise TypeError(
                    f"must be real number, not {type(v).__name__}"
                    if floating
                    else f"'{type(v).__name__}' object cannot be interpreted as an integer"
                )
            return
        if not isinstance(v, list | tuple):
            raise TypeError("not a sequence")
        if len(v) != sizes[dim]:
            raise ValueError(
                f"expected sequence of length {sizes[dim]} at dim {dim} (got {len(v)})"
            )
        for item in v:
            visit(item, dim + 1)

    visit(data, 0)
    return None


def check_fits(arr: np.ndarray, dtype: DType, spelling: str) -> None:
    """PyTorch's check of Python numbers stored into an integer dtype (c10::overflows): NaN,
    inf and values out of range are refused; an unsigned type also takes negative integers
    down to -max (they wrap), but no negative float (-0.7 into uint8 is refused)."""
    if dtype.category != 1 or arr.dtype.kind not in "iuf" or not arr.size:
        return
    info = np.iinfo(dtype.np)
    # an unsigned type takes negative integers down to -max (they wrap), not negative floats
    lo = -int(info.max) if info.min == 0 and arr.dtype.kind != "f" else int(info.min)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(arr) & (arr >= lo) & (arr <= int(info.max))
    if not ok.all():
        raise RuntimeError(f"value cannot be converted to type {spelling} without overflow")


_FLOAT_LIMITS = {  # PyTorch's spelling in the message, the largest finite value
    "float16": ("c10::Half", 65504.0),
    "bfloat16": ("c10::BFloat16", 3.3895313892515355e38),
    "float32": ("float", 3.4028234663852886e38),
    "float64": ("double", float("inf")),
}


_C_TYPES = {  # the C++ type PyTorch names in a fill value's conversion error
    "uint8": "uint8_t",
    "int8": "int8_t",
    "int16": "int16_t",
    "int32": "int",
    "int64": "int64_t",
    "float16": "c10::Half",
    "bfloat16": "c10::BFloat16",
    "float32": "float",
    "float64": "double",
}


def traced_fill(value: Tensor, dtype: DType) -> Tensor:
    """A traced one-element fill value as a 0-dim ``dtype`` tensor, with ``check_fill``'s
    overflow check run by the compiled program (Note [run-time checks])."""
    from .checks import check, in_range

    if value.numel() != 1:
        raise RuntimeError(f"a Tensor with {value.numel()} elements cannot be converted to Scalar")
    v = value.detach().reshape(())
    if v.dtype.category == 3:
        raise NotImplementedError(
            f"adjit.compile does not support a complex fill value ({v.dtype!r}) yet"
        )
    if v.dtype.category in (1, 2) and not _always_fits(v.dtype, dtype):
        if dtype.category == 1:
            info = np.iinfo(dtype.np)
            lo = -int(info.max) if info.min == 0 else int(info.min)
            ok, spelling = in_range(v, lo, int(info.max), inclusive=True), f"{dtype.name}_t"
        else:
            spelling, largest = _FLOAT_LIMITS[dtype.name]
            ok = in_range(v, -largest, largest, inclusive=True) | ~v.isfinite()
        message = f"value cannot be converted to type {spelling} without overflow"
        v = check(v, ok, RuntimeError, message)
    return v.to(dtype)


def _always_fits(source: DType, dtype: DType) -> bool:
    """Whether every value of ``source`` passes ``check_fill`` into ``dtype``."""
    if dtype.category in (0, 3) or dtype is D.float64:
        return True
    return source.category == 1 and dtype in (D.int64, D.float32, D.bfloat16)


def check_fill(value: Any, dtype: DType) -> None:
    """PyTorch's checked conversion of a fill value (full, fill_, masked_fill, index_fill):
    an integer dtype takes what fits; a float dtype refuses a finite value beyond its largest
    (65519.0 as float16, though it would round to 65504), and takes inf and NaN."""
    a = np.asarray(value)
    if a.dtype.kind == "c" and dtype.category in (1, 2):
        if (a.imag != 0).any():  # (a zero imaginary part converts: its real part is the value)
            raise RuntimeError(
                f"value cannot be converted to type {_C_TYPES[dtype.name]} without overflow"
            )
        a = a.real
    if a.dtype.kind not in "iuf":
        return
    if dtype.category == 1:
        check_fits(a, dtype, f"{dtype.name}_t")
        return
    spelling, largest = _FLOAT_LIMITS.get(dtype.name, ("", float("inf")))
    with np.errstate(invalid="ignore"):
        if (np.abs(a.astype(np.float64)) > largest).any() and np.isfinite(a).all():
            raise RuntimeError(f"value cannot be converted to type {spelling} without overflow")


def _numpy_scalars_dtype(items: list[Any]) -> DType | None:
    """PyTorch's dtype for a list holding NumPy scalars: each element's own type (a NumPy
    scalar its dtype, a Python float the default dtype, an int int64), promoted pairwise:
    ``[np.float64(1.5)]`` is float64, ``[np.int16(3), 2]`` int64; None without NumPy scalars."""
    if not any(isinstance(v, np.generic) for v in items):
        return None
    kinds = [
        D.from_numpy_dtype(v.dtype) if isinstance(v, np.generic) else D.scalar_dtype(v)
        for v in items
    ]
    out = kinds[0]
    for k in kinds[1:]:
        out = D.promote(out, k)
    return out


def _flat(data: Any) -> list[Any]:
    out: list[Any] = []
    for v in data:
        out.extend(_flat(v) if isinstance(v, list | tuple) else [v])
    return out


def _untensor(data: Any) -> Any:
    if isinstance(data, Tensor):
        if data.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return data.item()
    if isinstance(data, list | tuple):
        return [_untensor(v) for v in data]
    return data


def tensor(
    data: Any,
    *,
    dtype: DType | None = None,
    device: Any = None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, scalars, arrays or tensors)."""
    dtype = D.as_dtype(dtype)
    if _traced(data):
        _check_device(device)
        out = _traced_copy(data, dtype)
        return out.requires_grad_() if requires_grad else out
    return _finish(_infer(data, dtype), dtype, requires_grad, device)


def _leaves(data: Any) -> list[Any]:
    return [data] if isinstance(data, Tensor) else _flat(data) if isinstance(data, list) else []


def _traced(data: Any) -> bool:
    """Whether ``data`` (a tensor, or nested lists holding tensors) has a value that is not
    known while tracing (a tracer, or a tensor the compiled call reads afresh)."""
    if trace_state.current() is None:
        return False
    from .checks import traced

    return any(traced(v) for v in _leaves(data))


def _scalar_type(v: Any) -> DType:
    """The dtype an element of ``tensor([...])`` contributes: a tensor's own, a Python
    number's default (PyTorch's infer_scalar_type)."""
    return v.dtype if isinstance(v, Tensor) else D.scalar_dtype(v)


def _traced_copy(data: Any, dtype: DType | None) -> Tensor:
    """``tensor(data)`` of traced values: a detached copy of the tensor, or the elements
    (one-element tensors and numbers) of nested lists stacked, in ``dtype`` or the promoted
    type of the elements as PyTorch infers it."""
    from . import functional as F

    if isinstance(data, Tensor):
        out = F.clone(data.detach())
        return out if dtype is None else out.to(dtype)
    leaves = _leaves(data)
    dt = dtype or _promoted([_scalar_type(v) for v in leaves])

    def build(v: Any) -> Tensor:
        if isinstance(v, list | tuple):
            return F.stack([build(e) for e in v])
        if isinstance(v, Tensor):
            if v.numel() != 1:
                raise ValueError("only one element tensors can be converted to Python scalars")
            return v.detach().reshape(()).to(dt)
        return tensor(v, dtype=dt)

    return build(data)


def _promoted(types: list[DType]) -> DType:
    out = types[0]
    for t in types[1:]:
        out = D.promote(out, t)
    return out


def as_tensor(data: Any, dtype: DType | None = None, device: Any = None) -> Tensor:
    dtype = D.as_dtype(dtype)
    if isinstance(data, Tensor) and (dtype is None or data.dtype is dtype):
        return data
    return tensor(data, dtype=dtype, device=device)


def from_numpy(arr: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``arr`` (as in PyTorch)."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    D.from_numpy_dtype(arr.dtype)
    return Tensor._make(arr)


def _full(
    shape: tuple, fill: Any, dt: DType, requires_grad: bool, dev: Any = None, typed: bool = True
) -> Tensor:
    """``np.full(shape, fill)`` as a tensor (``typed``: made in ``dt``'s NumPy type, else
    converted after); while tracing with a symbolic size (Note [symbolic shapes]) the constant
    broadcast to that shape by the program."""
    if not has_symbols(shape):
        check_sizes(shape)
        data = np.full(shape, fill, dt.np) if typed else np.full(shape, fill)
        return _finish(data, dt, requires_grad, dev)
    scalar = _finish(np.full((), fill, dt.np) if typed else np.full((), fill), dt, False, dev)
    trace = trace_state.current()
    out: Tensor = trace.emit(Op.EXPAND, [scalar], {"shape": tuple(shape)}, None)
    return out.requires_grad_() if requires_grad else out


def check_sizes(shape: tuple, op: str = "") -> None:
    """PyTorch's refusal of a negative size (zeros words it its own way); symbolic sizes are
    not compared (that would specialize them)."""
    for n in shape:
        if type(n) is int and n < 0:
            if op == "zeros":
                raise RuntimeError("zeros: Dimension size must be non-negative.")
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {n}: {list(shape)}"
            )


def _filled(value: Any, size: tuple, dtype: DType | None, requires_grad: bool, dev: Any) -> Tensor:
    dtype = D.as_dtype(dtype)
    dt = dtype or D.get_default_dtype()
    if _traced(value):
        _check_device(dev)
        out = zeros(_dims(size), dtype=dt) + traced_fill(value, dt)
        return out.requires_grad_() if requires_grad else out
    fill = np.asarray(value.item() if isinstance(value, Tensor) else value)
    check_fill(fill, dt)
    if fill.dtype.kind == "c" and dt.category != 3:
        fill = fill.real if dt.category else fill != 0
    return _full(_dims(size), D.to_storage(fill, dt), dt, requires_grad, dev, typed=False)


def zeros(
    *size: Any,
    dtype: DType | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    **_: Any,
) -> Tensor:
    check_layout(layout, "zeros")
    if not _traced(list(size)):
        check_sizes(_dims(size), "zeros")
    return _filled(0, size, dtype, requires_grad, device)


def ones(
    *size: Any,
    dtype: DType | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    **_: Any,
) -> Tensor:
    check_layout(layout, "ones")
    return _filled(1, size, dtype, requires_grad, device)


def empty(
    *size: Any,
    dtype: DType | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    **_: Any,
) -> Tensor:
    check_layout(layout, "empty")
    return _filled(0, size, dtype, requires_grad, device)


def full(
    size: Any,
    fill_value: Any,
    *,
    dtype: DType | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    **_: Any,
) -> Tensor:
    dtype = D.as_dtype(dtype)
    check_layout(layout, "full")
    if not isinstance(fill_value, numbers.Number | Tensor | np.generic):
        raise TypeError(
            "full(): argument 'fill_value' (position 2) must be Number, not "
            f"{type(fill_value).__name__}"
        )
    dt = dtype or (_scalar_category_type(fill_value) if isinstance(fill_value, Tensor) else None)
    dt = dt or D.scalar_dtype(fill_value)
    return _filled(fill_value, (size,), dt, requires_grad, device)


def _scalar_category_type(value: Tensor) -> DType:
    """The dtype a one-element tensor's value takes as a Python number (a Scalar argument)."""
    return {0: D.bool_, 1: D.int64, 2: D.get_default_dtype()}.get(
        value.dtype.category, D.get_default_complex_dtype()
    )


def _like(t: Tensor, dtype: DType | None) -> tuple[tuple[int, ...], DType]:
    dtype = D.as_dtype(dtype)
    return tuple(t.shape), dtype or t.dtype


def zeros_like(
    t: Tensor,
    *,
    dtype: DType | None = None,
    layout: Any = None,
    requires_grad: bool = False,
    **_: Any,
) -> Tensor:
    check_layout(layout, "zeros_like")
    shape, dt = _like(t, dtype)
    return _full(shape, 0, dt, requires_grad)


def ones_like(
    t: Tensor,
    *,
    dtype: DType | None = None,
    layout: Any = None,
    requires_grad: bool = False,
    **_: Any,
) -> Tensor:
    check_layout(layout, "ones_like")
    shape, dt = _like(t, dtype)
    return _full(shape, 1, dt, requires_grad)


empty_like = zeros_like


def full_like(
    t: Tensor,
    fill_value: Any,
    *,
    dtype: DType | None = None,
    layout: Any = None,
    requires_grad: bool = False,
    **_: Any,
) -> Tensor:
    check_layout(layout, "full_like")
    shape, dt = _like(t, dtype)
    if isinstance(fill_value, Tensor):
        return _filled(fill_value, shape, dt, requires_grad, None)
    if isinstance(fill_value, complex) and dt.category != 3:
        from .ops_elementwise import scalar_as

        fill_value = scalar_as(fill_value, dt)  # PyTorch's check: a zero imaginary part only
    return _full(shape, fill_value, dt, requires_grad)


def arange(
    start: Any,
    end: Any = None,
    step: Any = 1,
    *,
    dtype: DType | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    dtype = D.as_dtype(dtype)
    check_layout(layout, "arange")
    if dtype is not None and dtype.category in (0, 3):  # (bool and complex)
        raise NotImplementedError(f"\"arange_cpu\" not implemented for '{dtype.type_name}'")
    if end is None:
        start, end = 0, start
    vals = [start, end, step]
    is_float = any(
        isinstance(v, float) or (isinstance(v, Tensor) and v.is_floating_point()) for v in vals
    )
    dt = dtype or (D.get_default_dtype() if is_float else D.int64)
    if any(isinstance(v, SymbolicSize) for v in vals) and all(map(is_size, vals)) and step > 0:
        return _symbolic_arange(start, end, step, dt, requires_grad)
    if _traced(list(vals)):
        from .checks import shape_from_values

        shape_from_values("arange()", "(end - start) / step elements", *vals)
    s, e, st = (float(v) for v in vals)
    _check_range(s, e, st, vals)
    if dt.category == 1 and not all(float(v).is_integer() for v in (s, e, st)):
        return _finish(integer_arange(s, e, st, dt.np), dt, requires_grad, device)
    n = max(0, int(np.ceil((e - s) / st)))
    exact = arange_values(s, st, n, dt.np)  # PyTorch's bits (Note [range values])
    values = s + st * np.arange(n, dtype=np.float64) if exact is None else exact
    return _finish(values, dt, requires_grad, device)


def _check_range(s: float, e: float, st: float, vals: list[Any]) -> None:
    """PyTorch's arange checks: finite bounds, a nonzero step of the bounds' sign."""
    if not (np.isfinite(s) and np.isfinite(e)):
        raise RuntimeError(f"unsupported range: {_number_text(vals[0])} -> {_number_text(vals[1])}")
    if st == 0:
        raise RuntimeError("step must be nonzero")
    if (st > 0 and e < s) or (st < 0 and e > s):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")


def _number_text(v: Any) -> str:
    v = v.item() if isinstance(v, Tensor) else v
    return str(v) if isinstance(v, (int, bool)) or not float(v).is_integer() else f"{v:g}"


def _symbolic_arange(start: Any, end: Any, step: int, dt: DType, requires_grad: bool) -> Tensor:
    """``arange`` of integers with a symbolic bound (Note [symbolic shapes]): ``start + step *
    iota(n)``, the values eager computes (exact integers, then ``dt``)."""
    n = max(0, (end - start + step - 1) // step)
    trace = trace_state.current()
    out: Tensor = trace.emit(Op.IOTA, [], {"length": n, "dtype": D.int64}, None)
    if step != 1:
        out = out * step
    if not (isinstance(start, int) and start == 0):
        out = out + start
    out = out.to(dt)
    return out.requires_grad_() if requires_grad else out


def linspace(
    start: float,
    end: float,
    steps: int,
    *,
    dtype: DType | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    dtype = D.as_dtype(dtype)
    check_layout(layout, "linspace")
    dt = dtype or D.get_default_dtype()
    if dt.category == 0:
        raise NotImplementedError("\"linspace_cpu\" not implemented for 'Bool'")
    _check_endpoints("linspace", start, end)
    _check_steps(steps)
    if _traced([start, end]):
        _check_device(device)
        out = _traced_linspace(start, end, int(steps)).to(dt)
        return out.requires_grad_() if requires_grad else out
    ends = [v if isinstance(v, int) else float(v) for v in (start, end)]  # (ints stay ints)
    exact = linspace_values(*ends, int(steps), dt.np)  # Note [range values]
    values = np.linspace(float(start), float(end), int(steps)) if exact is None else exact
    return _finish(values, dt, requires_grad, device)


def _check_endpoints(op: str, start: Any, end: Any) -> None:
    for name, v in (("start", start), ("end", end)):
        if isinstance(v, Tensor) and v.ndim:
            raise RuntimeError(
                f"{op} only supports 0-dimensional start and end tensors, but got {name} with "
                f"{v.ndim} dimension(s)."
            )


def _traced_linspace(start: Any, end: Any, steps: int) -> Tensor:
    """NumPy's linspace (what eager computes) as float64 ops: ``start + i * step``, the last
    point ``end`` itself."""
    from . import functional as F

    s, e = (
        v.detach().to(D.float64) if isinstance(v, Tensor) else tensor(float(v), dtype=D.float64)
        for v in (start, end)
    )
    i = tensor(np.arange(steps, dtype=np.float64))
    if steps <= 1:
        return i * (e - s) + s
    y = i * ((e - s) / (steps - 1)) + s
    return F.where(tensor(np.arange(steps) == steps - 1), e, y)


def logspace(
    start: float,
    end: float,
    steps: int,
    base: float = 10.0,
    *,
    dtype: DType | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    dtype = D.as_dtype(dtype)
    check_layout(layout, "logspace")
    dt = dtype or D.get_default_dtype()
    _check_endpoints("logspace", start, end)
    _check_steps(steps)
    if _traced([start, end]):
        from . import functional as F

        _check_device(device)
        out = F.pow(float(base), _traced_linspace(start, end, int(steps))).to(dt)
        return out.requires_grad_() if requires_grad else out
    if dt.category == 0 or dt.name in ("uint16", "uint32", "uint64"):
        raise NotImplementedError(f"\"logspace_cpu\" not implemented for '{dt.type_name}'")
    ends = [_scalar(v) for v in (start, end)]
    exact = logspace_values(*ends, int(steps), float(base), dt.np)  # Note [range values]
    values = np.logspace(float(start), float(end), steps, base=base) if exact is None else exact
    return _finish(values, dt, requires_grad, device)


def _check_steps(steps: int) -> None:
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")


def _scalar(v: Any) -> float | int:
    """A Python or 0-d tensor start/end as the Scalar PyTorch makes of it (bools as ints)."""
    v = v.item() if isinstance(v, Tensor) else v
    return int(v) if isinstance(v, (bool, np.integer)) else v if isinstance(v, int) else float(v)


def eye(
    n: int,
    m: int | None = None,
    *,
    dtype: DType | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    dtype = D.as_dtype(dtype)
    check_layout(layout, "eye")
    dt = dtype or D.get_default_dtype()
    for name, v in (("n", n), ("m", m)):
        if v is not None and v < 0:
            raise RuntimeError(f"{name} must be greater or equal to 0, got {v}")
    return _finish(np.eye(n, m), dt, requires_grad, device)


def _rebuild(data: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._make(data)
    t._requires_grad = requires_grad
    return t
