"""solve_triangular, cholesky_solve/inverse, tensorinv/solve, vander: over linalg.solve and inv."""

from __future__ import annotations

import math
from typing import Any

from .autocast import autocast_op
from .dispatch import composite, with_rule
from .ops_decomp_linalg import _solve, check_float, check_matrix, inv, inv_ex, solve
from .return_types import return_type
from .tensor import Tensor

TriangularSolveResult = return_type("triangular_solve", ("solution", "cloned_coefficient"))


# ---- solve_triangular ----------------------------------------------------------------------
def solve_triangular(
    A: Tensor,  # noqa: N803 - PyTorch's argument names
    B: Tensor,  # noqa: N803
    *,
    upper: Any = None,
    left: bool = True,
    unitriangular: bool = False,
    out: Any = None,
) -> Tensor:
    """X with AX = B (XA = B unless ``left``) reading only A's upper (lower) triangle, its
    diagonal taken as ones if ``unitriangular``. Solved by LU on that triangle, so the gradient
    is linalg.solve's masked to the triangle: PyTorch's formula. A singular A gives NaN where
    PyTorch's substitution gives inf/NaN."""
    op = "linalg.solve_triangular"
    if upper is None:
        raise TypeError(
            'linalg_solve_triangular() missing 1 required positional arguments: "upper"'
        )
    if out is not None:
        raise NotImplementedError(f"{op}: out= is not supported")
    check_matrix(A, op)
    if B.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions.")
    n = A.shape[-1]
    if B.shape[-2 if left else -1] != n:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(
            f"{op}: Incompatible shapes of A and B for the equation {eq} "
            f"({A.shape[-2]}x{n} and {B.shape[-2]}x{B.shape[-1]})"
        )
    B = B.to(A.dtype)  # noqa: N806 - PyTorch solves in A's dtype

    def decomposition(a: Tensor, b: Tensor) -> Tensor:
        tri = a.triu(int(unitriangular)) if upper else a.tril(-int(unitriangular))
        if unitriangular:
            tri = tri + a.new_ones((n,)).diag_embed()
        return _solve(tri, b, left, False, op, op).result

    return composite("LinalgSolveTriangularBackward0", decomposition, A, B)


# ---- cholesky_solve and cholesky_inverse ---------------------------------------------------
def _factor_product(factor: Tensor, upper: bool) -> Tensor:
    """A = L L^T (U^T U) from the triangle of ``factor`` that PyTorch reads."""
    t = factor.triu() if upper else factor.tril()
    return t.mT @ t if upper else t @ t.mT


class _CholeskySolveRule:
    """cholesky_solve_backward: gB = cholesky_solve(gX, L), gL = -(C + C^H) L (L C + ...)."""

    def __init__(self, upper: bool) -> None:
        self.upper = upper

    def __repr__(self) -> str:
        return repr(f"cholesky_solve(upper={self.upper})")

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        factor = inputs[2]
        gb = solve(_factor_product(factor, self.upper), g)
        gl = None
        if needs[2]:
            common = gb @ out.mT
            common = common + common.mT
            gl = -(factor @ common) if self.upper else -(common @ factor)
        return (None, gb if needs[1] else None, gl)


@autocast_op("cholesky_solve")
def cholesky_solve(input: Tensor, input2: Tensor, upper: bool = False) -> Tensor:  # noqa: A002
    """X with (L L^T) X = B for B = ``input`` and the factor L = ``input2`` (U^T U if upper)."""
    if input.ndim < 2:
        raise RuntimeError(
            f"b should have at least 2 dimensions, but has {input.ndim} dimensions instead"
        )
    if input2.ndim < 2:
        raise RuntimeError(
            f"u should have at least 2 dimensions, but has {input2.ndim} dimensions instead"
        )
    if input.dtype != input2.dtype:
        raise RuntimeError(
            "Expected b and A to have the same dtype, but found b of type "
            f"{input.dtype.type_name} and A of type {input2.dtype.type_name} instead."
        )
    check_float(input2, "cholesky_solve")
    return with_rule(
        _CholeskySolveRule(upper),
        lambda b, f: solve(_factor_product(f, upper), b),
        input,
        input2,
        name="CholeskySolveBackward0",
    )


class _CholeskyInverseRule:
    """cholesky_inverse_backward: gL = -(X (g + g^H) X) L for X = (L L^H)^-1 (L ... if upper)."""

    def __init__(self, upper: bool) -> None:
        self.upper = upper

    def __repr__(self) -> str:
        return repr(f"cholesky_inverse(upper={self.upper})")

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        factor = inputs[1]
        common = out @ ((g + g.mT) @ out)
        return (None, -(factor @ common) if self.upper else -(common @ factor))


@autocast_op("cholesky_inverse")
def cholesky_inverse(input: Tensor, upper: bool = False, *, out: Any = None) -> Tensor:  # noqa: A002
    """(L L^T)^-1 from the factor L = ``input`` (U^T U if ``upper``)."""
    if out is not None:
        raise NotImplementedError("cholesky_inverse: out= is not supported")
    check_matrix(input, "cholesky_inverse")
    return with_rule(
        _CholeskyInverseRule(upper),
        lambda f: inv_ex(_factor_product(f, upper)).inverse,
        input,
        name="CholeskyInverseBackward0",
    )


# ---- tensorinv and tensorsolve -------------------------------------------------------------
@autocast_op("linalg_tensorinv")
def tensorinv(A: Tensor, ind: int = 2, *, out: Any = None) -> Tensor:  # noqa: N803
    """The inverse of A read as a matrix of its first ``ind`` dims by the rest."""
    if out is not None:
        raise NotImplementedError("linalg.tensorinv: out= is not supported")
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    rows, cols = math.prod(A.shape[:ind]), math.prod(A.shape[ind:])
    if rows != cols:
        raise RuntimeError(
            "Expected self to satisfy the requirement prod(self.shape[ind:]) == "
            f"prod(self.shape[:ind]), but got {cols} != {rows}"
        )
    return inv(A.reshape(rows, cols)).reshape(*A.shape[ind:], *A.shape[:ind])


@autocast_op("linalg_tensorsolve")
def tensorsolve(A: Tensor, B: Tensor, dims: Any = None, *, out: Any = None) -> Tensor:  # noqa: N803
    """X with tensordot(A, X, X.ndim) = B; ``dims`` of A are moved last first."""
    if out is not None:
        raise NotImplementedError("linalg.tensorsolve: out= is not supported")
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        rest = [d for d in range(A.ndim) if d not in dims]
        A = A.permute(*rest, *dims)  # noqa: N806
    rows, cols = B.numel(), math.prod(A.shape[B.ndim :])
    if rows != cols:
        raise RuntimeError(
            "Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
            f"prod(self.shape[:other.ndim]), but got {cols} != {rows}"
        )
    x = solve(A.reshape(rows, cols), B.reshape(rows))
    return x.reshape(*A.shape[B.ndim :])


# ---- vander --------------------------------------------------------------------------------
def vander(x: Tensor, *, N: Any = None) -> Tensor:  # noqa: N803
    """Columns x^0, x^1, ..., x^(N-1) (increasing powers, PyTorch's order)."""
    if x.ndim == 0:
        raise RuntimeError("N must be greater than 1.")
    if x.dtype.name == "bool":
        raise RuntimeError(
            "linalg.vander supports floating point, complex, and integer tensors, but got Bool"
        )
    n = x.shape[-1] if N is None else N
    if n <= 1:
        raise RuntimeError("N must be greater than 1.")
    from .ops_movement import cat
    from .ops_scan import cumprod

    ones = x.new_ones((*x.shape, 1))
    if n == 1:
        return ones
    powers = cumprod(x.unsqueeze(-1).expand(*x.shape, n - 1), -1)
    return cat([ones, powers], -1)


# ---- torch.triangular_solve (the older spelling) -------------------------------------------
@autocast_op("triangular_solve")
def triangular_solve(
    b: Tensor,
    A: Tensor,  # noqa: N803
    upper: bool = True,
    transpose: bool = False,
    unitriangular: bool = False,
) -> Any:
    """(X, A's copy) with op(A) X = b, op(A) = A^T if ``transpose``; both carry
    TriangularSolveBackward0 as in PyTorch."""

    def decomposition(rhs: Tensor, a: Tensor) -> Tensor:
        coefficient = a.mT if transpose else a
        return solve_triangular(
            coefficient, rhs, upper=upper != transpose, unitriangular=unitriangular
        )

    solution = composite("TriangularSolveBackward0", decomposition, b, A)
    copy = composite("TriangularSolveBackward0", lambda a: a.clone(), A)
    return TriangularSolveResult(solution, copy)
