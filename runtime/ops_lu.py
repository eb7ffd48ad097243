"""linalg.lu_factor(_ex), lu and lu_solve over LINALG's ``lu`` (getrf's LU, pivots and P)."""

from __future__ import annotations

from typing import Any

from ..ir import dtypes as D
from .autocast import autocast_op
from .dispatch import composite
from .ops_decomp_linalg import RESULTS, _return_type, check_float, info_of, lapack, part
from .ops_decomp_linalg import raise_on_info as _raise_on_info
from .ops_triangular import solve_triangular
from .tensor import Tensor

RESULTS.update(
    {
        "linalg_lu_factor": _return_type("linalg_lu_factor", "LU pivots"),
        "linalg_lu_factor_ex": _return_type("linalg_lu_factor_ex", "LU pivots info"),
        "linalg_lu": _return_type("linalg_lu", "P L U"),
    }
)
_ZERO_PIVOT = (
    "U[{0},{0}] is zero and using it on lu_solve would result in a division by zero. If you "
    "still want to perform the factorization, consider calling linalg.lu(A, pivot) or "
    "linalg.lu_factor_ex(A, pivot)"
)


def _lu(A: Tensor, pivot: bool, op: str) -> tuple[Tensor, list]:  # noqa: N803
    if A.ndim < 2:
        raise RuntimeError(
            f"torch.lu_factor: Expected tensor with 2 or more dimensions. Got size: "
            f"{list(A.shape)} instead"
        )
    if not A.dtype.is_floating_point:
        raise NotImplementedError(f"\"lu_cpu\" not implemented for '{A.dtype.type_name}'")
    check_float(A, op)
    if not pivot:
        raise RuntimeError(f"{op}: LU without pivoting is not implemented on the CPU")
    return lapack("lu", "", A), [tuple(A.shape)]


def lu_factor_ex(
    A: Tensor,  # noqa: N803 - PyTorch's argument name
    *,
    pivot: bool = True,
    check_errors: bool = False,
    out: Any = None,
) -> Any:
    """LU (L's unit-diagonal multipliers below U), LAPACK's 1-based int32 pivots and info."""
    if out is not None:
        raise NotImplementedError("linalg.lu_factor_ex: out= is not supported")
    packed, shapes = _lu(A, pivot, "linalg.lu_factor_ex")
    factors = part("LinalgLuFactorExBackward0", packed, "lu", "", shapes, 0)
    pivots = part("", packed.detach(), "lu", "", shapes, 1).to(D.int32)
    info = info_of(packed, "lu", "", shapes)
    if check_errors:
        factors = _raise_on_info(factors, info, "torch.linalg.lu_factor_ex", _ZERO_PIVOT)
    return RESULTS["linalg_lu_factor_ex"](factors, pivots, info)


def lu_factor(A: Tensor, *, pivot: bool = True, out: Any = None) -> Any:  # noqa: N803
    """(LU, pivots); PyTorch's RuntimeError when a pivot is exactly zero."""
    if out is not None:
        raise NotImplementedError("linalg.lu_factor: out= is not supported")
    packed, shapes = _lu(A, pivot, "linalg.lu_factor")
    factors = part("LinalgLuFactorExBackward0", packed, "lu", "", shapes, 0)
    pivots = part("", packed.detach(), "lu", "", shapes, 1).to(D.int32)
    info = info_of(packed, "lu", "", shapes)
    factors = _checked(factors, info, "torch.linalg.lu_factor")
    return RESULTS["linalg_lu_factor"](factors, pivots)


def _checked(value: Tensor, info: Tensor, op: str) -> Tensor:
    """``value`` once every info is 0, else PyTorch's RuntimeError (not a LinAlgError)."""
    from .checks import check

    prefix = f"{op}: (Batch element {{position}}): " if info.ndim else f"{op}: "
    return check(value, info == 0, RuntimeError, prefix + _ZERO_PIVOT, detail=info)


def lu(A: Tensor, *, pivot: bool = True, out: Any = None) -> Any:  # noqa: N803
    """(P, L, U) with A = P L U: P without history, L unit lower (m x k), U upper (k x n)."""
    if out is not None:
        raise NotImplementedError("linalg.lu: out= is not supported")
    packed, shapes = _lu(A, pivot, "linalg.lu")
    m, n = A.shape[-2:]
    k = min(m, n)
    perm = part("", packed.detach(), "lu", "", shapes, 2)
    low = part("LinalgLuBackward0", packed, "lu", "", shapes, 0, lambda f: _unit_lower(f, m, k))
    up = part("LinalgLuBackward0", packed, "lu", "", shapes, 0, lambda f: f.narrow(-2, 0, k).triu())
    return RESULTS["linalg_lu"](perm, low, up)


def _unit_lower(f: Tensor, m: int, k: int) -> Tensor:
    """L (m x k): the strictly lower part of the first k columns, ones on the diagonal."""
    import numpy as np

    return f.narrow(-1, 0, k).tril(-1) + f.new_tensor(np.eye(m, k))


# ---- lu_solve ------------------------------------------------------------------------------
def _permutation(pivots: Tensor, m: int, like: Tensor) -> Tensor:
    """P^T as a matrix (rows of the identity in the order getrf's swaps leave them), built from
    the pivots with gathers, so it is traced like any value (no data read)."""
    from .ops_elementwise import eq, where
    from .ops_movement import getitem

    batch = tuple(pivots.shape[:-1])
    positions = like.new_tensor(list(range(m))).to(D.int64)
    perm = positions.expand(*batch, m)
    swaps = pivots.to(D.int64) - 1
    for j in range(pivots.shape[-1]):
        p = getitem(swaps, (..., slice(j, j + 1)))  # (*batch, 1)
        at_p = perm.gather(-1, p)
        at_j = getitem(perm, (..., slice(j, j + 1)))
        perm = where(eq(positions, j), at_p, where(eq(positions, p), at_j, perm))
    return eq(perm.unsqueeze(-1), positions).to(like.dtype)


def lu_solve(
    LU: Tensor,  # noqa: N803
    pivots: Tensor,
    B: Tensor,  # noqa: N803
    *,
    left: bool = True,
    adjoint: bool = False,
    out: Any = None,
) -> Tensor:
    """X with A X = B (X A = B unless ``left``; A^H if ``adjoint``) for A = P L U given as
    lu_factor's (LU, pivots): triangular solves, so the gradient is that of the packed LU."""
    op = "linalg.lu_solve"
    if out is not None:
        raise NotImplementedError(f"{op}: out= is not supported")
    if B.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions.")
    n = LU.shape[-1]
    if LU.shape[-2] != n:
        raise RuntimeError(
            f"{op}: A must be batches of square matrices, but they are {LU.shape[-2]} by {n} "
            "matrices"
        )
    if B.shape[-2 if left else -1] != n:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(
            f"{op}: Incompatible shapes of A and B for the equation {eq} "
            f"({n}x{n} and {B.shape[-2]}x{B.shape[-1]})"
        )
    check_float(LU, op)

    def decomposition(f: Tensor, b: Tensor) -> Tensor:
        pt = _permutation(pivots, n, f)  # P^T
        if not left:  # X A = B is A^T X^T = B^T
            return solve_adjoint(f, pt, b.mT, not adjoint).mT
        return solve_adjoint(f, pt, b, adjoint)

    return composite("LinalgLuSolveBackward0", decomposition, LU, B)


def solve_adjoint(f: Tensor, pt: Tensor, b: Tensor, adjoint: bool) -> Tensor:
    """A^-1 b (A^-T b if ``adjoint``) for A = P L U packed in ``f``, P^T = ``pt``."""
    if not adjoint:  # U^-1 L^-1 P^T b
        y = solve_triangular(f, pt @ b, upper=False, unitriangular=True)
        return solve_triangular(f, y, upper=True)
    # A^T = U^T L^T P^T: x = P L^-T U^-T b
    y = solve_triangular(f.mT, b, upper=False)
    return pt.mT @ solve_triangular(f.mT, y, upper=True, unitriangular=True)


# ---- the torch.* spellings -----------------------------------------------------------------
RESULTS["lu_unpack"] = _return_type("lu_unpack", "P L U")
RESULTS["_lu_with_info"] = _return_type("_lu_with_info", "LU pivots infos")


def lu_legacy(A: Tensor, pivot: bool = True, get_infos: bool = False) -> Any:  # noqa: N803
    """``torch.lu``: (LU, pivots), with the infos if asked (no error for a zero pivot)."""
    factors, pivots, info = lu_factor_ex(A, pivot=pivot)
    return RESULTS["_lu_with_info"](factors, pivots, info) if get_infos else (factors, pivots)


def lu_unpack(
    LU_data: Tensor,  # noqa: N803 - PyTorch's argument names
    LU_pivots: Tensor,  # noqa: N803
    unpack_data: bool = True,
    unpack_pivots: bool = True,
) -> Any:
    """(P, L, U) from lu_factor's output; the parts not asked for are empty."""
    m, n = LU_data.shape[-2:]
    k = min(m, n)
    empty = LU_data.new_zeros((0,))
    perm = _permutation(LU_pivots, m, LU_data.detach()).mT if unpack_pivots else empty
    if not unpack_data:
        return RESULTS["lu_unpack"](perm, empty, empty)
    low = composite("LuUnpackBackward0", lambda f: _unit_lower(f, m, k), LU_data)
    up = composite("LuUnpackBackward0", lambda f: f.narrow(-2, 0, k).triu(), LU_data)
    return RESULTS["lu_unpack"](perm, low, up)


@autocast_op("lu_solve")
def lu_solve_legacy(b: Tensor, LU_data: Tensor, LU_pivots: Tensor) -> Tensor:  # noqa: N803
    """``torch.lu_solve(b, LU_data, LU_pivots)``: linalg.lu_solve's arguments reordered."""
    return lu_solve(LU_data, LU_pivots, b)
