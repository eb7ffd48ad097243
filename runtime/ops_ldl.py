"""linalg.ldl_factor, ldl_factor_ex and ldl_solve: LAPACK's Bunch-Kaufman sytf2/sytrs in NumPy.

Note [LDL as LAPACK]
~~~~~~~~~~~~~~~~~~~~
PyTorch returns LAPACK's own compact form: the unit lower triangular L below the diagonal of LD
and the 1x1/2x2 blocks of D on it, with sytrf's pivots (1-based; a 2x2 block's two entries both
-p). NumPy has no sytrf, so the unblocked algorithm (dsytf2/zsytf2, uplo 'L', Bunch-Kaufman with
alpha = (1 + sqrt 17) / 8, |Re| + |Im| for complex) runs here step by step with vectorized
updates, rounding each update as LAPACK's dsyr/2x2 loops do; the blocked sytrf makes the same
pivot choices. The triangle above the diagonal is zero, as PyTorch's. PyTorch defines no
derivative for either function: their results carry one that raises PyTorch's error.
hermitian=True for complex input runs zhetf2/zhetrs (runtime/ops_ldl_hermitian.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ir import dtypes as D
from . import trace_state
from .dispatch import with_rule
from .ops_decomp_linalg import _no_out, _return_type
from .tensor import Tensor

LdlFactorResult = _return_type("linalg_ldl_factor", "LD pivots")
LdlFactorExResult = _return_type("linalg_ldl_factor_ex", "LD pivots info")
ALPHA = (1 + math.sqrt(17.0)) / 8


class _NoDerivative:
    """PyTorch's NotImplemented grad_fn: backward through it raises PyTorch's error."""

    complex = True

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def vjp(self, g: Any, out: Any, inputs: Any, needs: Any) -> tuple:
        raise RuntimeError(f"derivative for aten::{self.name} is not implemented")


_FACTOR = _NoDerivative("linalg_ldl_factor_ex")
_SOLVE = _NoDerivative("linalg_ldl_solve")


def _eager(op: str) -> None:
    if trace_state.current() is not None:
        raise NotImplementedError(
            f"adjit.compile does not support torch.linalg.{op} yet (LAPACK's pivoted LDL runs "
            "eagerly)"
        )


def _size1(z: np.ndarray) -> np.ndarray:
    """LAPACK's pivot magnitude: |x|, or |Re| + |Im| (cabs1) for complex."""
    return np.abs(z.real) + np.abs(z.imag) if np.iscomplexobj(z) else np.abs(z)


def _sytf2(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """One matrix: (LD, 1-based pivots, info), LAPACK's dsytf2/zsytf2 with uplo 'L'."""
    a = np.tril(a).copy()
    n = a.shape[0]
    ipiv = np.zeros(n, np.int32)
    info = 0
    k = 0
    with np.errstate(all="ignore"):
        while k < n:
            kstep = 1
            absakk = float(_size1(a[k, k]))
            if k < n - 1:
                col = _size1(a[k + 1 :, k])
                imax = k + 1 + int(np.argmax(col))
                colmax = float(col[imax - k - 1])
            else:
                imax, colmax = k, 0.0
            if max(absakk, colmax) == 0 or math.isnan(absakk):
                info = info or k + 1
                kp = k
            else:
                if absakk >= ALPHA * colmax:
                    kp = k
                else:
                    rowmax = float(_size1(a[imax, k:imax]).max())
                    if imax < n - 1:
                        rowmax = max(rowmax, float(_size1(a[imax + 1 :, imax]).max()))
                    if absakk >= ALPHA * colmax * (colmax / rowmax):
                        kp = k
                    elif float(_size1(a[imax, imax])) >= ALPHA * rowmax:
                        kp = imax
                    else:
                        kp, kstep = imax, 2
                kk = k + kstep - 1
                if kp != kk:
                    _interchange(a, k, kk, kp, kstep)
                if kstep == 1:
                    _update1(a, k)
                else:
                    _update2(a, k)
            if kstep == 1:
                ipiv[k] = kp + 1
            else:
                ipiv[k] = ipiv[k + 1] = -(kp + 1)
            k += kstep
    return a, ipiv, info


def _interchange(a: np.ndarray, k: int, kk: int, kp: int, kstep: int) -> None:
    """Swap rows and columns kk and kp of the trailing lower triangle."""
    a[kp + 1 :, [kk, kp]] = a[kp + 1 :, [kp, kk]]
    seg = a[kk + 1 : kp, kk].copy()
    a[kk + 1 : kp, kk] = a[kp, kk + 1 : kp]
    a[kp, kk + 1 : kp] = seg
    a[kk, kk], a[kp, kp] = a[kp, kp], a[kk, kk]
    if kstep == 2:
        a[k + 1, k], a[kp, k] = a[kp, k], a[k + 1, k]


def _update1(a: np.ndarray, k: int) -> None:
    """dsyr with -1/D(k), then the column scaled (LAPACK's order of roundings)."""
    if k == a.shape[0] - 1:
        return
    x = a[k + 1 :, k].copy()
    tiny = np.finfo(a.real.dtype).tiny
    if _size1(a[k, k]) >= tiny:
        d11 = 1 / a[k, k]
        a[k + 1 :, k + 1 :] += np.tril(np.outer(x, -d11 * x))
        a[k + 1 :, k] = d11 * x
    else:
        d11 = a[k, k]
        a[k + 1 :, k] = x / d11
        scaled = a[k + 1 :, k]
        a[k + 1 :, k + 1 :] += np.tril(np.outer(scaled, (-1 / d11) * scaled))


def _update2(a: np.ndarray, k: int) -> None:
    """The 2x2 pivot's rank-2 update, as dsytf2's explicit loops."""
    if k >= a.shape[0] - 2:
        return
    d21 = a[k + 1, k]
    d11 = a[k + 1, k + 1] / d21
    d22 = a[k, k] / d21
    t = 1 / (d11 * d22 - 1)
    d21 = t / d21
    ck, ck1 = a[k + 2 :, k].copy(), a[k + 2 :, k + 1].copy()
    wk = d21 * (d11 * ck - ck1)
    wkp1 = d21 * (d22 * ck1 - ck)
    a[k + 2 :, k + 2 :] -= np.tril(np.outer(ck, wk) + np.outer(ck1, wkp1))
    a[k + 2 :, k], a[k + 2 :, k + 1] = wk, wkp1


def _sytrs(ld: np.ndarray, ipiv: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One system: LAPACK's dsytrs/zsytrs with uplo 'L' on (LD, pivots)."""
    b = b.copy()
    n = ld.shape[0]
    k = 0
    while k < n:  # L D y = b
        if ipiv[k] > 0:
            kp = ipiv[k] - 1
            if kp != k:
                b[[k, kp]] = b[[kp, k]]
            b[k + 1 :] -= np.outer(ld[k + 1 :, k], b[k])
            b[k] = b[k] / ld[k, k]
            k += 1
        else:
            kp = -ipiv[k] - 1
            if kp != k + 1:
                b[[k + 1, kp]] = b[[kp, k + 1]]
            b[k + 2 :] -= np.outer(ld[k + 2 :, k], b[k])
            b[k + 2 :] -= np.outer(ld[k + 2 :, k + 1], b[k + 1])
            akm1k = ld[k + 1, k]
            akm1, ak = ld[k, k] / akm1k, ld[k + 1, k + 1] / akm1k
            denom = akm1 * ak - 1
            bkm1, bk = b[k] / akm1k, b[k + 1] / akm1k
            b[k], b[k + 1] = (ak * bkm1 - bk) / denom, (akm1 * bk - bkm1) / denom
            k += 2
    k = n - 1
    while k >= 0:  # L^T x = y
        if ipiv[k] > 0:
            b[k] -= ld[k + 1 :, k] @ b[k + 1 :]
            kp = ipiv[k] - 1
            if kp != k:
                b[[k, kp]] = b[[kp, k]]
            k -= 1
        else:
            b[k] -= ld[k + 1 :, k] @ b[k + 1 :]
            b[k - 1] -= ld[k + 1 :, k - 1] @ b[k + 1 :]
            kp = -ipiv[k] - 1
            if kp != k:
                b[[k, kp]] = b[[kp, k]]
            k -= 2
    return b


def _kernels(hermitian: bool, dtype: D.DType) -> tuple[Any, Any]:
    """(factor, solve) for one matrix: LAPACK's he* for complex Hermitian, else sy*."""
    if hermitian and dtype.category == 3:
        from .ops_ldl_hermitian import hetf2, hetrs

        return hetf2, hetrs
    return _sytf2, _sytrs


def _factor(A: Tensor, hermitian: bool) -> tuple[Tensor, Tensor, Tensor]:  # noqa: N803
    op = "ldl_factor_ex"
    if A.ndim < 2:
        raise RuntimeError(
            f"torch.linalg.{op}: The input tensor A must have at least 2 dimensions."
        )
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(
            f"torch.linalg.{op}: A must be batches of square matrices, but they are "
            f"{A.shape[-2]} by {A.shape[-1]} matrices"
        )
    if A.dtype.category < 2:
        raise RuntimeError(
            f"torch.linalg.{op}: Expected a floating point or complex tensor as input. Got "
            f"{A.dtype.type_name}"
        )
    if A.dtype not in (D.float32, D.float64, D.complex64, D.complex128):
        raise NotImplementedError(
            f"\"ldl_factor_kernel_cpu\" not implemented for '{A.dtype.type_name}'"
        )
    _eager(op)
    factor = _kernels(hermitian, A.dtype)[0]
    batch = tuple(A.shape[:-2])
    n = A.shape[-1]
    ld = np.zeros(A._data.shape, A._data.dtype)
    piv = np.zeros((*batch, n), np.int32)
    info = np.zeros(batch, np.int32)
    for idx in np.ndindex(*batch):
        ld[idx], piv[idx], info[idx] = factor(A._data[idx])
    value = with_rule(_FACTOR, lambda a: Tensor._make(ld), A, name="NotImplemented")
    return value, Tensor._make(piv), Tensor._make(info)


def ldl_factor_ex(
    A: Tensor,  # noqa: N803
    *,
    hermitian: bool = False,
    check_errors: bool = False,
    out: Any = None,
) -> Any:
    """``torch.linalg.ldl_factor_ex``: (LD, pivots, info) in LAPACK's compact form."""
    _no_out(out, "linalg.ldl_factor_ex")
    ld, piv, info = _factor(A, hermitian)
    if check_errors:
        _raise_on_info(info, "ldl_factor_ex")
    return LdlFactorExResult(ld, piv, info)


def ldl_factor(A: Tensor, *, hermitian: bool = False, out: Any = None) -> Any:  # noqa: N803
    """``torch.linalg.ldl_factor``: (LD, pivots); a D with an exact zero pivot raises."""
    _no_out(out, "linalg.ldl_factor")
    ld, piv, info = _factor(A, hermitian)
    _raise_on_info(info, "ldl_factor")
    return LdlFactorResult(ld, piv)


def _raise_on_info(info: Tensor, op: str) -> None:
    bad = info._data[info._data != 0]
    if bad.size:  # (PyTorch reports the code through an internal assert: same final words)
        raise RuntimeError(f"torch.linalg.{op}: Unknown error code: {int(bad.flat[0])}.")


def ldl_solve(
    LD: Tensor,  # noqa: N803
    pivots: Tensor,
    B: Tensor,  # noqa: N803
    *,
    hermitian: bool = False,
    out: Any = None,
) -> Tensor:
    """``torch.linalg.ldl_solve``: X with A X = B from ldl_factor's (LD, pivots)."""
    _no_out(out, "linalg.ldl_solve")
    op = "torch.linalg.ldl_solve"
    if LD.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if LD.shape[-1] != LD.shape[-2]:
        raise RuntimeError(
            f"{op}: A must be batches of square matrices, but they are {LD.shape[-2]} by "
            f"{LD.shape[-1]} matrices"
        )
    if B.ndim < 2:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-max(B.ndim, 1)}, "
            f"{max(B.ndim, 1) - 1}], but got -2)"
        )
    if B.shape[-2] != LD.shape[-1]:
        raise RuntimeError(
            f"Incompatible matrix sizes for {op}: each A matrix is {LD.shape[-1]} by "
            f"{LD.shape[-1]} but each b matrix is {B.shape[-2]} by {B.shape[-1]}"
        )
    if B.dtype is not LD.dtype:
        raise RuntimeError(
            f"Expected b and A to have the same dtype, but found b of type {B.dtype.type_name} "
            f"and A of type {LD.dtype.type_name} instead."
        )
    if tuple(pivots.shape) != tuple(LD.shape[:-1]):
        raise RuntimeError(
            f"{op}: Expected LD.shape[:-1] and pivots.shape to be the same, but got pivots "
            f"with shape {list(pivots.shape)} instead"
        )
    if pivots.dtype.category != 1:
        raise RuntimeError(f"{op}: Expected pivots to be integers. Got {pivots.dtype.type_name}")
    _eager("ldl_solve")
    solve = _kernels(hermitian, LD.dtype)[1]
    batch = np.broadcast_shapes(LD.shape[:-2], B.shape[:-2])
    ld = np.broadcast_to(LD._data, (*batch, *LD.shape[-2:]))
    piv = np.broadcast_to(pivots._data, (*batch, LD.shape[-1]))
    b = np.broadcast_to(B._data, (*batch, *B.shape[-2:]))
    x = np.empty(b.shape, b.dtype)
    with np.errstate(all="ignore"):
        for idx in np.ndindex(*batch):
            x[idx] = solve(ld[idx], piv[idx], b[idx])
    return with_rule(_SOLVE, lambda *_: Tensor._make(x), LD, B, name="NotImplemented")
