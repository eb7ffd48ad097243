"""lobpcg's backward as PyTorch's (torch/_lobpcg.py): the gradient to A of k eigenpairs of a
symmetric matrix, over the complete eigenspace or, for k < n, the partial one."""

from __future__ import annotations

from typing import Any

from adjit import linalg
from adjit.runtime import functional as R
from adjit.runtime.creation import eye
from adjit.runtime.generator import Generator
from adjit.runtime.ops_random import randn
from adjit.runtime.tensor import Tensor

__all__ = ["symeig_backward"]


def _complete_eigenspace(D_grad: Tensor, U_grad: Tensor, A: Tensor, D: Tensor, U: Tensor):
    F = D.unsqueeze(-2) - D.unsqueeze(-1)
    F.diagonal(dim1=-2, dim2=-1).fill_(float("inf"))
    F.pow_(-1)
    Ut = U.mT.contiguous()
    inner = R.diag_embed(D_grad) + R.matmul(Ut, U_grad) * F
    return R.matmul(U, R.matmul(inner, Ut))


def _poly_from_roots(roots: Tensor) -> Tensor:
    order = roots.shape[-1]
    shape = list(roots.shape)
    shape[-1] += 2
    coeffs = roots.new_zeros(shape)
    coeffs[..., 0] = 1
    coeffs[..., -1] = 1
    for i in range(1, order + 1):
        new = coeffs.clone() if roots.requires_grad else coeffs
        out = new.narrow(-1, order - i, i + 1)
        out -= roots.narrow(-1, i - 1, 1) * coeffs.narrow(-1, order - i + 1, i + 1)
        coeffs = new
    return coeffs.narrow(-1, 1, order + 1)


def _poly_value(poly: Tensor, x: Tensor, zero_power: Tensor, step: Any) -> Tensor:
    res = zero_power.clone()
    for k in range(poly.size(-1) - 2, -1, -1):
        res = step(res, x, poly[..., k])
    return res


def _matrix_poly(poly: Tensor, x: Tensor) -> Tensor:
    def step(value: Tensor, x: Tensor, c: Tensor) -> Tensor:
        res = x.matmul(value)
        res.diagonal(dim1=-2, dim2=-1).add_(c.unsqueeze(-1))
        return res

    n = x.size(-1)
    zero = eye(n, n, dtype=x.dtype).view(*[1] * (x.ndim - 2), n, n)
    return _poly_value(poly, x, zero, step)


def _vector_poly(poly: Tensor, x: Tensor) -> Tensor:
    step = lambda value, x, c: R.addcmul(c.unsqueeze(-1), x, value)  # noqa: E731
    return _poly_value(poly, x, x.new_ones(1).expand(x.shape), step)


def _partial_eigenspace(D_grad, U_grad, A, D, U, largest):  # noqa: ANN001, ANN202
    Ut = U.mT.contiguous()
    proj = -U.matmul(Ut)
    proj.diagonal(dim1=-2, dim2=-1).add_(1)
    gen = Generator()
    draw = randn((*A.shape[:-1], A.size(-1) - D.size(-1)), dtype=A.dtype, generator=gen)
    U_ortho = proj.matmul(draw)
    U_ortho_t = U_ortho.mT.contiguous()
    chr_poly = _poly_from_roots(D)
    projected = U_grad
    series = projected.new_zeros(projected.shape)
    k = 0
    for k in range(1, chr_poly.size(-1)):
        series += projected * _vector_poly(chr_poly[..., k:], D).unsqueeze(-2)
        projected = A.matmul(projected)
    at_A = _matrix_poly(chr_poly, A)
    to_ortho = R.matmul(U_ortho_t, R.matmul(at_A, U_ortho))
    sign = -1 if largest and k % 2 == 1 else +1
    L = linalg.cholesky(sign * to_ortho)
    res = _complete_eigenspace(D_grad, U_grad, A, D, U)
    solved = R.cholesky_solve(U_ortho_t.matmul(series), L)
    return res - U_ortho.matmul(sign * solved).matmul(Ut)


def symeig_backward(D_grad, U_grad, A, D, U, largest):  # noqa: ANN001, ANN202
    if U.size(-1) == U.size(-2):
        return _complete_eigenspace(D_grad, U_grad, A, D, U)
    return _partial_eigenspace(D_grad, U_grad, A, D, U, largest)
