"""torch.geqrf (Householder QR in LAPACK's compact form) and torch.ormqr (its Q times a matrix).

geqrf returns LAPACK's (a, tau): R on and above the diagonal of ``a``, the Householder vectors
v_i below it (v_i[i] = 1 implied), H_i = I - tau_i v_i v_i^H and Q = H_1 ... H_k. NumPy's
``linalg.qr(mode='raw')`` runs the same LAPACK geqrf (its ``h`` is ``a`` transposed), so the
values are LAPACK's; PyTorch defines no derivative for geqrf (its results carry one that
raises). ormqr applies the reflectors one by one to ``other`` (``C - tau v (v^H C)`` on the
left, ``C - (C v) tau v^H`` on the right), matmuls and slices as householder_product does, so
its gradients (PyTorch's OrmqrBackward0 has them for all three inputs) are autograd's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import dtypes as D
from . import trace_state
from .autocast import autocast_op
from .creation import eye
from .dispatch import composite, with_rule
from .ops_complex import conj
from .ops_decomp_linalg import _no_out
from .ops_diagonal import tril
from .return_types import return_type
from .tensor import Tensor

GeqrfResult = return_type("geqrf", ("a", "tau"))
_LAPACK_DTYPES = (D.float32, D.float64, D.complex64, D.complex128)


class _NoDerivative:
    """geqrf's grad_fn: PyTorch has no derivative for it, backward raises its error."""

    def __repr__(self) -> str:  # a Python literal: printed IR parses, emitted source runs
        return "'geqrf'"

    def vjp(self, g: Any, out: Any, inputs: Any, needs: Any) -> tuple:
        raise NotImplementedError("the derivative for 'geqrf' is not implemented.")


_GEQRF = _NoDerivative()


@autocast_op("geqrf")
def geqrf(input: Tensor, *, out: Any = None) -> Any:  # noqa: A002 - PyTorch's name
    """``torch.geqrf``: (a, tau), LAPACK's compact Householder QR of each matrix."""
    _no_out(out, "geqrf")
    if input.ndim < 2:
        raise RuntimeError("torch.geqrf: input must have at least 2 dimensions.")
    if input.dtype not in _LAPACK_DTYPES:
        raise NotImplementedError(f"\"geqrf_cpu\" not implemented for '{input.dtype.type_name}'")
    if trace_state.current() is not None:
        raise NotImplementedError(
            "adjit.compile does not support torch.geqrf yet (LAPACK's geqrf runs eagerly)"
        )
    data = input._data
    m, n = data.shape[-2:]
    if data.size:
        h, tau = np.linalg.qr(data, mode="raw")
        a = np.ascontiguousarray(np.swapaxes(h, -1, -2))
    else:
        a, tau = data.copy(), np.zeros((*data.shape[:-2], min(m, n)), data.dtype)
    return GeqrfResult(
        with_rule(_GEQRF, lambda _: Tensor._make(a), input, name="GeqrfBackward0"),
        with_rule(
            _GEQRF, lambda _: Tensor._make(tau.astype(data.dtype)), input, name="GeqrfBackward0"
        ),
    )


def _check_ormqr(A: Tensor, tau: Tensor, C: Tensor, left: bool, transpose: bool) -> None:  # noqa: N803
    """PyTorch's checks, in its order."""
    for name, flag in (("left", left), ("transpose", transpose)):
        if not isinstance(flag, bool):
            raise TypeError(f"ormqr(): argument '{name}' must be bool, not {type(flag).__name__}")
    if A.ndim < 2:
        raise RuntimeError("torch.ormqr: input must have at least 2 dimensions.")
    if C.ndim < 2:
        raise RuntimeError("torch.ormqr: other must have at least 2 dimensions.")
    side = -2 if left else -1
    if C.shape[side] != A.shape[-2]:
        raise RuntimeError(f"torch.ormqr: other.shape[{side}] must be equal to input.shape[-2]")
    if tau.ndim == 0:
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    if tau.shape[-1] != min(C.shape[side], A.shape[-1]):
        raise RuntimeError(
            f"torch.ormqr: tau.shape[-1] must be equal to min(other.shape[{side}], input.shape[-1])"
        )
    if tau.ndim != A.ndim - 1:
        raise RuntimeError(
            "torch.ormqr: Expected tau to have one dimension less than input, but got tau.ndim "
            f"equal to {tau.ndim} and input.ndim is equal to {A.ndim}"
        )
    if C.ndim != A.ndim:
        raise RuntimeError(
            "torch.ormqr: Expected other to have the same number of dimensions as input, but "
            f"got other.ndim equal to {C.ndim} and input.ndim is equal to {A.ndim}"
        )
    for name, batch in (("tau", tau.shape[:-1]), ("other", C.shape[:-2])):
        if tuple(batch) != tuple(A.shape[:-2]):
            raise RuntimeError(
                f"torch.ormqr: Expected batch dimensions of {name} to be equal to "
                f"input.shape[:-2], but got {list(batch)}"
            )
    for name, t in (("tau", tau), ("other", C)):
        if t.dtype is not A.dtype:  # (PyTorch's text has no space after the first "dtype")
            raise RuntimeError(
                f"torch.ormqr: Expected input and {name} to have the same dtype, but input has "
                f"dtype{A.dtype.type_name} and {name} has dtype {t.dtype.type_name}"
            )
    if A.dtype not in _LAPACK_DTYPES:
        raise NotImplementedError(f"\"ormqr_cpu\" not implemented for '{A.dtype.type_name}'")


def _apply(A: Tensor, tau: Tensor, C: Tensor, left: bool, transpose: bool) -> Tensor:  # noqa: N803
    """op(Q) C or C op(Q), one reflector at a time; op(Q) = Q^H when ``transpose``."""
    k = tau.shape[-1]
    V = tril(A[..., :, :k], -1) + eye(A.shape[-2], k, dtype=A.dtype)  # noqa: N806 - column i: v_i
    t = conj(tau) if transpose else tau
    # Q = H_1 ... H_k: Q C applies H_k first, Q^H C applies H_1^H first; C Q and C Q^H alike
    order = range(k) if left == transpose else reversed(range(k))
    for i in order:
        v, ti = V[..., :, i : i + 1], t[..., i, None, None]
        C = C - (ti * v) @ (conj(v).mT @ C) if left else C - (C @ v) @ (ti * conj(v).mT)  # noqa: N806
    return C


@autocast_op("ormqr")
def ormqr(
    input: Tensor,  # noqa: A002 - PyTorch's names
    tau: Tensor,
    other: Tensor,
    left: bool = True,
    transpose: bool = False,
    *,
    out: Any = None,
) -> Tensor:
    """``torch.ormqr``: op(Q) other (``left``) or other op(Q), Q from geqrf's (input, tau),
    op(Q) = Q^H if ``transpose``."""
    _no_out(out, "ormqr")
    _check_ormqr(input, tau, other, left, transpose)
    return composite(
        "OrmqrBackward0", lambda a, t, c: _apply(a, t, c, left, transpose), input, tau, other
    )


METHODS = {"geqrf": geqrf, "ormqr": ormqr}
