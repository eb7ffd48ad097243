"""``torch.linalg``: the decompositions adjit has so far (norms, products, cross, powers).

det, slogdet, inv, solve, cholesky, qr, eigh, svd/svdvals, pinv, lstsq and matrix_rank need
primitives of their own (a LAPACK forward and the standard gradient formulas): not yet here.
"""

from __future__ import annotations

from adjit.runtime.ops_contract import linalg_cross as cross
from adjit.runtime.ops_contract import matrix_power
from adjit.runtime.ops_linalg import matmul
from adjit.runtime.ops_norms import linalg_norm as norm
from adjit.runtime.ops_norms import matrix_norm, multi_dot, vecdot, vector_norm

__all__ = [
    "cross",
    "matmul",
    "matrix_norm",
    "matrix_power",
    "multi_dot",
    "norm",
    "vecdot",
    "vector_norm",
]
