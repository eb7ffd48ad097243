"""linalg.householder_product (torch.orgqr): the product of Householder reflectors, decomposed.

Q = H_1 H_2 ... H_k (its first n columns), H_i = I - tau_i v_i v_i^H with v_i the i-th column of
A below the diagonal and a 1 on it, as LAPACK's orgqr. It is applied right to left to the first
n columns of the identity, ``Q <- Q - tau_i v_i (v_i^H Q)``: O(k m n) as orgqr, made of matmul,
products and slices, so its gradient (and a second one) is autograd's and it compiles.
"""

from __future__ import annotations

from typing import Any

from ..ir import dtypes as D
from .autocast import autocast_op
from .creation import eye
from .dispatch import composite
from .ops_complex import conj
from .ops_decomp_linalg import _no_out
from .ops_diagonal import tril
from .tensor import Tensor

_OP = "torch.linalg.householder_product"


def _check(A: Tensor, tau: Tensor) -> None:  # noqa: N803
    if A.ndim < 2:
        raise RuntimeError(f"{_OP}: input must have at least 2 dimensions.")
    if A.shape[-2] < A.shape[-1]:
        raise RuntimeError(
            f"{_OP}: input.shape[-2] must be greater than or equal to input.shape[-1]"
        )
    if tau.ndim == 0:
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    if A.shape[-1] < tau.shape[-1]:
        raise RuntimeError(f"{_OP}: input.shape[-1] must be greater than or equal to tau.shape[-1]")
    if tau.ndim != A.ndim - 1:
        raise RuntimeError(
            f"{_OP}: Expected tau to have one dimension less than input, but got tau.ndim equal "
            f"to {tau.ndim} and input.ndim is equal to {A.ndim}"
        )
    if tuple(tau.shape[:-1]) != tuple(A.shape[:-2]):
        raise RuntimeError(
            f"{_OP}: Expected batch dimensions of tau to be equal to input.shape[:-2], but got "
            f"{list(tau.shape[:-1])}"
        )
    if tau.dtype is not A.dtype:
        raise RuntimeError(
            f"{_OP}: tau dtype {tau.dtype.type_name} does not match input dtype {A.dtype.type_name}"
        )
    if A.dtype not in (D.float32, D.float64, D.complex64, D.complex128):
        raise NotImplementedError(f"\"orgqr_cpu\" not implemented for '{A.dtype.type_name}'")


def _product(A: Tensor, tau: Tensor) -> Tensor:  # noqa: N803
    m, n = A.shape[-2], A.shape[-1]
    V = tril(A, -1) + eye(m, n, dtype=A.dtype)  # noqa: N806 - column i: v_i
    Q = eye(m, n, dtype=A.dtype).expand(*A.shape)  # noqa: N806
    for i in reversed(range(tau.shape[-1])):
        v = V[..., :, i : i + 1]
        Q = Q - (tau[..., i, None, None] * v) @ (conj(v).mT @ Q)  # noqa: N806
    return Q


@autocast_op("linalg_householder_product")
def householder_product(A: Tensor, tau: Tensor, *, out: Any = None) -> Tensor:  # noqa: N803
    """``torch.linalg.householder_product``: the first n columns of H_1 ... H_k."""
    _no_out(out, "linalg.householder_product")
    _check(A, tau)
    return composite("LinalgHouseholderProductBackward0", _product, A, tau)


@autocast_op("orgqr")
def orgqr(input: Tensor, input2: Tensor) -> Tensor:  # noqa: A002 - PyTorch's names
    """``torch.orgqr``: householder_product."""
    return householder_product(input, input2)
