"""linalg.vector_norm / matrix_norm / norm, multi_dot and vecdot over the reductions and matmul."""

from __future__ import annotations

from typing import Any

from ..ir.shapes import C_NAMES, norm_axis
from .autocast import autocast_op
from .ops_elementwise import mul
from .ops_linalg import matmul
from .ops_movement import reshape, squeeze
from .ops_reduce import amax, amin, norm, sum
from .ops_shape import broadcast_tensors
from .tensor import Tensor

_INF = float("inf")


def _order_text(ord: float) -> str:  # noqa: A002
    """An order as PyTorch's C++ prints a double: ``3``, ``-1``, ``inf``, ``0.5``."""
    if abs(ord) == _INF:
        return str(ord)
    return str(int(ord)) if ord == int(ord) else repr(ord)


def _check_floating(x: Tensor, op: str) -> None:
    if x.dtype.category == 3:  # (Note [complex dtypes] in ir/dtypes.py)
        raise NotImplementedError(f"{op}: adjit does not support complex input yet")
    if not x.dtype.is_floating_point:
        raise RuntimeError(
            f"{op}: Expected a floating point or complex tensor as input. Got {x.dtype.type_name}"
        )


def _cast(x: Tensor, dtype: Any, op: str) -> Tensor:
    if dtype is None:
        return x
    if not dtype.is_floating_point:
        raise RuntimeError(
            f"{op}: dtype should be floating point or complex, but got {dtype.type_name}"
        )
    return x.to(dtype)


# ---- vector_norm -----------------------------------------------------------------------------
def vector_norm(
    x: Tensor,
    ord: Any = 2,  # noqa: A002
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """The ``ord``-norm of the elements over ``dim`` (all of them by default)."""
    if isinstance(ord, bool) or not isinstance(ord, int | float):
        raise TypeError(
            "linalg_vector_norm(): argument 'ord' (position 2) must be Number, "
            f"not {type(ord).__name__}"
        )
    if x.dtype.category == 3 and dtype is None:
        x = x.abs()  # a complex tensor's norm is its moduli's (a real result, as PyTorch)
    _check_floating(x, "linalg.vector_norm")
    if dtype is not None and dtype.is_floating_point and dtype.itemsize < x.dtype.itemsize:
        raise RuntimeError(
            f"linalg.vector_norm: the dtype of the input ({x.dtype.type_name}) should be "
            f"convertible without narrowing to the specified dtype ({dtype.type_name})"
        )
    x = _cast(x, dtype, "linalg.vector_norm")
    dims = None if dim is None else (dim,) if isinstance(dim, int) else tuple(dim)
    if dims is not None:
        dims = tuple(norm_axis(d, x.ndim) for d in dims)
    if x.numel() == 0 and (ord < 0 or ord == _INF):
        if not dims:
            raise RuntimeError(
                f"linalg.vector_norm cannot compute the {_order_text(ord)} norm on an empty "
                "tensor because the operation does not have an identity"
            )
        for d in dims:
            if x.shape[d] == 0:
                raise RuntimeError(
                    f"linalg.vector_norm cannot compute the {_order_text(ord)} norm on the "
                    f"dimension {d}because this dimension is empty and the operation does not "
                    "have an identity"
                )
    return norm(x, float(ord), dims if dims else None, keepdim)


# ---- matrix_norm -----------------------------------------------------------------------------
def matrix_norm(
    A: Tensor,  # noqa: N803 - PyTorch's argument name
    ord: Any = "fro",  # noqa: A002
    dim: Any = (-2, -1),
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """Frobenius, nuclear or the induced 1/inf norm of the matrices over ``dim``."""
    if isinstance(ord, str):
        if ord not in ("fro", "nuc"):
            raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    elif abs(ord) not in (1, 2, _INF):
        raise RuntimeError(f"linalg.matrix_norm: Order {_order_text(float(ord))} not supported.")
    if A.ndim < 2:
        raise RuntimeError(
            "linalg.matrix_norm: The input tensor A must have at least 2 dimensions."
        )
    _check_floating(A, "linalg.matrix_norm")
    dims = list(dim)
    if len(dims) != 2:
        raise RuntimeError(
            f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, dims))}"
        )
    d0, d1 = (norm_axis(d, A.ndim) for d in dims)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({d0}, {d1})")
    A = _cast(A, dtype, "linalg.matrix_norm")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord == "nuc" or abs(ord) == 2:  # the sum, largest or smallest singular value
        from .ops_decomp_linalg import svdvals

        s = svdvals(A.movedim((d0, d1), (-2, -1)))
        r = s.sum(-1) if ord == "nuc" else s.amax(-1) if ord > 0 else s.amin(-1)
        return r.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1)) if keepdim else r
    # the induced norms: the largest (smallest) absolute column (row, for inf) sum
    if abs(ord) == _INF:
        d0, d1 = d1, d0
    if not keepdim and d0 < d1:
        d1 -= 1
    extreme = amax if ord > 0 else amin
    return extreme(vector_norm(A, 1, d0, keepdim), d1, keepdim)


# ---- linalg.norm -----------------------------------------------------------------------------
def linalg_norm(
    A: Tensor,  # noqa: N803 - PyTorch's argument name
    ord: Any = None,  # noqa: A002
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """A vector norm, or a matrix norm when ``dim`` has two dims (or ``A`` is 2-D with ord)."""
    if dim is not None:
        dims = [dim] if isinstance(dim, int) else list(dim)
        if len(dims) not in (1, 2):
            raise RuntimeError(
                f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {dims}"
            )
    elif ord is not None and A.ndim not in (1, 2):
        raise RuntimeError(
            "linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
            f"Got {A.ndim}D."
        )
    if isinstance(ord, str):
        matrix_dims = dims if dim is not None else [0] if A.ndim == 1 else [0, 1]
        return matrix_norm(A, ord, matrix_dims, keepdim, dtype=dtype)
    if ord is not None and ((dim is not None and len(dims) == 2) or (dim is None and A.ndim == 2)):
        return matrix_norm(A, ord, dims if dim is not None else (0, 1), keepdim, dtype=dtype)
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


# ---- multi_dot and vecdot --------------------------------------------------------------------
def multi_dot(tensors: Any, *, out: Any = None) -> Tensor:
    """The chain product in the cheapest order (the matrix-chain recurrence, as PyTorch)."""
    if out is not None:
        raise NotImplementedError("multi_dot: out= is not supported")
    ts = list(tensors)
    n = len(ts)
    if n < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    first, last = ts[0].ndim, ts[-1].ndim
    if first not in (1, 2):
        raise RuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got {first}D")
    if last not in (1, 2):
        raise RuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got {last}D")
    for i in range(1, n - 1):
        if ts[i].ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {ts[i].ndim}D")
    for i in range(1, n):
        if ts[i].dtype != ts[0].dtype:
            raise RuntimeError(
                "multi_dot(): all tensors must have be the same dtype but tensor 0 is "
                f"{C_NAMES.get(ts[0].dtype.name)} and tensor {i} "
                f"{C_NAMES.get(ts[i].dtype.name)}"
            )
    if first == 1:
        ts[0] = reshape(ts[0], (1, ts[0].shape[0]))
    if last == 1:
        ts[-1] = reshape(ts[-1], (ts[-1].shape[0], 1))
    for i in range(n - 1):
        if ts[i].shape[1] != ts[i + 1].shape[0]:
            raise RuntimeError(
                f"multi_dot(): tensors {i} and {i + 1} with shapes {list(ts[i].shape)} and "
                f"{list(ts[i + 1].shape)} cannot be multiplied"
            )
    result = _chain(ts, _order(ts), 0, n - 1)
    if first == 1 and last == 1:
        return reshape(result, ())
    if first == 1:
        return squeeze(result, 0)
    return squeeze(result, 1) if last == 1 else result


def _order(ts: list[Tensor]) -> list[list[int]]:
    """split[i][j]: where the cheapest product of ts[i..j] splits (dynamic programming)."""
    n = len(ts)
    p = [ts[0].shape[0]] + [t.shape[1] for t in ts]
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = -1
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + p[i] * p[k + 1] * p[j + 1]
                if cost[i][j] < 0 or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def _chain(ts: list[Tensor], split: list[list[int]], i: int, j: int) -> Tensor:
    if i == j:
        return ts[i]
    k = split[i][j]
    return matmul(_chain(ts, split, i, k), _chain(ts, split, k + 1, j))


@autocast_op("linalg_vecdot")
def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """The dot product of the vectors along ``dim``, broadcasting the rest."""
    if x.dtype != y.dtype:
        raise RuntimeError(
            "linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
            f"{x.dtype.type_name} and y of type {y.dtype.type_name} instead"
        )
    a, _ = broadcast_tensors(x, y)
    if x.dtype.category == 3:  # PyTorch's vecdot conjugates x: sum(conj(x) * y)
        from .ops_complex import conj

        x = conj(x)
    return sum(mul(x, y), norm_axis(dim, a.ndim))
