"""torch.linalg over the LINALG primitive: det, slogdet, inv, solve, cholesky, eigh, svd, qr.

Each unpacks LINALG's packed outputs (Note [LINALG packs its outputs] in ir/linalg.py) in one
decomposition whose grad_fn carries PyTorch's name, and turns LAPACK's info into PyTorch's
error with a run-time check, so a singular matrix raises when the compiled program runs.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.errors import _LinAlgError
from ..ir.linalg import parts, unpack_array
from ..ir.linalg_vjp import unpack_one
from ..ir.ops import Op
from ..ir.shapes import broadcast_shapes
from . import autocast
from .autocast import autocast_op
from .checks import check, traced
from .dispatch import apply, composite
from .grad_mode import is_grad_enabled
from .return_types import return_type
from .tensor import Tensor


# ---- named results -------------------------------------------------------------------------
def _return_type(name: str, fields: str) -> type:
    """PyTorch's ``torch.return_types.<name>`` named tuple, printed alike."""
    return return_type(name, tuple(fields.split()))


RESULTS = {
    name: _return_type(name, fields)
    for name, fields in (
        ("linalg_slogdet", "sign logabsdet"),
        ("slogdet", "sign logabsdet"),
        ("linalg_inv_ex", "inverse info"),
        ("linalg_solve_ex", "result info"),
        ("linalg_cholesky_ex", "L info"),
        ("linalg_eigh", "eigenvalues eigenvectors"),
        ("linalg_svd", "U S Vh"),
        ("svd", "U S V"),
        ("linalg_qr", "Q R"),
        ("qr", "Q R"),
        ("linalg_lstsq", "solution residuals rank singular_values"),
    )
}


# ---- argument checks (PyTorch's texts) -----------------------------------------------------
def check_matrix(a: Tensor, op: str, square: bool = True) -> None:
    if a.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    check_float(a, op)
    if square and a.shape[-1] != a.shape[-2]:
        raise RuntimeError(
            f"{op}: A must be batches of square matrices, but they are {a.shape[-2]} by "
            f"{a.shape[-1]} matrices"
        )


def check_float(a: Tensor, op: str) -> None:
    if a.dtype.category == 3:  # (Note [complex dtypes] in ir/dtypes.py)
        raise NotImplementedError(f"{op}: adjit does not support complex input yet")
    if not a.dtype.is_floating_point:
        raise RuntimeError(
            f"{op}: Expected a floating point or complex tensor as input. Got {a.dtype.type_name}"
        )
    if a.dtype not in (D.float32, D.float64):  # PyTorch: its LAPACK kernel not implemented
        raise NotImplementedError(
            f"{op}: adjit's LAPACK functions take float32 or float64, not {a.dtype.type_name}"
        )


# ---- LINALG and its parts ------------------------------------------------------------------
def lapack(func: str, mode: str, *xs: Tensor) -> Tensor:
    return apply(Op.LINALG, *xs, func=func, mode=mode, name="LinalgBackward0")


def part(
    name: str, packed: Tensor, func: str, mode: str, shapes: list, i: int, post: Any = None
) -> Tensor:
    """Output ``i`` of a packed LINALG value (``post`` applied), with grad_fn ``name``."""
    if not packed._is_tracer and not (packed.requires_grad and is_grad_enabled()):
        out = Tensor._make(unpack_array(packed._data, func, mode, shapes, i))  # no history
        return out if post is None else post(out)

    def decomposition(p: Tensor) -> Tensor:
        out = unpack_one(p, func, mode, shapes, i)
        return out if post is None else post(out)

    return composite(name, decomposition, packed)


def info_of(packed: Tensor, func: str, mode: str, shapes: list) -> Tensor:
    last = len(parts(func, mode, shapes)) - 1
    if not packed._is_tracer:
        return Tensor._make(unpack_array(packed._data, func, mode, shapes, last).astype(np.int32))
    return unpack_one(packed.detach(), func, mode, shapes, last).to(D.int32)


def raise_on_info(value: Tensor, info: Tensor, op: str, message: str) -> Tensor:
    """``value``, once every ``info`` is 0; else PyTorch's LinAlgError (``{}``: the info)."""
    prefix = f"{op}: (Batch element {{position}}): " if info.ndim else f"{op}: "
    return check(value, info == 0, _LinAlgError, prefix + message, detail=info)


def _no_nan(A: Tensor, op: str) -> Tensor:  # noqa: N803
    """``A``, once no matrix of it holds a NaN: LAPACK's gesdd refuses one (info -4), and
    PyTorch raises; an infinity passes, as in PyTorch."""
    if traced(A):
        ok = ~A.isnan().flatten(-2).any(-1)
    else:
        ok = Tensor._make(~np.isnan(A._data).any(axis=(-2, -1)))
    prefix = f"{op}: (Batch element {{position}}): " if A.ndim > 2 else f"{op}: "
    message = (
        "The algorithm failed to converge because the input matrix contained non-finite values."
    )
    return check(A, ok, _LinAlgError, prefix + message)


# ---- det, slogdet, logdet ------------------------------------------------------------------
def det(A: Tensor, *, out: Any = None) -> Tensor:  # noqa: N803 - PyTorch's argument name
    _no_out(out, "linalg.det")
    check_matrix(A, "linalg.det")
    return apply(Op.LINALG, A, func="det", mode="", name="LinalgDetBackward0")


def _slogdet(A: Tensor, op: str, kind: str) -> Any:  # noqa: N803
    check_matrix(A, op)
    packed = lapack("slogdet", "", A)
    shapes = [tuple(A.shape)]
    sign, logabs = (
        part("LinalgSlogdetBackward0", packed, "slogdet", "", shapes, i) for i in (0, 1)
    )
    return RESULTS[kind](sign, logabs)


def slogdet(A: Tensor, *, out: Any = None) -> Any:  # noqa: N803
    _no_out(out, "linalg.slogdet")
    return _slogdet(A, "linalg.slogdet", "linalg_slogdet")


def slogdet_legacy(input: Tensor) -> Any:  # noqa: A002 - torch.slogdet
    return _slogdet(input, "linalg.slogdet", "slogdet")


def logdet(input: Tensor) -> Tensor:  # noqa: A002
    """log det: NaN for a negative determinant, -inf for a zero one (PyTorch's where)."""
    check_matrix(input, "logdet")
    sign, logabs = _slogdet(input, "linalg.slogdet", "slogdet")
    from .ops_elementwise import where

    return where(sign == -1, float("nan"), logabs)


# ---- inv -----------------------------------------------------------------------------------
_SINGULAR = (
    "The diagonal element {} is zero, the inversion could not be completed because the input "
    "matrix is singular."
)


@autocast_op("linalg_inv_ex")
def inv_ex(A: Tensor, *, check_errors: bool = False, out: Any = None) -> Any:  # noqa: N803
    _no_out(out, "linalg.inv_ex")
    check_matrix(A, "linalg.inv")
    return _inv_ex(A, check_errors, "linalg.inv_ex")


def _inv_ex(A: Tensor, check_errors: bool, op: str) -> Any:  # noqa: N803
    packed = lapack("inv_ex", "", A)
    shapes = [tuple(A.shape)]
    inverse = part("LinalgInvExBackward0", packed, "inv_ex", "", shapes, 0)
    info = info_of(packed, "inv_ex", "", shapes)
    if check_errors:
        inverse = raise_on_info(inverse, info, op, _SINGULAR)
    return RESULTS["linalg_inv_ex"](inverse, info)


@autocast_op("linalg_inv")
def inv(A: Tensor, *, out: Any = None) -> Tensor:  # noqa: N803
    _no_out(out, "linalg.inv")
    check_matrix(A, "linalg.inv")
    return _inv_ex(A, True, "linalg.inv").inverse


@autocast_op("inverse")
def inverse(input: Tensor, *, out: Any = None) -> Tensor:  # noqa: A002 - torch.inverse
    return inv(input, out=out)


# ---- solve ---------------------------------------------------------------------------------
def solve_ex(
    A: Tensor,  # noqa: N803
    B: Tensor,  # noqa: N803
    *,
    left: bool = True,
    check_errors: bool = False,
    out: Any = None,
) -> Any:
    _no_out(out, "linalg.solve_ex")
    return _solve(A, B, left, check_errors, "linalg.solve", "torch.linalg.solve_ex")


@autocast_op("linalg_solve")
def solve(A: Tensor, B: Tensor, *, left: bool = True, out: Any = None) -> Tensor:  # noqa: N803
    _no_out(out, "linalg.solve")
    return _solve(A, B, left, True, "linalg.solve", "torch.linalg.solve").result


def _solve(A: Tensor, B: Tensor, left: bool, check_errors: bool, op: str, run_op: str) -> Any:  # noqa: N803
    check_matrix(A, op)
    if A.dtype != B.dtype:
        raise RuntimeError(
            f"{op}: Expected A and B to have the same dtype, but found A of type "
            f"{A.dtype.type_name} and B of type {B.dtype.type_name} instead"
        )
    n = A.shape[-1]
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    b = B.unsqueeze(-1) if vector else B  # (a column for XA = B too, as PyTorch's)
    if b.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions.")
    if b.shape[-2 if left else -1] != n:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(
            f"{op}: Incompatible shapes of A and B for the equation {eq} "
            f"({A.shape[-2]}x{A.shape[-1]} and {b.shape[-2]}x{b.shape[-1]})"
        )
    if vector and not left:
        raise RuntimeError(
            f"{op}: Vector broadcasting of the left hand side is not supported for left=False. "
            "In this case linalg.solve is equivalent to B / A.squeeze(-1)"
        )
    a = A if left else A.mT  # X A = B is A^T X^T = B^T
    b = b if left else b.mT
    batch = tuple(broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2])))
    a = a.expand(*batch, n, n) if tuple(a.shape[:-2]) != batch else a
    b = b.expand(*batch, *b.shape[-2:]) if tuple(b.shape[:-2]) != batch else b
    packed = lapack("solve_ex", "", a, b)
    shapes = [tuple(a.shape), tuple(b.shape)]

    def post(x: Tensor) -> Tensor:
        x = x if left else x.mT
        return x.squeeze(-1) if vector else x  # (left only)

    result = part("LinalgSolveExBackward0", packed, "solve_ex", "", shapes, 0, post)
    info = info_of(packed, "solve_ex", "", shapes)
    if check_errors:
        result = raise_on_info(
            result,
            info,
            run_op,
            "The solver failed because the input matrix is singular.",
        )
    return RESULTS["linalg_solve_ex"](result, info)


# ---- cholesky ------------------------------------------------------------------------------
_NOT_PD = (
    "The factorization could not be completed because the input is not positive-definite "
    "(the leading minor of order {} is not positive-definite)."
)


def _cholesky(
    A: Tensor, upper: bool, check_errors: bool, op: str, name: str, run_op: str = ""
) -> Any:  # noqa: N803
    check_matrix(A, op)
    a = A.mT if upper else A  # the upper triangle of A is the lower one of A^T
    packed = lapack("cholesky_ex", "", a)
    shapes = [tuple(a.shape)]
    factor = part(name, packed, "cholesky_ex", "", shapes, 0, (lambda t: t.mT) if upper else None)
    info = info_of(packed, "cholesky_ex", "", shapes)
    if check_errors:
        factor = raise_on_info(factor, info, run_op or op, _NOT_PD)
    return RESULTS["linalg_cholesky_ex"](factor, info)


@autocast_op("linalg_cholesky_ex")
def cholesky_ex(
    A: Tensor,  # noqa: N803
    *,
    upper: bool = False,
    check_errors: bool = False,
    out: Any = None,
) -> Any:
    _no_out(out, "linalg.cholesky_ex")
    name = "LinalgCholeskyExBackward0"
    return _cholesky(A, upper, check_errors, "linalg.cholesky", name, "linalg.cholesky_ex")


@autocast_op("linalg_cholesky")
def cholesky(A: Tensor, *, upper: bool = False, out: Any = None) -> Tensor:  # noqa: N803
    _no_out(out, "linalg.cholesky")
    return _cholesky(A, upper, True, "linalg.cholesky", "LinalgCholeskyExBackward0").L


@autocast_op("cholesky")
def cholesky_legacy(input: Tensor, upper: bool = False) -> Tensor:  # noqa: A002 - torch.cholesky
    warnings.warn(
        "torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed in a "
        "future PyTorch release.",
        UserWarning,
        stacklevel=autocast.stacklevel(2),
    )
    return _cholesky(input, upper, True, "cholesky", "CholeskyBackward0").L


# ---- eigh ----------------------------------------------------------------------------------
def _eigh(A: Tensor, UPLO: str, op: str) -> tuple[Tensor, Tensor]:  # noqa: N803
    check_matrix(A, op)
    uplo = UPLO.upper() if isinstance(UPLO, str) and len(UPLO) == 1 else UPLO
    if uplo not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    packed = lapack("eigh", uplo, A)
    shapes = [tuple(A.shape)]
    values, vectors = (part("LinalgEighBackward0", packed, "eigh", uplo, shapes, i) for i in (0, 1))
    return values, vectors


@autocast_op("linalg_eigh")
def eigh(A: Tensor, UPLO: str = "L", *, out: Any = None) -> Any:  # noqa: N803
    _no_out(out, "linalg.eigh")
    return RESULTS["linalg_eigh"](*_eigh(A, UPLO, "linalg.eigh"))


@autocast_op("linalg_eigvalsh")
def eigvalsh(A: Tensor, UPLO: str = "L", *, out: Any = None) -> Tensor:  # noqa: N803
    _no_out(out, "linalg.eigvalsh")
    return _eigh(A, UPLO, "linalg.eigh")[0]


# ---- svd -----------------------------------------------------------------------------------
def _svd(A: Tensor, full_matrices: bool, op: str, driver: Any) -> tuple[Tensor, Tensor, Tensor]:  # noqa: N803
    if driver is not None:
        raise RuntimeError(
            f"torch.{op}: keyword argument `driver=` is only supported on CUDA inputs with "
            "cuSOLVER backend."
        )
    check_matrix(A, op, square=False)
    mode = "full" if full_matrices else "reduced"
    packed = lapack("svd", mode, _no_nan(A, "linalg.svd"))
    shapes = [tuple(A.shape)]
    u, s, vh = (part("LinalgSvdBackward0", packed, "svd", mode, shapes, i) for i in (0, 1, 2))
    return u, s, vh


@autocast_op("linalg_svd")
def svd(A: Tensor, full_matrices: bool = True, *, driver: Any = None, out: Any = None) -> Any:  # noqa: N803
    _no_out(out, "linalg.svd")
    return RESULTS["linalg_svd"](*_svd(A, full_matrices, "linalg.svd", driver))


@autocast_op("linalg_svdvals")
def svdvals(A: Tensor, *, driver: Any = None, out: Any = None) -> Tensor:  # noqa: N803
    _no_out(out, "linalg.svdvals")
    return _svd(A, False, "linalg.svd", driver)[1]


@autocast_op("svd")
def svd_legacy(input: Tensor, some: bool = True, compute_uv: bool = True) -> Any:  # noqa: A002
    """``torch.svd``: (U, S, V) with V = Vh^T; without compute_uv, U and V are zero-filled."""
    if input.ndim < 2:
        raise RuntimeError(
            "linalg.svd: input should have at least 2 dimensions, but has "
            f"{input.ndim} dimensions instead"
        )
    u, s, vh = _svd(input, not some, "linalg.svd", None)
    if not compute_uv:
        m, n = input.shape[-2:]
        batch = tuple(input.shape[:-2])
        return RESULTS["svd"](
            input.new_zeros((*batch, m, m)), s.detach(), input.new_zeros((*batch, n, n))
        )
    return RESULTS["svd"](u, s, vh.mT)


# ---- qr ------------------------------------------------------------------------------------
@autocast_op("linalg_qr")
def qr(A: Tensor, mode: str = "reduced", *, out: Any = None) -> Any:  # noqa: N803
    _no_out(out, "linalg.qr")
    return RESULTS["linalg_qr"](*_qr(A, mode))


def _qr(A: Tensor, mode: str) -> tuple[Tensor, Tensor]:  # noqa: N803
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(
            f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
            "'r', or 'complete'"
        )
    check_matrix(A, "linalg.qr", square=False)
    packed = lapack("qr", mode, A)
    shapes = [tuple(A.shape)]
    q, r = (part("LinalgQrBackward0", packed, "qr", mode, shapes, i) for i in (0, 1))
    return q, r


@autocast_op("qr")
def qr_legacy(input: Tensor, some: bool = True) -> Any:  # noqa: A002 - torch.qr
    return RESULTS["qr"](*_qr(input, "reduced" if some else "complete"))


def _no_out(out: Any, op: str) -> None:
    if out is not None:
        raise NotImplementedError(f"{op}: out= is not supported")


# ---- matrix_exp ----------------------------------------------------------------------------
def matrix_exp(A: Tensor) -> Tensor:  # noqa: N803
    """exp(A) (Padé 13 with scaling and squaring, ir/linalg.py) with PyTorch's backward."""
    check_matrix(A, "linalg.matrix_exp")
    return apply(Op.LINALG, A, func="expm", mode="", name="LinalgMatrixExpBackward0")
