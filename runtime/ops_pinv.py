"""pinv, lstsq, matrix_rank and cond: decompositions over linalg.svd / eigh (ops_decomp_linalg)."""

from __future__ import annotations

from typing import Any

from ..ir import dtypes as D
from .autocast import autocast_op
from .dispatch import composite, with_rule
from .grad_mode import no_grad
from .ops_decomp_linalg import RESULTS, _eigh, _svd, check_float, inv_ex
from .ops_elementwise import where
from .tensor import Tensor


def _eps(a: Tensor) -> float:
    return 1.1920928955078125e-07 if a.dtype is D.float32 else 2.220446049250313e-16


def _tolerance(a: Tensor, s_max: Tensor, atol: Any, rtol: Any) -> Tensor | float:
    """max(atol, rtol * s_max) with PyTorch's defaults: rtol = eps * max(m, n) unless only a
    positive atol is given (then rtol = 0)."""
    if rtol is None:
        given = atol is not None and (not isinstance(atol, int | float) or atol > 0)
        rtol = 0.0 if given else _eps(a) * max(a.shape[-2:])
    atol = 0.0 if atol is None else atol
    tol = rtol * s_max
    return tol if isinstance(atol, int | float) and atol == 0 else _maximum(tol, atol)


def _maximum(x: Any, y: Any) -> Any:
    from .ops_elementwise import maximum

    return maximum(x, y if isinstance(y, Tensor) else x.new_full((), float(y)))


def _check_tol_args(atol: Any, rtol: Any, rcond: Any, op: str) -> Any:
    if rcond is not None:
        if rtol is not None:
            raise RuntimeError(f"{op}: rcond and rtol cannot both be specified")
        return rcond
    return rtol


# ---- pinv ----------------------------------------------------------------------------------
class _PinvRule:
    """pinv_backward (FunctionsManual.cpp), real case: the gradient of A^+ through A."""

    def __repr__(self) -> str:
        return repr("pinv")

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        a, p = inputs[1], out
        m, n = a.shape[-2:]
        ph, gh = p.mT, g.mT
        if m <= n:
            k = gh @ p
            kph = k @ ph
            ga = -(p @ k).mT + kph - (a @ p) @ kph + (ph @ p) @ (gh - k @ a)
        else:
            k = p @ gh
            phk = ph @ k
            ga = -(k @ p).mT + (gh - a @ k) @ p @ ph + phk - phk @ p @ a
        return (None, ga if needs[1] else None)


_PINV_RULE = _PinvRule()


def _pinv_value(a: Tensor, atol: Any, rtol: Any, hermitian: bool) -> Tensor:
    m, n = a.shape[-2:]
    if min(m, n) == 0:
        return a.new_zeros((*a.shape[:-2], n, m))
    if hermitian:
        values, vectors = _eigh(a, "L", "linalg.pinv")
        s = values.abs()
        tol = _tolerance(a, s.amax(-1, keepdim=True), atol, rtol)
        s_inv = where(s > tol, 1 / values, 0.0)
        return (vectors * s_inv.unsqueeze(-2)) @ vectors.mT
    u, s, vh = _svd(a, False, "linalg.svd", None)
    tol = _tolerance(a, s.amax(-1, keepdim=True), atol, rtol)
    s_inv = where(s > tol, 1 / s, 0.0)
    return (vh.mT * s_inv.unsqueeze(-2)) @ u.mT


def pinv(
    A: Tensor,  # noqa: N803 - PyTorch's argument name
    rcond: Any = None,
    hermitian: bool = False,
    *,
    atol: Any = None,
    rtol: Any = None,
    out: Any = None,
) -> Tensor:
    """The pseudo-inverse from the SVD (eigh if ``hermitian``), singular values at or below
    max(atol, rtol * largest) treated as zero; PyTorch's pinv_backward as its gradient."""
    if out is not None:
        raise NotImplementedError("linalg.pinv: out= is not supported")
    if A.ndim < 2 or not A.dtype.is_floating_point:
        kind = A.dtype.type_name
        raise RuntimeError(
            f"linalg.pinv({kind}{{{list(A.shape)}}}): expected a tensor with 2 or more "
            "dimensions of float, double, cfloat or cdouble types"
        )
    check_float(A, "linalg.pinv")
    rtol = _check_tol_args(atol, rtol, rcond, "linalg.pinv")
    return with_rule(
        _PINV_RULE,
        lambda a: _pinv_value(a, atol, rtol, hermitian),
        A,
        name="LinalgPinvBackward0",
    )


@autocast_op("pinverse")
def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:  # noqa: A002 - torch.pinverse
    return pinv(input, rtol=rcond)


# ---- matrix_rank ---------------------------------------------------------------------------
@autocast_op("linalg_matrix_rank")
def matrix_rank(
    A: Tensor,  # noqa: N803
    tol: Any = None,
    hermitian: bool = False,
    *,
    atol: Any = None,
    rtol: Any = None,
    out: Any = None,
) -> Tensor:
    """The count of singular values above max(atol, rtol * largest) (int64)."""
    if out is not None:
        raise NotImplementedError("linalg.matrix_rank: out= is not supported")
    if A.ndim < 2:
        raise RuntimeError(
            "torch.linalg.matrix_rank: The input tensor input must have at least 2 dimensions."
        )
    if A.dtype not in (D.float32, D.float64):
        raise RuntimeError("This function doesn't handle types other than float and double")
    if tol is not None:  # the legacy overload: an absolute tolerance
        atol, rtol = tol, 0.0 if rtol is None else rtol
    m, n = A.shape[-2:]
    with no_grad():
        if min(m, n) == 0:
            return A.new_zeros(tuple(A.shape[:-2]), dtype=D.int64)
        if hermitian:
            s = _eigh(A, "L", "linalg.matrix_rank")[0].abs()
        else:
            s = _svd(A, False, "linalg.svd", None)[1]
        tol_ = _tolerance(A, s.amax(-1, keepdim=True), atol, rtol)
        return (s > tol_).sum(-1)


# ---- lstsq ---------------------------------------------------------------------------------
@autocast_op("linalg_lstsq")
def lstsq(
    A: Tensor,  # noqa: N803
    B: Tensor,  # noqa: N803
    rcond: Any = None,
    *,
    driver: Any = None,
) -> Any:
    """Least squares as PyTorch's CPU default driver ``gelsy``: the solution (the pseudo-inverse
    times B, so the gradient is PyTorch's pinv-based lstsq backward), the rank, and the empty
    residuals and singular values gelsy leaves."""
    if driver not in (None, "gelsy"):
        if driver not in ("gels", "gelsd", "gelss"):
            raise RuntimeError(
                "torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, "
                "gelss)"
            )
        raise NotImplementedError(
            f"torch.linalg.lstsq: driver={driver!r} is not supported by adjit (gelsy only)"
        )
    check_float(A, "torch.linalg.lstsq")
    if A.ndim < 2:
        raise RuntimeError("torch.linalg.lstsq: input must have at least 2 dimensions.")
    if A.dtype != B.dtype:
        raise RuntimeError(
            "torch.linalg.lstsq: Expected input and other to have the same dtype, but got "
            f"input's dtype {A.dtype.type_name} and other's dtype {B.dtype.type_name}"
        )
    vector = B.ndim == A.ndim - 1
    if vector and A.shape[-2] != B.shape[-1]:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-1)")
    if not vector and A.shape[-2] != B.shape[-2]:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    m, n = A.shape[-2:]
    rtol = _eps(A) * max(m, n) if rcond is None or rcond < 0 else rcond

    def decomposition(a: Tensor, b: Tensor) -> Tensor:
        p = pinv(a, rtol=rtol)
        return (p @ b.unsqueeze(-1)).squeeze(-1) if vector else p @ b

    solution = composite("LinalgLstsqBackward0", decomposition, A, B)
    rank = matrix_rank(A, rtol=rtol)
    empty = A.new_zeros((0,))
    return RESULTS["linalg_lstsq"](solution, empty, rank, A.new_zeros((0,)))


# ---- cond ----------------------------------------------------------------------------------
@autocast_op("linalg_cond")
def cond(A: Tensor, p: Any = None, *, out: Any = None) -> Tensor:  # noqa: N803
    """The condition number: the ratio of extreme singular values for p in (None, 2, -2),
    else norm(A, p) * norm(A^-1, p) (inf for a singular matrix, as PyTorch)."""
    from .ops_norms import matrix_norm

    if out is not None:
        raise NotImplementedError("linalg.cond: out= is not supported")
    if A.ndim < 2:
        raise RuntimeError("linalg.cond: The input tensor must have at least 2 dimensions.")
    check_float(A, "linalg.svd")
    if p is None or p in (2, -2):
        s = _svd(A, False, "linalg.svd", None)[1]
        big, small = s.amax(-1), s.amin(-1)
        return small / big if p == -2 else big / small
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(
            f"linalg.cond(ord={p}): A must be batches of square matrices, but they are "
            f"{A.shape[-2]} by {A.shape[-1]} matrices"
        )
    inverse, info = inv_ex(A)
    value = matrix_norm(A, p) * matrix_norm(inverse, p)
    return where(info == 0, value, float("inf"))
