"""``torch.linalg``: norms, products, and the LAPACK functions (det, inv, solve, cholesky, eigh,
svd, qr, lu, matrix_exp over the LINALG primitive; eig, eigvals with complex results; LAPACK's
pivoted LDL (ldl_factor, ldl_solve); householder_product as a decomposition; pinv,
lstsq, matrix_rank, cond over svd/eigh; solve_triangular, lu_solve, tensorinv/tensorsolve over
solve)."""

from __future__ import annotations

from adjit.ir.errors import _LinAlgError as LinAlgError
from adjit.runtime.complex_linalg import eig, eigvals
from adjit.runtime.ops_contract import linalg_cross as cross
from adjit.runtime.ops_contract import matrix_power
from adjit.runtime.ops_decomp_linalg import (
    cholesky,
    cholesky_ex,
    det,
    eigh,
    eigvalsh,
    inv,
    inv_ex,
    matrix_exp,
    qr,
    slogdet,
    solve,
    solve_ex,
    svd,
    svdvals,
)
from adjit.runtime.ops_householder import householder_product
from adjit.runtime.ops_ldl import ldl_factor, ldl_factor_ex, ldl_solve
from adjit.runtime.ops_linalg import matmul
from adjit.runtime.ops_lu import lu, lu_factor, lu_factor_ex, lu_solve
from adjit.runtime.ops_norms import linalg_norm as norm
from adjit.runtime.ops_norms import matrix_norm, multi_dot, vecdot, vector_norm
from adjit.runtime.ops_pinv import cond, lstsq, matrix_rank, pinv
from adjit.runtime.ops_triangular import solve_triangular, tensorinv, tensorsolve, vander
from adjit.runtime.tensor import Tensor


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: N803
    """``torch.linalg.diagonal``: the diagonal of the matrices over the last two dims."""
    from adjit.runtime.ops_diagonal import diagonal as _diagonal

    return _diagonal(A, offset, dim1, dim2)


__all__ = [
    "LinAlgError",
    "cholesky",
    "cholesky_ex",
    "cond",
    "cross",
    "det",
    "diagonal",
    "eig",
    "eigh",
    "eigvals",
    "householder_product",
    "ldl_factor",
    "ldl_factor_ex",
    "ldl_solve",
    "eigvalsh",
    "inv",
    "inv_ex",
    "lstsq",
    "lu",
    "lu_factor",
    "lu_factor_ex",
    "lu_solve",
    "matmul",
    "matrix_exp",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "multi_dot",
    "norm",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "solve_ex",
    "solve_triangular",
    "svd",
    "svdvals",
    "tensorinv",
    "tensorsolve",
    "vander",
    "vecdot",
    "vector_norm",
]
