"""LINALG's derivative rule: PyTorch's formulas (FunctionsManual.cpp) on the packed outputs.

Written with the Tensor API and LINALG itself (``x._linalg``: a solve, an inverse), so the eager
engine runs them on tensors and the adjoint pass emits them as IR. ``g`` and ``out`` are the
packed cotangent and value (Note [LINALG packs its outputs] in ir/linalg.py).

Note [zero cotangents of unused parts]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
PyTorch skips the terms of an output whose gradient is undefined (eigh's eigenvectors when
only the eigenvalues reach the loss, svd's U and Vh under svdvals). Here such a part arrives as
zeros, and its terms divide by gaps of eigen- or singular values (``E``) that are 0 for
repeated values: 0 / 0 would be NaN where PyTorch gives a finite gradient. ``_gap_div`` gives 0
wherever the numerator is exactly 0, which is PyTorch's value for an undefined part and, for a
used part, differs only where that numerator happens to be exactly 0 over a zero gap (PyTorch:
NaN). A nonzero numerator over a zero gap is inf, as in PyTorch.
"""

from __future__ import annotations

import math
from typing import Any

from .linalg import parts


def unpack(t: Any, func: str, mode: str, shapes: list[tuple[int, ...]]) -> list[Any]:
    """The outputs packed in ``t`` (eager tensors or tracers), each in its own shape."""
    return [unpack_one(t, func, mode, shapes, i) for i in range(len(parts(func, mode, shapes)))]


def unpack_one(t: Any, func: str, mode: str, shapes: list[tuple[int, ...]], i: int) -> Any:
    """Output ``i`` of the packed ``t`` (only its own slice is taken)."""
    sizes = [math.prod(p) for p in parts(func, mode, shapes)]
    start = sum(sizes[:i])
    whole = start == 0 and sizes[i] == t.shape[-1]
    piece = t if whole else t.narrow(-1, start, sizes[i])
    return piece.reshape(tuple(t.shape[:-1]) + parts(func, mode, shapes)[i])


def inverse(a: Any) -> Any:
    """``a``'s inverse (NaN for a singular matrix), through LINALG."""
    return unpack_one(a._linalg("inv_ex", ""), "inv_ex", "", [tuple(a.shape)], 0)


def solve(a: Any, b: Any) -> Any:
    """``a^-1 b`` for matrices ``b`` with ``a``'s batch dims, through LINALG."""
    packed = a._linalg("solve_ex", "", b)
    return unpack_one(packed, "solve_ex", "", [tuple(a.shape), tuple(b.shape)], 0)


def _gap_div(num: Any, gap: Any) -> Any:
    """``num / gap``, 0 where ``num`` is exactly 0 (Note [zero cotangents of unused parts])."""
    return (num / gap).where(num != 0, 0.0)


def _eye(like: Any, n: int) -> Any:
    return like.new_ones((n,)).diag_embed()


def _col(t: Any) -> Any:
    return t.unsqueeze(-1).unsqueeze(-1)


def _det(g: Any, out: Any, inputs: Any, shapes: list, mode: str) -> tuple:
    # linalg_det_backward (first order): solve(A^H, g det I) = g det A^-H; at an exactly
    # singular matrix det = 0 and PyTorch's perturbed LU makes that 0 (not the adjugate)
    if shapes[0][-1] == 1:  # det(A) = a: its derivative 1, also at a = 0 (PyTorch gives 1)
        return (_col(g),)
    scaled = _col(g * out) * inverse(inputs[0]).mT
    return (scaled.where(_col(out != 0), 0.0),)


def _slogdet(g: Any, out: Any, inputs: Any, shapes: list, mode: str) -> tuple:
    # slogdet_backward, real case: the sign has no gradient, g_logabsdet A^-H
    return (_col(g.narrow(-1, 1, 1).squeeze(-1)) * inverse(inputs[0]).mT,)


def _inv_ex(g: Any, out: Any, inputs: Any, shapes: list, mode: str) -> tuple:
    x = unpack(out, "inv_ex", mode, shapes)[0]
    gx = unpack(g, "inv_ex", mode, shapes)[0]
    return (-(x.mT @ (gx @ x.mT)),)


def _solve_ex(g: Any, out: Any, inputs: Any, shapes: list, mode: str) -> tuple:
    # linalg_solve_backward (left): gB = A^-H gX, gA = -gB X^H
    a = inputs[0]
    x = unpack(out, "solve_ex", mode, shapes)[0]
    gb = solve(a.mT, unpack(g, "solve_ex", mode, shapes)[0])
    return (-(gb @ x.mT), gb)


def _cholesky_ex(g: Any, out: Any, inputs: Any, shapes: list, mode: str) -> tuple:
    # cholesky_backward: gA = L^-H phi(L^H gL) L^-1, phi(X) = tril(X) with its diagonal halved,
    # made symmetric: 0.5 (P + tril(P, -1)^H) for P = tril(L^H gL)
    low = unpack(out, "cholesky_ex", mode, shapes)[0]
    gl = unpack(g, "cholesky_ex", mode, shapes)[0]
    p = (low.mT @ gl).tril()
    p = 0.5 * (p + p.tril(-1).mT)
    left = solve(low.mT, p)  # L^-H P
    return (solve(low.mT, left.mT).mT,)  # (L^-H P) L^-1


def _eigh(g: Any, out: Any, inputs: Any, shapes: list, mode: str) -> tuple:
    # linalg_eig_backward, Hermitian: gA = V (diag(gL) + skew(V^H gV) / 2 / E) V^H with
    # E_ij = L_j - L_i (1 on the diagonal)
    values, vectors = unpack(out, "eigh", mode, shapes)
    g_values, g_vectors = unpack(g, "eigh", mode, shapes)
    n = values.shape[-1]
    vhgv = vectors.mT @ g_vectors
    vhgv = 0.5 * (vhgv - vhgv.mT)
    gap = values.unsqueeze(-2) - values.unsqueeze(-1) + _eye(values, n)
    inner = _gap_div(vhgv, gap) + g_values.diag_embed()
    return (vectors @ (inner @ vectors.mT),)


def _svd(g: Any, out: Any, inputs: Any, shapes: list, mode: str) -> tuple:
    # svd_backward, real case (full_matrices: U and Vh narrowed to k as PyTorch's yaml does)
    u, s, vh = unpack(out, "svd", mode, shapes)
    gu, gs, gvh = unpack(g, "svd", mode, shapes)
    m, n = shapes[0][-2:]
    k = min(m, n)
    if mode == "full":
        u, gu, vh, gvh = (
            u.narrow(-1, 0, k),
            gu.narrow(-1, 0, k),
            vh.narrow(-2, 0, k),
            gvh.narrow(-2, 0, k),
        )
    uhgu = u.mT @ gu
    uhgu = uhgu - uhgu.mT
    vhgv = vh @ gvh.mT
    vhgv = vhgv - vhgv.mT
    s2 = s * s
    gap = s2.unsqueeze(-2) - s2.unsqueeze(-1) + _eye(s, k)
    inner = _gap_div(uhgu * s.unsqueeze(-2) + s.unsqueeze(-1) * vhgv, gap) + gs.diag_embed()
    if m > n:
        ga = u @ inner
        gu_sinv = _gap_div(gu, s.unsqueeze(-2))
        ga = ga + gu_sinv - u @ (u.mT @ gu_sinv)
        return (ga @ vh,)
    if m < n:
        ga = inner @ vh
        sinv_gvh = _gap_div(gvh, s.unsqueeze(-1))
        ga = ga + sinv_gvh - (sinv_gvh @ vh.mT) @ vh
        return (u @ ga,)
    return (u @ (inner @ vh),)


def _qr(g: Any, out: Any, inputs: Any, shapes: list, mode: str) -> tuple:
    # linalg_qr_backward, real case
    if mode == "r":
        raise RuntimeError(
            "The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
            "Please use linalg.qr(A, mode='reduced') if you are going to differentiate "
            "through linalg.qr."
        )
    m, n = shapes[0][-2:]
    if mode == "complete" and m > n:
        raise RuntimeError(
            "The QR decomposition is not differentiable when mode='complete' and nrows > ncols."
        )
    q, r = unpack(out, "qr", mode, shapes)
    gq, gr = unpack(g, "qr", mode, shapes)
    ga = gr @ r.mT - q.mT @ gq
    if m >= n:
        upper = ga.triu()
        ga = q @ (upper + upper.triu(1).mT) + gq
        return (solve(r, ga.mT).mT,)  # ga R^-H
    low = (ga.mT - ga).tril()  # trilImInvAdjSkew(-ga)
    ga = solve(r.narrow(-1, 0, m), (q @ low).mT).mT
    pad = ga.new_tensor(_eye_rect(m, n))
    return (ga @ pad + q @ gr,)


def _eye_rect(m: int, n: int) -> Any:
    import numpy as np

    return np.eye(m, n)


def _expm(g: Any, out: Any, inputs: Any, shapes: list, mode: str) -> tuple:
    # linalg_matrix_exp_differential (adjoint): the upper-right block of
    # exp([[A^H, G], [0, A^H]]), the block matrix put together by products with selections
    import numpy as np

    a = inputs[0]
    n = shapes[0][-1]
    top = a.new_tensor(np.eye(2 * n, n))  # [I; 0]
    bottom = a.new_tensor(np.eye(2 * n, n, k=-n))  # [0; I]
    at = a.mT
    block = top @ at @ top.mT + top @ g @ bottom.mT + bottom @ at @ bottom.mT
    return (top.mT @ block._linalg("expm", "") @ bottom,)


def _lu(g: Any, out: Any, inputs: Any, shapes: list, mode: str) -> tuple:
    # linalg_lu_backward, square case: gA = P L^-H [tril(L^H gLU, -1) + triu(gLU U^H)] U^-H
    # (gLU: the cotangent of the packed LU, L's multipliers below U; P and the pivots have none)
    m, n = shapes[0][-2:]
    if m != n:
        raise NotImplementedError(
            "linalg.lu_factor: the gradient of the LU decomposition of a non-square matrix is "
            "not implemented by adjit"
        )
    factors, _, perm, _ = unpack(out, "lu", mode, shapes)
    g_factors = unpack(g, "lu", mode, shapes)[0]
    low = factors.tril(-1) + _eye(factors, n)
    up = factors.triu()
    inner = (low.mT @ g_factors).tril(-1) + (g_factors @ up.mT).triu()
    inner = solve(up, inner.mT).mT  # inner U^-H
    return (perm @ solve(low.mT, inner),)  # P L^-H inner


RULES = {
    "det": _det,
    "slogdet": _slogdet,
    "inv_ex": _inv_ex,
    "solve_ex": _solve_ex,
    "cholesky_ex": _cholesky_ex,
    "eigh": _eigh,
    "svd": _svd,
    "qr": _qr,
    "expm": _expm,
    "lu": _lu,
}


def linalg_vjp(
    g: Any, out: Any, inputs: Any, needs: tuple[bool, ...], func: str, mode: str
) -> tuple:
    """One cotangent per input of LINALG[func] (PyTorch's formula for that function)."""
    shapes = [tuple(x.shape) for x in inputs]
    grads = RULES[func](g, out, inputs, shapes, mode)
    return tuple(gr if need else None for gr, need in zip(grads, needs, strict=True))
