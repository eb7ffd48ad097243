"""Shape and dtype rules: for each op, the output Aval from the input Avals and attributes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import prod
from typing import Any

from .aval import Aval
from .checks import check_shape
from .collectives import collective_shape
from .control import cond_shape, get_shape, scan_shape, while_shape
from .custom import custom_vjp_shape
from .dtypes import DType, bool_, int32, int64, result_type, scalar_dtype, to_float, to_value
from .errors import ShapeError
from .linalg import linalg_shape
from .ops import GroupOp, Op
from .random import random_shape
from .sorting import argsort_shape, searchsorted_shape
from .special import special_shape
from .windows import fold_shape, unfold_shape

ShapeRule = Callable[..., Aval]


def infer_size(
    a: tuple[int, ...], b: tuple[int, ...], error: type[Exception] = ShapeError
) -> tuple[int, ...]:
    """PyTorch's infer_size: the broadcast of ``a`` (tensor a) with ``b``, sizes compared from
    the last dimension, the first mismatch named as PyTorch names it."""
    n = max(len(a), len(b))
    pa, pb = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    for i in reversed(range(n)):
        if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1:
            raise error(
                f"The size of tensor a ({pa[i]}) must match the size of tensor b ({pb[i]}) at "
                f"non-singleton dimension {i}"
            )
    return tuple(y if x == 1 else x for x, y in zip(pa, pb, strict=True))


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy/PyTorch broadcasting, folded pairwise as PyTorch's TensorIterator does."""
    out: tuple[int, ...] = ()
    for s in shapes:
        out = infer_size(out, tuple(s))
    return out


def contiguous_strides(shape: Sequence[int]) -> tuple[int, ...]:
    """C-order strides, in elements."""
    out, acc = [], 1
    for n in reversed(shape):
        out.append(acc)
        acc *= n
    return tuple(reversed(out))


def broadcast_strides(shape: Sequence[int], into: Sequence[int]) -> tuple[int, ...] | None:
    """Strides reading a contiguous ``shape`` broadcast (right-aligned) into ``into``; None if
    it does not broadcast."""
    lead = len(into) - len(shape)
    if lead < 0:
        return None
    own = contiguous_strides(shape)
    out = [0] * len(into)
    for i, n in enumerate(shape):
        if n == into[lead + i]:
            out[lead + i] = own[i] if n != 1 else 0
        elif n != 1:
            return None
    return tuple(out)


def norm_axis(axis: int, ndim: int) -> int:
    """A dimension index wrapped into [0, ndim); PyTorch's IndexError when out of range."""
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    if not lo <= axis <= hi:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {axis})"
        )
    return axis % max(ndim, 1)


def promoted(*avals: Aval) -> DType:
    return result_type([(a.dtype, a.tier) for a in avals])


def _unary_keep(x: Aval, **_: Any) -> Aval:
    return Aval(x.shape, x.dtype)


def _unary_float(x: Aval, **_: Any) -> Aval:
    return Aval(x.shape, to_float(x.dtype))


def _cast(x: Aval, *, dtype: DType) -> Aval:
    return Aval(x.shape, dtype)


def _binary(kind: str) -> ShapeRule:
    def rule(x: Aval, y: Aval, **_: Any) -> Aval:
        shape = broadcast_shapes(x.shape, y.shape)
        dt = promoted(x, y)
        return Aval(shape, {"promote": dt, "float": to_float(dt), "bool": bool_}[kind])

    return rule


def _where(c: Aval, x: Aval, y: Aval) -> Aval:
    return Aval(broadcast_shapes(c.shape, x.shape, y.shape), promoted(x, y))


def _fma(x: Aval, y: Aval, z: Aval) -> Aval:
    """x * y + z rounded once (Note [fused multiply-add]): real floats only."""
    dt = promoted(x, y, z)
    if not dt.is_floating_point or dt.category == 3:
        raise ShapeError(f"float operands expected, got {dt}")
    return Aval(broadcast_shapes(x.shape, y.shape, z.shape), dt)


def reduced_shape(
    shape: tuple[int, ...], axes: tuple[int, ...] | None, keepdim: bool
) -> tuple[int, ...]:
    if axes is None:
        return tuple(1 for _ in shape) if keepdim else ()
    return tuple(1 if i in axes else n for i, n in enumerate(shape) if keepdim or i not in axes)


def _reduce(kind: str, name: str) -> ShapeRule:
    """``kind``: "sum" (ints widen to int64), "keep" (the input dtype) or "arg" (int64)."""

    def rule(x: Aval, *, axes: tuple[int, ...] | None, keepdim: bool) -> Aval:
        dt = {
            "sum": x.dtype if x.dtype.category >= 2 else int64,
            "keep": x.dtype,
            "arg": int64,
        }[kind]
        if kind != "sum" and prod(x.shape) == 0:
            _check_nonempty(name, x.shape, axes, IndexError if kind == "arg" else ShapeError)
        return Aval(reduced_shape(x.shape, axes, keepdim), dt)

    return rule


def _check_nonempty(
    name: str, shape: tuple[int, ...], axes: tuple[int, ...] | None, error: type[Exception]
) -> None:
    """max/min/argmax of nothing: PyTorch's errors (reducing other, non-empty dims is fine)."""
    if axes is None:
        tail = "" if error is IndexError else " Specify the reduction dim with the 'dim' argument."
        raise error(
            f"{name}(): Expected reduction dim to be specified for input.numel() == 0." + tail
        )
    for a in axes:
        if shape[a] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {a} to have non-zero size.")


def _reshape(x: Aval, *, shape: tuple[int, ...]) -> Aval:
    if prod(shape) != prod(x.shape):
        raise ShapeError(f"shape '{list(shape)}' is invalid for input of size {prod(x.shape)}")
    return Aval(tuple(shape), x.dtype)


def _permute(x: Aval, *, axes: tuple[int, ...]) -> Aval:
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not "
            f"match the length of the desired ordering of dimensions i.e. input.dim()"
            f" = {x.ndim} is not equal to len(dims) = {len(axes)}"
        )
    return Aval(tuple(x.shape[a] for a in axes), x.dtype)


def _expand(x: Aval, *, shape: tuple[int, ...]) -> Aval:
    lead = len(shape) - x.ndim
    if lead < 0:
        raise ShapeError(
            f"expand(torch.{x.dtype.type_name}Tensor{{{list(x.shape)}}}, "
            f"size={list(shape)}): the number of sizes provided ({len(shape)}) must "
            f"be greater or equal to the number of dimensions in the tensor "
            f"({x.ndim})"
        )
    for i, n in enumerate(x.shape):
        if n != shape[lead + i] and n != 1:
            raise ShapeError(
                f"The expanded size of the tensor ({shape[lead + i]}) must match the "
                f"existing size ({n}) at non-singleton dimension {lead + i}.  "
                f"Target sizes: {list(shape)}.  Tensor sizes: {list(x.shape)}"
            )
    return Aval(tuple(shape), x.dtype)


def split_index(spec: tuple) -> tuple[tuple, list[int]]:
    """PyTorch applies int/slice/None first, then tensor indices on the dims that remain.

    Returns the basic part as a NumPy index (tensor items as full slices) and the positions,
    in the basic result, of the dims that tensor items index.
    """
    basic: list[object] = []
    positions: list[int] = []
    pos = 0
    for item in spec:
        kind = item[0]
        if kind == "int":
            basic.append(item[1])
        elif kind == "slice":
            basic.append(slice(item[1], item[2], item[3]))
            pos += 1
        elif kind == "none":
            basic.append(None)
            pos += 1
        else:
            basic.append(slice(None))
            positions.append(pos)
            pos += 1
    return tuple(basic), positions


def _slice_len(start: int, stop: int, step: int) -> int:
    return max(0, (stop - start + step - 1) // step)


def index_shape(shape: tuple[int, ...], spec: tuple, index_shapes: list[tuple[int, ...]]) -> tuple:
    """Result shape of indexing with a normalized spec (see runtime/indexing.py)."""
    out: list[int] = []
    dim = 0
    for item in spec:
        kind = item[0]
        if kind == "slice":
            out.append(_slice_len(*item[1:]))
        elif kind in ("none",):
            out.append(1)
        elif kind == "tensor":
            out.append(shape[dim])
        dim += kind != "none"
    out.extend(shape[dim:])
    _, positions = split_index(spec)
    if not positions:
        return tuple(out)
    bshape = broadcast_shapes(*index_shapes)
    rest = [n for i, n in enumerate(out) if i not in positions]
    if positions == list(range(positions[0], positions[-1] + 1)):
        first = positions[0]
        return tuple(rest[:first] + list(bshape) + rest[first:])
    return tuple(list(bshape) + rest)


def _index(x: Aval, *idx: Aval, spec: tuple) -> Aval:
    return Aval(index_shape(x.shape, spec, [i.shape for i in idx]), x.dtype)


def _index_add(g: Aval, *idx: Aval, spec: tuple, shape: tuple[int, ...]) -> Aval:
    return Aval(tuple(shape), g.dtype)


def _gather(x: Aval, index: Aval, *, axis: int) -> Aval:
    if index.dtype not in (int64, int32):
        raise ShapeError("gather(): Expected dtype int32/int64 for index")
    if index.ndim != x.ndim:
        raise ShapeError("Index tensor must have the same number of dimensions as input tensor")
    return Aval(index.shape, x.dtype)


def _scatter_add(src: Aval, index: Aval, *, axis: int, shape: tuple[int, ...]) -> Aval:
    return Aval(tuple(shape), src.dtype)


def _cat(*xs: Aval, axis: int) -> Aval:
    first = xs[0]
    for i, x in enumerate(xs):
        if x.ndim != first.ndim:
            raise ShapeError(
                f"Tensors must have same number of dimensions: got {first.ndim} and {x.ndim}"
            )
        for d, (a, b) in enumerate(zip(first.shape, x.shape, strict=True)):
            if a != b and d != axis:
                raise ShapeError(
                    f"Sizes of tensors must match except in dimension {axis}. "
                    f"Expected size {a} but got size {b} for tensor number {i} in "
                    f"the list."
                )
    shape = list(first.shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    return Aval(tuple(shape), promoted(*xs))


# how PyTorch's messages spell dtypes: C scalar types and legacy tensor types
C_NAMES = {
    "float64": "double",
    "float32": "float",
    "int64": "long int",
    "int32": "int",
    "uint8": "unsigned char",
    "int8": "signed char",
    "int16": "short int",
    "float16": "c10::Half",
    "bfloat16": "c10::BFloat16",
    "bool": "bool",
    "complex64": "c10::complex<float>",
    "complex128": "c10::complex<double>",
}


def _matmul(x: Aval, y: Aval) -> Aval:
    if x.ndim == 0 or y.ndim == 0:
        raise ShapeError(
            f"both arguments to matmul need to be at least 1D, but they are {x.ndim}D and {y.ndim}D"
        )
    if x.dtype is not y.dtype:
        raise ShapeError(
            f"expected m1 and m2 to have the same dtype, but got: "
            f"{C_NAMES[x.dtype.name]} != {C_NAMES[y.dtype.name]}"
        )
    xs = (1, *x.shape) if x.ndim == 1 else x.shape
    ys = (*y.shape, 1) if y.ndim == 1 else y.shape
    batch = broadcast_shapes(xs[:-2], ys[:-2])
    if xs[-1] != ys[-2]:
        raise ShapeError(_matmul_mismatch(x.shape, y.shape, batch))
    shape = (*batch, xs[-2], ys[-1])
    if x.ndim == 1:
        shape = shape[:-2] + shape[-1:]
    if y.ndim == 1:
        shape = shape[:-1]
    return Aval(shape, x.dtype)


def _matmul_mismatch(x: tuple[Any, ...], y: tuple[Any, ...], batch: tuple[Any, ...]) -> str:
    """PyTorch's text for a matmul whose inner sizes differ, from the kernel its case runs:
    dot, mv (a batch of matrices by a vector folds into one), mm (likewise a batch of matrices
    by a matrix), bmm (broadcast batches, flattened)."""
    k = x[-1]
    if len(x) == 1 and len(y) == 1:
        return (
            f"inconsistent tensor size, expected tensor [{k}] and src [{y[0]}] to have the same "
            f"number of elements, but got {k} and {y[0]} elements respectively"
        )
    rows = prod(x[:-1])
    if len(y) == 1:
        return f"size mismatch, got input ({rows}), mat ({rows}x{k}), vec ({y[0]})"
    if len(y) == 2:
        return f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k} and {y[0]}x{y[1]})"
    b = prod(batch)
    return (
        f"Expected size for first two dimensions of batch2 tensor to be: [{b}, {k}] but got: "
        f"[{b}, {y[-2]}]."
    )


def _clamp(x: Aval, *, lo: float | None, hi: float | None) -> Aval:
    bounds = [Aval((), scalar_dtype(v), weak=True) for v in (lo, hi) if v is not None]
    return Aval(x.shape, promoted(x, *bounds))


def _abs(x: Aval, **_: Any) -> Aval:
    return Aval(x.shape, to_value(x.dtype))  # |complex64| is float32


SHAPE_RULES: dict[Op, ShapeRule] = {
    Op.NEG: _unary_keep,
    Op.ABS: _abs,
    Op.SIGN: _unary_keep,
    Op.RELU: _unary_keep,
    Op.EXP: _unary_float,
    Op.LOG: _unary_float,
    Op.LOG1P: _unary_float,
    Op.SQRT: _unary_float,
    Op.SIN: _unary_float,
    Op.COS: _unary_float,
    Op.TANH: _unary_float,
    Op.SIGMOID: _unary_float,
    Op.ERF: _unary_float,
    Op.FLOOR: _unary_keep,
    Op.TRUNC: _unary_keep,
    Op.NOT: _unary_keep,
    Op.CAST: _cast,
    Op.CLAMP: _clamp,
    Op.ADD: _binary("promote"),
    Op.SUB: _binary("promote"),
    Op.MUL: _binary("promote"),
    Op.DIV: _binary("float"),
    Op.POW: _binary("promote"),
    Op.MAXIMUM: _binary("promote"),
    Op.MINIMUM: _binary("promote"),
    Op.EQ: _binary("bool"),
    Op.NE: _binary("bool"),
    Op.LT: _binary("bool"),
    Op.LE: _binary("bool"),
    Op.GT: _binary("bool"),
    Op.GE: _binary("bool"),
    Op.AND: _binary("promote"),
    Op.OR: _binary("promote"),
    Op.XOR: _binary("promote"),
    Op.SHL: _binary("promote"),
    Op.SHR: _binary("promote"),
    Op.FMOD: _binary("promote"),
    Op.TRUNC_DIV: _binary("promote"),
    Op.ATAN2: _binary("float"),
    Op.COPYSIGN: _binary("float"),
    Op.WHERE: _where,
    Op.FMA: _fma,
    Op.SUM: _reduce("sum", "sum"),
    Op.AMAX: _reduce("keep", "amax"),
    Op.AMIN: _reduce("keep", "amin"),
    Op.ARGMAX: _reduce("arg", "argmax"),
    Op.ARGMIN: _reduce("arg", "argmin"),
    Op.ARGSORT: argsort_shape,
    Op.SEARCHSORTED: searchsorted_shape,
    Op.RESHAPE: _reshape,
    Op.PERMUTE: _permute,
    Op.EXPAND: _expand,
    Op.INDEX: _index,
    Op.INDEX_ADD: _index_add,
    Op.GATHER: _gather,
    Op.SCATTER_ADD: _scatter_add,
    Op.CAT: _cat,
    Op.UNFOLD: unfold_shape,
    Op.FOLD: fold_shape,
    Op.MATMUL: _matmul,
    Op.LINALG: linalg_shape,
    Op.SPECIAL: special_shape,
    Op.DETACH: _unary_keep,
    Op.CHECK: check_shape,
    Op.CUSTOM_VJP: custom_vjp_shape,
    Op.RANDOM: random_shape,
    Op.COLLECTIVE: collective_shape,
    Op.IOTA: lambda *, length, dtype: Aval((length,), dtype),
    Op.SCAN: scan_shape,
    Op.WHILE: while_shape,
    Op.COND: cond_shape,
    Op.GET: get_shape,
}


_INVERT_HINT = (
    "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead."
)


def _check_sub(avals: list[Aval], out: Aval) -> None:
    bools = sum(a.dtype is bool_ for a in avals)
    if bools == 2:
        raise ShapeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. "
            "Use the `^` or `logical_xor()` operator instead."
        )
    if bools:
        raise ShapeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. " + _INVERT_HINT
        )


def _refuse_bool(message: str, error: type[Exception] = ShapeError) -> DTypeCheck:
    def check(avals: list[Aval], out: Aval) -> None:
        if out.dtype is bool_:
            raise error(message)

    return check


def _no_bool_kernel(kernel: str) -> DTypeCheck:
    return _refuse_bool(f"\"{kernel}\" not implemented for 'Bool'", NotImplementedError)


DTypeCheck = Callable[[list[Aval], Aval], None]


def _bool_condition(avals: list[Aval], out: Aval) -> None:
    # PyTorch's check (an integer condition would also make ``~`` change meaning: bitwise)
    if avals[0].dtype is not bool_:
        raise RuntimeError(
            "where expected condition to be a boolean tensor, but got a tensor with dtype "
            + avals[0].dtype.type_name
        )


def _integers_only(kernel: str, bool_ok: bool = True) -> DTypeCheck:
    """PyTorch's error for a float (or, unless ``bool_ok``, bool) result of an integer op."""

    def check(avals: list[Aval], out: Aval) -> None:
        if out.dtype.is_floating_point or (out.dtype is bool_ and not bool_ok):
            raise NotImplementedError(f"\"{kernel}\" not implemented for '{out.dtype.type_name}'")

    return check


# dtypes an op refuses although shapes agree, with PyTorch's error
DTYPE_CHECKS: dict[Op, DTypeCheck] = {
    Op.SUB: _check_sub,
    Op.NEG: _refuse_bool(
        "Negation, the `-` operator, on a bool tensor is not supported. " + _INVERT_HINT
    ),
    Op.RELU: _refuse_bool("Boolean inputs not supported for relu"),
    Op.ABS: _no_bool_kernel("abs_cpu"),
    Op.POW: lambda avals, out: None if avals[1].weak else _no_bool_kernel("pow")(avals, out),
    Op.FLOOR: _no_bool_kernel("floor_vml_cpu"),
    Op.TRUNC: _no_bool_kernel("trunc_vml_cpu"),
    Op.AND: _integers_only("bitwise_and_cpu"),
    Op.OR: _integers_only("bitwise_or_cpu"),
    Op.XOR: _integers_only("bitwise_xor_cpu"),
    Op.NOT: _integers_only("bitwise_not_cpu"),
    Op.SHL: _integers_only("lshift_cpu", bool_ok=False),
    Op.SHR: _integers_only("rshift_cpu", bool_ok=False),
    Op.FMOD: _no_bool_kernel("fmod_cpu"),
    Op.TRUNC_DIV: _integers_only("div_trunc_cpu", bool_ok=False),
    Op.WHERE: _bool_condition,
}


# Note [complex dtypes] (ir/dtypes.py): the primitives with a complex rule; any other refuses a
# complex operand or result by name (with PyTorch's own error where it has one)
COMPLEX_OPS = frozenset(
    {Op.NEG, Op.ABS, Op.EXP, Op.LOG, Op.SQRT, Op.ADD, Op.SUB, Op.MUL, Op.DIV}
    | {Op.EQ, Op.NE, Op.WHERE, Op.SUM, Op.RESHAPE, Op.PERMUTE, Op.EXPAND, Op.INDEX, Op.GATHER}
    | {Op.CAT, Op.DETACH, Op.CHECK, Op.SIN, Op.COS, Op.TANH, Op.LOG1P, Op.POW}
    | {Op.INDEX_ADD, Op.SCATTER_ADD, Op.CUSTOM_VJP}  # (complex gradients: their rules' ops)
    | {Op.MATMUL}
)
_COMPLEX_ERRORS: dict[Op, tuple[type[Exception], str]] = {
    Op.LT: (NotImplementedError, '"lt_cpu" not implemented for {}'),
    Op.LE: (NotImplementedError, '"le_cpu" not implemented for {}'),
    Op.GT: (NotImplementedError, '"gt_cpu" not implemented for {}'),
    Op.GE: (NotImplementedError, '"ge_cpu" not implemented for {}'),
    Op.MAXIMUM: (RuntimeError, "maximum not implemented for complex tensors."),
    Op.MINIMUM: (RuntimeError, "minimum not implemented for complex tensors."),
    Op.AMAX: (NotImplementedError, '"max_values_cpu" not implemented for {}'),
    Op.AMIN: (NotImplementedError, '"min_values_cpu" not implemented for {}'),
    Op.ARGMAX: (RuntimeError, "argmax(): does not support complex input"),
    Op.ARGMIN: (RuntimeError, "argmin(): does not support complex input"),
    Op.ARGSORT: (RuntimeError, "Sort does not support complex dtypes on CPU"),
    Op.CLAMP: (NotImplementedError, "clamp is not supported for complex types"),
    Op.RELU: (NotImplementedError, "clamp is not supported for complex types"),
    Op.FLOOR: (NotImplementedError, "floor is not supported for complex inputs"),
    Op.TRUNC: (NotImplementedError, "trunc is not supported for complex inputs"),
    Op.SIGN: (
        NotImplementedError,
        "Unlike NumPy, torch.sign is not intended to support complex numbers. "
        "Please use torch.sgn instead.",
    ),
    Op.FMOD: (NotImplementedError, '"fmod_cpu" not implemented for {}'),
    Op.ATAN2: (NotImplementedError, '"atan2_cpu" not implemented for {}'),
    Op.ERF: (NotImplementedError, '"erf_vml_cpu" not implemented for {}'),
    Op.AND: (NotImplementedError, '"bitwise_and_cpu" not implemented for {}'),
    Op.OR: (NotImplementedError, '"bitwise_or_cpu" not implemented for {}'),
    Op.XOR: (NotImplementedError, '"bitwise_xor_cpu" not implemented for {}'),
    Op.NOT: (NotImplementedError, '"bitwise_not_cpu" not implemented for {}'),
}


def _refuse_complex(op: Op, avals: list[Aval]) -> None:
    """A primitive without a complex rule: PyTorch's error if it refuses too, else adjit's."""
    dt = next(a.dtype for a in avals if a.dtype.category == 3)
    if op is Op.CAST:  # also internal casts (cumsum's int64, ...): a silent real part is wrong
        raise NotImplementedError(
            f"adjit does not support {dt!r} in this op yet: it computes in a real dtype, which "
            "would keep only the real part (a cast to a real dtype, which PyTorch does with a "
            "warning, is written with .real: z.real.to(torch.float64))"
        )
    error, text = _COMPLEX_ERRORS.get(op, (NotImplementedError, ""))
    if text:
        raise error(text.format(f"'{dt.type_name}'"))
    raise NotImplementedError(
        f"{op.name.lower()}: adjit does not support {dt!r} operands for this op yet "
        "(complex tensors support creation, + - * / **, matmul, abs, angle, real, imag, conj, "
        "sum, mean, var, exp, log, log1p, sqrt, sin, cos, tanh, == and !=, with autograd)"
    )


def infer(op: Op, avals: list[Aval], attrs: dict[str, Any]) -> Aval:
    """The output Aval of ``op``; a ShapeError names the op and every operand."""
    if op not in COMPLEX_OPS:
        for a in avals:
            if a.dtype.category == 3:
                # complex -> bool is "nonzero"; complex -> real refuses (_refuse_complex)
                if op is Op.CAST and attrs["dtype"].category in (0, 3):
                    break
                _refuse_complex(op, avals)
    try:
        out = SHAPE_RULES[op](*avals, **attrs)
        if op in DTYPE_CHECKS:
            DTYPE_CHECKS[op](avals, out)
        return out
    except ShapeError as e:
        operands = ", ".join(str(a) for a in avals)
        error = ShapeError(str(e))  # PyTorch's text (Note [shape errors print as PyTorch's])
        error.add_note(f"(adjit: in {op.name.lower()} of {operands})")
        raise error from None


_CAST_ALL_TO_OUT = GroupOp.ELEMENTWISE - GroupOp.COMPARE - {Op.CAST, Op.WHERE} | {Op.CAT}


def operand_dtypes(op: Op, avals: list[Aval], out: Aval) -> list[DType | None]:
    """The dtype each operand is converted to before the op computes (None: as it is)."""
    if op in _CAST_ALL_TO_OUT:
        if op is Op.ABS and avals[0].dtype.category == 3:
            return [None]  # |complex| is real: the operand stays complex
        return [out.dtype] * len(avals)
    if op in GroupOp.COMPARE:
        dt = promoted(*avals)
        return [dt] * len(avals)
    if op is Op.WHERE:
        return [bool_, out.dtype, out.dtype]
    return [None] * len(avals)
