"""``torch.svd_lowrank`` and ``torch.pca_lowrank``: PyTorch's randomized low-rank SVD
(Halko, Martinsson and Tropp, 2009), step for step, drawing from the default generator."""

from __future__ import annotations

from adjit import linalg
from adjit.ir import dtypes as D
from adjit.runtime import functional as R
from adjit.runtime.ops_random import randn
from adjit.runtime.tensor import Tensor

__all__ = ["pca_lowrank", "svd_lowrank"]

# Note [randomized low-rank SVD]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# As torch/_lowrank.py: a (n, q) Gaussian sketch drawn with torch.randn from the default
# generator (adjit's reproduces PyTorch's stream, so a seeded call sketches the same matrix),
# ``niter`` subspace iterations each re-orthonormalized by QR, then the SVD of the small
# projection ``Q^H A``. A wider-than-tall input is worked on as its conjugate transpose. Every
# step is an ordinary differentiable op, so gradients flow as in PyTorch and the tracer sees
# it (the draw becomes a traced random sample).


def _floating(A: Tensor) -> D.DType:
    return A.dtype if A.dtype in (D.float16, D.float32, D.float64) else D.float32


def get_approximate_basis(A: Tensor, q: int, niter: int | None = 2, M: Tensor | None = None):
    """An (m, q) matrix with orthonormal columns whose range approximates A's (or A - M's)."""
    niter = 2 if niter is None else niter
    dtype = A.dtype if A.is_complex() else _floating(A)
    sketch = randn(A.shape[-1], q, dtype=dtype)
    X = R.matmul(A, sketch)
    if M is not None:
        X = X - R.matmul(M, sketch)
    Q = linalg.qr(X).Q
    for _ in range(niter):
        X = R.matmul(A.mH, Q)
        if M is not None:
            X = X - R.matmul(M.mH, Q)
        Q = linalg.qr(X).Q
        X = R.matmul(A, Q)
        if M is not None:
            X = X - R.matmul(M, Q)
        Q = linalg.qr(X).Q
    return Q


def svd_lowrank(
    A: Tensor, q: int | None = 6, niter: int | None = 2, M: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """``(U, S, V)`` of a rank-``q`` approximation of ``A - M`` (``A ~ U diag(S) V^H``)."""
    q = 6 if q is None else q
    m, n = A.shape[-2:]
    if M is not None:
        M = M.broadcast_to(A.size())
    if m < n:
        A = A.mH
        if M is not None:
            M = M.mH
    Q = get_approximate_basis(A, q, niter=niter, M=M)
    B = R.matmul(Q.mH, A)
    if M is not None:
        B = B - R.matmul(Q.mH, M)
    U, S, Vh = linalg.svd(B, full_matrices=False)
    V = Vh.mH
    U = Q.matmul(U)
    if m < n:
        U, V = V, U
    return U, S, V


def pca_lowrank(
    A: Tensor, q: int | None = None, center: bool = True, niter: int = 2
) -> tuple[Tensor, Tensor, Tensor]:
    """Principal components of ``A``'s rows: svd_lowrank of the column-centered matrix."""
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not (q >= 0 and q <= min(m, n)):
        raise ValueError(
            f"q(={q}) must be non-negative integer and not greater than min(m, n)={min(m, n)}"
        )
    if not (niter >= 0):
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if not center:
        return svd_lowrank(A, q, niter=niter, M=None)
    C = A.mean(dim=(-2,), keepdim=True)
    return svd_lowrank(A - C, q, niter=niter, M=None)
