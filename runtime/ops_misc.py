"""Odds and ends of torch.* as decompositions: diff, cov/corrcoef, trapezoid, inner, block_diag,
cartesian_prod, combinations, vander, renorm, unravel_index, isin, chain_matmul."""

from __future__ import annotations

import builtins
import itertools
import warnings
from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.shapes import norm_axis
from . import trace_state
from .checks import check, in_range
from .creation import ones, tensor, zeros
from .dispatch import as_tensor_operand, composite, not_a_view, result_dtype
from .dtype_info import promote_types
from .ops_einsum import tensordot
from .ops_elementwise import clamp, clone, div, isnan, mul, sqrt, where
from .ops_integer import logical_xor, remainder
from .ops_movement import cat, expand, flip, index_select, narrow, reshape, squeeze, stack
from .ops_norms import multi_dot, vector_norm
from .ops_reduce import any as any_
from .ops_reduce import sum
from .ops_scan import cumprod
from .ops_scatter import scatter_reduce
from .ops_shape import meshgrid
from .ops_sort import searchsorted, sort
from .tensor import Tensor


def _default_float(x: Tensor) -> Tensor:
    return x if x.dtype.is_floating_point else x.to(D.get_default_dtype())


# ---- diff -------------------------------------------------------------------------------------
def diff(
    input: Tensor,  # noqa: A002 - PyTorch's name
    n: int = 1,
    dim: int = -1,
    prepend: Tensor | None = None,
    append: Tensor | None = None,
) -> Tensor:
    """The n-th forward difference along ``dim`` (xor for bool), after prepend/append."""
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    axis = norm_axis(dim, input.ndim)
    parts = []
    for extra in (prepend, input, append):
        if extra is None:
            continue
        if extra.ndim != input.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
        parts.append(extra)
    x = cat(parts, axis) if len(parts) > 1 else input
    for _ in range(n):
        size = x.shape[axis]
        if size == 0:
            break
        hi, lo = narrow(x, axis, 1, size - 1), narrow(x, axis, 0, size - 1)
        x = logical_xor(hi, lo) if x.dtype is D.bool_ else hi - lo
    return not_a_view(x, input)  # (n=0: a copy, as PyTorch's)


# ---- cov / corrcoef ---------------------------------------------------------------------------
def _check_weights(name: str, w: Tensor, observations: int, integral: bool) -> Tensor:
    if w.ndim > 1:
        raise RuntimeError(
            f"cov(): expected {name} to have one or fewer dimensions but got {name} with "
            f"{w.ndim} dimensions"
        )
    if w.numel() != observations:
        raise RuntimeError(
            f"cov(): expected {name} to have the same numel as there are observations in the "
            f"input but got {w.numel()} != {observations}"
        )
    if integral and (w.dtype.is_floating_point or w.dtype is D.bool_):
        raise RuntimeError(
            f"cov(): expected fweights to have integral dtype but got fweights with "
            f"{w.dtype.type_name} dtype"
        )
    if not integral and not w.dtype.is_floating_point:
        raise RuntimeError(
            f"cov(): expected aweights to have floating point dtype but got aweights with "
            f"{w.dtype.type_name} dtype"
        )
    return check(w, w >= 0, RuntimeError, f"cov(): {name} cannot be negative")


def cov(
    input: Tensor,  # noqa: A002
    *,
    correction: int = 1,
    fweights: Tensor | None = None,
    aweights: Tensor | None = None,
) -> Tensor:
    """Covariance of the rows (variables) over the columns (observations), as ATen's."""
    if input.ndim > 2:
        raise RuntimeError(
            "cov(): expected input to have two or fewer dimensions but got an input with "
            f"{input.ndim} dimensions"
        )
    if input.dtype is D.bool_:
        raise RuntimeError("cov(): bool dtype is not supported for input")
    x = reshape(input, (1, -1)) if input.ndim < 2 else input
    observations = x.shape[1]
    w = None
    if fweights is not None:
        w = _check_weights("fweights", fweights, observations, True)
    if aweights is not None:
        aw = _check_weights("aweights", aweights, observations, False)
        w = aw if w is None else w * aw
    x = _default_float(x)
    if w is None:
        w_sum = float(observations)
        avg = sum(x, 1) / w_sum
        norm_factor: Any = w_sum - correction
    else:
        w_sum = sum(w)
        avg = sum(x * w, 1) / w_sum
        if correction == 0:
            norm_factor = w_sum
        elif aweights is None:
            norm_factor = w_sum - correction
        else:
            norm_factor = w_sum - correction * sum(w * aweights) / w_sum
    if isinstance(norm_factor, float):
        if norm_factor <= 0:
            warnings.warn("cov(): degrees of freedom is <= 0", UserWarning, stacklevel=2)
            norm_factor = 0.0
    else:
        tracing = trace_state.current() is not None and trace_state.current().involves([w_sum])
        if not tracing and bool((norm_factor <= 0)._data):
            warnings.warn("cov(): degrees of freedom is <= 0", UserWarning, stacklevel=2)
        norm_factor = where(norm_factor <= 0, 0, norm_factor)
    centred = x - reshape(avg, (-1, 1))
    other = centred if w is None else centred * w
    product = centred @ other.t()
    return composite("SqueezeBackward0", lambda c: squeeze(c), div(product, norm_factor))


def corrcoef(input: Tensor) -> Tensor:  # noqa: A002
    if input.ndim > 2:
        raise RuntimeError(
            "corrcoef(): expected input to have two or fewer dimensions but got an input with "
            f"{input.ndim} dimensions"
        )
    if input.dtype is D.bool_:
        raise RuntimeError("cov(): bool dtype is not supported for input")
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = c.diagonal()
    stddev = sqrt(d)
    c = c / reshape(stddev, (-1, 1))
    c = c / reshape(stddev, (1, -1))
    return clamp(c, -1, 1)


# ---- trapezoid --------------------------------------------------------------------------------
def _trapezoid_args(name: str, x: Any, dx: Any, y: Tensor | None = None) -> None:
    if y is not None and y.dtype is D.bool_:
        raise RuntimeError(f"{name}: received a bool input for `y`, but bool is not supported")
    if x is not None and dx is not None:
        raise TypeError(
            f"{name}() received an invalid combination of arguments - got (Tensor, Tensor, "
            f"dx={type(dx).__name__}), but expected one of:\n * (Tensor y, Tensor x, *, int dim "
            "= -1)\n * (Tensor y, *, Number dx = 1, int dim = -1)\n"
        )


def _spacing(y: Tensor, x: Tensor, axis: int, name: str) -> Tensor:
    """The differences of ``x`` along ``axis``, shaped to broadcast against y's slices."""
    if x.ndim == 1:
        if x.shape[0] != y.shape[axis]:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
        d = diff(x)
        return reshape(d, tuple(-1 if i == axis else 1 for i in range(y.ndim)))
    return diff(x, dim=axis - y.ndim)


def _empty_along(y: Tensor, axis: int) -> Tensor:
    shape = tuple(s for i, s in enumerate(y.shape) if i != axis)
    return zeros(shape, dtype=_default_float(y).dtype)


def trapezoid(y: Tensor, x: Any = None, *, dx: Any = None, dim: int = -1) -> Tensor:
    """The trapezoid rule along ``dim``, with sample points ``x`` or spacing ``dx``."""
    _trapezoid_args("trapezoid", x, dx, y)
    axis = norm_axis(dim, y.ndim)
    n = y.shape[axis]
    if isinstance(x, Tensor):
        if n == 0:
            return _empty_along(y, axis)
        spacing = _spacing(y, x, axis, "trapezoid")
        ends = narrow(y, axis, 1, n - 1) + narrow(y, axis, 0, n - 1)
        return _by_number("DivBackward1", div, sum(spacing * ends, axis), 2.0)
    step = 1 if dx is None else dx
    if n == 0:
        return _empty_along(y, axis)
    ends = narrow(y, axis, 0, 1) + narrow(y, axis, n - 1, 1)
    return _by_number("MulBackward1", mul, sum(y, axis) - squeeze(ends, axis) * 0.5, step)


def _by_number(name: str, op: Any, t: Tensor, number: Any) -> Tensor:
    """``op(t, number)`` named as PyTorch's Tensor-by-Scalar overload (MulBackward1, ...)."""
    return composite(name, lambda a: op(a, number), t)


def trapz(y: Tensor, x: Any = None, *, dx: Any = None, dim: int = -1) -> Tensor:
    _trapezoid_args("trapz", x, dx)
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y: Tensor, x: Any = None, *, dx: Any = None, dim: int = -1) -> Tensor:
    _trapezoid_args("cumulative_trapezoid", x, dx, y)
    axis = norm_axis(dim, y.ndim)
    n = y.shape[axis]
    if n == 0:
        return _default_float(y) * 1.0
    ends = narrow(y, axis, 1, n - 1) + narrow(y, axis, 0, n - 1)
    if isinstance(x, Tensor):
        terms = _spacing(y, x, axis, "cumulative_trapezoid") * ends
        return _by_number("DivBackward1", div, terms.cumsum(axis), 2.0)
    return ((1 if dx is None else dx) / 2.0 * ends).cumsum(axis)


# ---- products ---------------------------------------------------------------------------------
def inner(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    if input.ndim == 0 or other.ndim == 0:
        return mul(input, other)
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(
            "inner() the last dimension must match on both input tensors but got shapes "
            f"{list(input.shape)} and {list(other.shape)}"
        )
    return composite("ViewBackward0", lambda a, b: tensordot(a, b, ([-1], [-1])), input, other)


def chain_matmul(*matrices: Tensor) -> Tensor:
    warnings.warn(
        "torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
        "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather "
        "than multiple parameters.",
        UserWarning,
        stacklevel=2,
    )
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for m in matrices:
        if m.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {m.ndim}, expected 2 instead.")
    if len(matrices) == 1:
        return clone(matrices[0])
    return composite("ViewBackward0", lambda *ms: multi_dot(ms), *matrices)


# ---- block_diag, cartesian_prod, combinations, vander ----------------------------------------
def block_diag(*tensors: Tensor) -> Tensor:
    """The tensors (0-d as 1x1, 1-d as one row) along the diagonal of one matrix."""
    for i, t in enumerate(tensors):
        if t.ndim > 2:
            raise RuntimeError(
                "torch.block_diag: Input tensors must have 2 or fewer dimensions. "
                f"Input {i} has {t.ndim} dimensions"
            )
    if not tensors:
        return zeros((1, 0))
    dtype = result_dtype(*tensors)
    blocks = [reshape(t, (1, -1)) if t.ndim < 2 else t for t in tensors]

    def build(*bs: Tensor) -> Tensor:
        width = builtins.sum(b.shape[1] for b in bs)
        rows, left = [], 0
        for b in bs:
            r, c = b.shape
            pieces = [zeros((r, left), dtype=dtype), b.to(dtype)]
            pieces.append(zeros((r, width - left - c), dtype=dtype))
            rows.append(cat(pieces, 1))
            left += c
        return cat(rows, 0)

    return composite("BlockDiagBackward0", build, *blocks)


def _vector(t: Tensor) -> None:
    if t.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")


def cartesian_prod(*tensors: Tensor) -> Tensor:
    for t in tensors:
        _vector(t)
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([reshape(g, (-1,)) for g in grids], 1)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:  # noqa: A002
    _vector(input)
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return tensor([], dtype=input.dtype)
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = np.array(list(pick(range(input.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    columns = [index_select(input, 0, tensor(rows[:, k])) for k in range(r)]
    return stack(columns, 1)


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:  # noqa: N803
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    dtype = promote_types(x.dtype, D.int64)
    rows = x.shape[0]
    result = ones((rows, n), dtype=dtype)
    if n > 1:
        column = expand(reshape(x.to(dtype), (rows, 1)), (rows, n - 1))
        powers = cat([ones((rows, 1), dtype=dtype), column], 1)
        # (PyTorch writes the cumulative product into a slice: its grad_fn is CopySlices)
        result = composite("CopySlices", lambda p: cumprod(p, 1), powers)
    return result if increasing else flip(result, (1,))


# ---- renorm, unravel_index, isin --------------------------------------------------------------
def renorm(input: Tensor, p: Any, dim: int, maxnorm: Any) -> Tensor:  # noqa: A002
    """Each slice along ``dim`` whose p-norm exceeds ``maxnorm`` scaled down to it."""
    if input.ndim < 2:
        raise RuntimeError(
            f"renorm: input needs at least 2 dimensions, got {input.ndim} dimensions"
        )
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    axis = norm_axis(dim, input.ndim)
    others = tuple(i for i in range(input.ndim) if i != axis)

    def value(a: Tensor) -> Tensor:
        norm = vector_norm(a, p, others, True)
        return a * where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0)

    if not input.dtype.is_floating_point:
        vector_norm(input, p, others, True)  # PyTorch's error for integer input
    return composite("RenormBackward0", value, input)


def unravel_index(indices: Any, shape: Any) -> tuple[Tensor, ...]:
    """The coordinates of flat ``indices`` in ``shape`` (wrapping as PyTorch's arithmetic)."""
    if not isinstance(indices, Tensor):
        raise AttributeError(f"'{type(indices).__name__}' object has no attribute 'is_complex'")
    if indices.dtype.is_floating_point or indices.dtype is D.bool_:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
    dims = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
    if any(s < 0 for s in dims):
        raise ValueError(f"'shape' cannot have negative values, but got {tuple(shape)}")
    rest = indices.to(D.int64)
    coords = []
    for size in reversed(dims):
        coords.append(remainder(rest, size))
        rest = rest // size
    return tuple(reversed(coords))


def isin(
    elements: Any,
    test_elements: Any,
    *,
    assume_unique: bool = False,
    invert: bool = False,
) -> Tensor:
    """Whether each element occurs in ``test_elements`` (compared after type promotion)."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError(
            f"isin() received an invalid combination of arguments - got "
            f"({type(elements).__name__}, {type(test_elements).__name__}), but expected one "
            "of:\n * (Tensor elements, Tensor test_elements, *, bool assume_unique = False, "
            "bool invert = False, Tensor out = None)\n * (Number element, Tensor test_elements, "
            "*, bool assume_unique = False, bool invert = False, Tensor out = None)\n * (Tensor "
            "elements, Number test_element, *, bool assume_unique = False, bool invert = False, "
            "Tensor out = None)\n"
        )
    a, b = as_tensor_operand(elements), as_tensor_operand(test_elements)
    for t in (a, b):
        if t.dtype is D.bool_:
            raise RuntimeError("Unsupported input type encountered for isin(): Bool")
    if not isinstance(elements, Tensor):
        a = tensor(elements, dtype=result_dtype(elements, b))
    flat = reshape(b, (-1,))
    m = flat.shape[0]
    if m == 0:
        hit = zeros(a.shape) > 0
    elif m * a.numel() <= _BROADCAST_LIMIT:  # every pair compared
        hit = any_(reshape(a, (*a.shape, 1)) == flat, -1)
    else:  # O((n + m) log m): each element's place among the sorted test elements
        dtype = result_dtype(a, b)
        table = sort(flat.to(dtype)).values
        # NaNs (sorted last) searched as +inf: a real inf is then found before them
        keys = where(isnan(table), float("inf"), table) if dtype.is_floating_point else table
        place = clamp(searchsorted(keys, a.to(dtype)), max=m - 1)
        hit = index_select(table, 0, reshape(place, (-1,))) == reshape(a.to(dtype), (-1,))
        hit = reshape(hit, a.shape)
    return ~hit if invert else hit


_BROADCAST_LIMIT = 1 << 16


# ---- gradient ---------------------------------------------------------------------------------
def _uniform_gradient(f: Tensor, axis: int, h: Any, edge_order: int) -> Tensor:
    n = f.shape[axis]
    part = lambda start, stop: narrow(f, axis, start % n, stop - start)  # noqa: E731
    center = (narrow(f, axis, 2, n - 2) - narrow(f, axis, 0, n - 2)) / h
    if edge_order == 1:
        first = (part(1, 2) - part(0, 1)) / h
        last = (part(n - 1, n) - part(n - 2, n - 1)) / h
    else:
        first = (-1.5 * part(0, 1) + 2 * part(1, 2) - 0.5 * part(2, 3)) / h
        last = (0.5 * part(n - 3, n - 2) - 2 * part(n - 2, n - 1) + 1.5 * part(n - 1, n)) / h
    return cat([first, center / 2, last] if n > 2 else [first, last], axis)


def _coordinate_gradient(f: Tensor, axis: int, coords: Tensor, edge_order: int) -> Tensor:
    n = f.shape[axis]
    part = lambda start, stop: narrow(f, axis, start, stop - start)  # noqa: E731
    shape = tuple(-1 if k == axis else 1 for k in builtins.range(f.ndim))
    dx = diff(coords)
    m = dx.shape[0]
    dx1, dx2 = narrow(dx, 0, 0, m - 1), narrow(dx, 0, 1, m - 1)
    a = reshape(-dx2 / (dx1 * (dx1 + dx2)), shape)
    b = reshape((dx2 - dx1) / (dx1 * dx2), shape)
    c = reshape(dx1 / (dx2 * (dx1 + dx2)), shape)
    center = a * part(0, n - 2) + b * part(1, n - 1) + c * part(2, n)
    h0, h1, hl, hm = dx[0], dx[m - 1], dx[1] if m > 1 else dx[0], dx[m - 2] if m > 1 else dx[0]
    if edge_order == 1:
        first = (part(1, 2) - part(0, 1)) / h0
        last = (part(n - 1, n) - part(n - 2, n - 1)) / h1
    else:
        first = (
            -(2.0 * h0 + hl) / (h0 * (h0 + hl)) * part(0, 1)
            + (h0 + hl) / (h0 * hl) * part(1, 2)
            + (-h0) / (hl * (h0 + hl)) * part(2, 3)
        )
        last = (
            h1 / (hm * (h1 + hm)) * part(n - 3, n - 2)
            + -(h1 + hm) / (h1 * hm) * part(n - 2, n - 1)
            + (2 * h1 + hm) / (h1 * (h1 + hm)) * part(n - 1, n)
        )
    return cat([first, center, last] if n > 2 else [first, last], axis)


def gradient(
    input: Tensor,  # noqa: A002
    *,
    spacing: Any = 1,
    dim: Any = None,
    edge_order: int = 1,
) -> tuple[Tensor, ...]:
    """Central differences inside, one-sided of order ``edge_order`` at the ends, per dim;
    ``spacing`` a number, one per dim, or the sample coordinates (tensors) of each dim."""
    dims = (
        list(builtins.range(input.ndim))
        if dim is None
        else [dim]
        if isinstance(dim, int)
        else list(dim)
    )
    dims = [norm_axis(d, input.ndim) for d in dims]
    for k, d in enumerate(dims):
        if d in dims[:k]:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    if isinstance(spacing, list | tuple):
        if len(spacing) != len(dims):
            if dim is None:
                raise RuntimeError(
                    "torch.gradient expected spacing to be unspecified, a scalar, or a list of "
                    f"length equal to 'self.dim() = {input.ndim}', since dim argument was not "
                    f"given, but got a list of length {len(spacing)}"
                )
            raise RuntimeError(
                "torch.gradient expected spacing to be unspecified, a scalar or it's spacing and "
                "dim arguments to have the same length, but got a spacing argument of length "
                f"{len(spacing)} and a dim argument of length {len(dims)}."
            )
        steps = list(spacing)
    else:
        steps = [spacing] * len(dims)
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    for d in dims:
        if input.shape[d] < edge_order + 1:
            raise RuntimeError(
                "torch.gradient expected each dimension size to be at least edge_order+1"
            )
    out = []
    for d, h in zip(dims, steps, strict=True):
        if isinstance(h, Tensor):
            out.append(_coordinate_gradient(input, d, h, edge_order))
        else:
            out.append(_uniform_gradient(input, d, h, edge_order))
    return tuple(out)


# ---- index_reduce -----------------------------------------------------------------------------
def index_reduce(
    input: Tensor,  # noqa: A002
    dim: int,
    index: Tensor,
    source: Tensor,
    reduce: str,
    *,
    include_self: bool = True,
) -> Tensor:
    """Rows ``source[k]`` reduced into ``input[index[k]]`` along ``dim``: a scatter_reduce with
    the index broadcast along the other dims."""
    warnings.warn(
        "index_reduce() is in beta and the API may change at any time.", UserWarning, stacklevel=2
    )
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(
            "index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got "
            f"{reduce}."
        )
    d = norm_axis(dim, input.ndim)
    if index.dtype.name not in ("int64", "int32"):
        raise RuntimeError(
            "index_reduce_(): Expected dtype int32/int64 for index but got: "
            f"{index.dtype.type_name}"
        )
    if source.dtype is not input.dtype:
        raise RuntimeError(
            f"index_reduce_(): self ({input.dtype.type_name}) and source "
            f"({source.dtype.type_name}) must have the same scalar type"
        )
    count = index.numel()
    if source.ndim and count != source.shape[d]:
        raise RuntimeError(
            f"index_reduce_(): Number of indices ({count}) should be equal to source.size(dim): "
            f"({source.shape[d]}), for dim: {dim}"
        )
    others = [k for k in builtins.range(input.ndim) if k != d]
    if source.ndim != input.ndim or any(source.shape[k] != input.shape[k] for k in others):
        raise RuntimeError(
            "source tensor shape must match self tensor shape, excluding the specified "
            f"dimension. Got self.shape = {list(input.shape)} source.shape = "
            f"{list(source.shape)}"
        )
    index = check(
        index, in_range(index, 0, input.shape[d]), IndexError, "index out of range in self"
    )
    lined = reshape(
        index.to(D.int64), tuple(-1 if k == d else 1 for k in builtins.range(input.ndim))
    )
    spread = expand(lined, tuple(source.shape))

    def fn(a: Tensor, s: Tensor) -> Tensor:
        return scatter_reduce(a, d, spread, s, reduce, include_self=include_self)

    return composite("IndexReduceBackward0", fn, input, source)


# Tensor methods (runtime/methods.py): same-name ones and the in-place ``name_`` forms
METHODS = ["diff", "cov", "corrcoef", "inner", "renorm", "index_reduce"]  # (no Tensor.gradient)
INPLACE = ["renorm", "index_reduce"]
