"""The linear-algebra rows (issue 13): einsum, tensordot, addmm..., cdist, linalg norms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Case:
    name: str
    fn: Callable[..., Any]  # fn(T, *tensors) with T the module (adjit or torch)
    shapes: tuple[tuple[int, ...], ...]
    grad_fn: bool = True  # whether adjit's grad_fn name is PyTorch's
    # how each input is drawn (PREP below); normal when not given
    prep: tuple[str, ...] = ()
    # LAPACK rows: NumPy's LAPACK (OpenBLAS) and PyTorch's (MKL) order their float operations
    # differently; a backward-stable factorization of these well-conditioned (cond < 30) inputs
    # agrees to cond * n * eps ~ 1e-13, its gradient (two more solves) to ~1e-12
    rtol: float = 1e-12

    @property
    def op(self) -> str:  # the torch.* function a row covers (for the op-table census)
        return self.name.split("-")[0]


def prep_input(kind: str, a: Any) -> Any:
    """``a`` (standard normal) made well-conditioned ("w": + 3I) or positive-definite ("s")."""
    if kind == "w":
        return a + 3 * np.eye(a.shape[-1]) if a.shape[-1] == a.shape[-2] else a
    if kind == "s":
        return a @ np.swapaxes(a, -1, -2) / a.shape[-1] + np.eye(a.shape[-1])
    return a


def _e(eq: str) -> Callable[..., Any]:
    return lambda T, *xs: T.einsum(eq, *xs)


CASES = [
    Case("einsum-mm", _e("ij,jk->ik"), ((2, 3), (3, 4))),
    Case("einsum-implicit", _e("ij,jk"), ((2, 3), (3, 4))),
    Case("einsum-diagonal", _e("ii->i"), ((3, 3),), grad_fn=False),
    Case("einsum-trace", _e("ii"), ((3, 3),)),
    Case("einsum-iii", _e("iii->i"), ((3, 3, 3),), grad_fn=False),
    Case("einsum-repeated-contracted", _e("iij,jk->ik"), ((3, 3, 2), (2, 2))),
    Case("einsum-ellipsis", _e("...ij,...jk->...ik"), ((5, 2, 3), (3, 4))),
    Case("einsum-ellipsis-mid", _e("b...i,b...i->b..."), ((2, 3, 4), (2, 1, 4))),
    Case("einsum-ellipsis-summed", _e("...i->i"), ((2, 3, 4),)),
    Case("einsum-three", _e("ij,jk,kl->il"), ((2, 3), (3, 4), (4, 5)), grad_fn=False),
    Case("einsum-three-mixed", _e("abc,cd,bd->a"), ((2, 3, 4), (4, 5), (3, 5))),
    Case("einsum-broadcast-batch", _e("bij,bjk->bik"), ((1, 2, 3), (4, 3, 5)), grad_fn=False),
    Case("einsum-outer", _e("i,j->ij"), ((2,), (3,)), grad_fn=False),
    Case("einsum-sum", _e("ijk->"), ((2, 3, 4),)),
    Case("einsum-permute", _e("ijk->kji"), ((2, 3, 4),)),
    Case("einsum-upper", _e("Ab,bA->A"), ((2, 3), (3, 2)), grad_fn=False),
    Case("einsum-spaces", _e(" i j , j -> i "), ((2, 3), (3,)), grad_fn=False),
    Case("einsum-list", lambda T, a, b: T.einsum("ij,j", [a, b]), ((2, 3), (3,)), grad_fn=False),
    Case(
        "einsum-sublist", lambda T, a, b: T.einsum(a, [0, 1], b, [1, 2], [0, 2]), ((2, 3), (3, 4))
    ),
    Case("einsum-empty", _e("ij,jk->ik"), ((2, 0), (0, 3)), grad_fn=False),
    Case("tensordot-2", lambda T, a, b: T.tensordot(a, b), ((2, 3, 4), (3, 4, 5))),
    Case(
        "tensordot-lists",
        lambda T, a, b: T.tensordot(a, b, ([0, 2], [2, 0])),
        ((2, 3, 4), (4, 3, 2)),
    ),
    Case("tensordot-0", lambda T, a, b: T.tensordot(a, b, 0), ((2, 3), (3,))),
    Case("tensordot-ints", lambda T, a, b: T.tensordot(a, b, dims=([1], [0])), ((2, 3), (3, 4))),
    Case("addmm", lambda T, c, a, b: T.addmm(c, a, b, beta=0.5, alpha=2), ((4,), (2, 3), (3, 4))),
    Case("addmm-beta0", lambda T, c, a, b: T.addmm(c, a, b, beta=0), ((2, 1), (2, 3), (3, 4))),
    Case("addmm-method", lambda T, c, a, b: c.addmm(a, b), ((2, 4), (2, 3), (3, 4))),
    Case("addmv", lambda T, c, a, b: T.addmv(c, a, b, beta=2), ((2,), (2, 3), (3,))),
    Case("addr", lambda T, c, a, b: T.addr(c, a, b, alpha=3), ((2, 3), (2,), (3,)), grad_fn=False),
    Case("baddbmm", lambda T, c, a, b: T.baddbmm(c, a, b), ((3,), (2, 2, 4), (2, 4, 3))),
    Case(
        "addbmm",
        lambda T, c, a, b: T.addbmm(c, a, b, beta=2, alpha=0.5),
        ((2, 3), (5, 2, 4), (5, 4, 3)),
    ),
    Case("vdot", lambda T, a, b: T.vdot(a, b), ((4,), (4,))),
    Case("ger", lambda T, a, b: T.ger(a, b), ((2,), (3,))),
    Case("kron", lambda T, a, b: T.kron(a, b), ((2, 3), (4,)), grad_fn=False),
    Case("kron-3d", lambda T, a, b: a.kron(b), ((2, 1, 3), (2, 2)), grad_fn=False),
    Case("matrix_power-0", lambda T, a: T.matrix_power(a, 0), ((3, 3),)),
    Case("matrix_power-1", lambda T, a: a.matrix_power(1), ((3, 3),)),
    Case("matrix_power-5", lambda T, a: T.matrix_power(a, 5), ((2, 3, 3),)),
    Case("matrix_power-6", lambda T, a: T.matrix_power(a, 6), ((3, 3),), grad_fn=False),
    Case("cross-default-dim", lambda T, a, b: T.cross(a, b), ((3, 2), (3, 2))),
    Case("cross-dim", lambda T, a, b: T.cross(a, b, dim=0), ((3, 2), (3, 1))),
    Case("cross-broadcast", lambda T, a, b: a.cross(b, dim=-1), ((4, 3), (1, 3))),
    Case("linalg.cross", lambda T, a, b: T.linalg.cross(a, b), ((2, 3), (2, 3))),
    Case("cdist", lambda T, a, b: T.cdist(a, b), ((3, 2), (4, 2))),
    Case("cdist-mm", lambda T, a, b: T.cdist(a, b), ((30, 2), (4, 2))),
    Case(
        "cdist-mm-forced",
        lambda T, a, b: T.cdist(a, b, compute_mode="use_mm_for_euclid_dist"),
        ((3, 2), (4, 2)),
    ),
    Case("cdist-p1-batched", lambda T, a, b: T.cdist(a, b, p=1), ((2, 3, 2), (2, 4, 2))),
    Case("cdist-p3", lambda T, a, b: T.cdist(a, b, p=3), ((3, 2), (4, 2))),
    Case("cdist-pinf", lambda T, a, b: T.cdist(a, b, p=float("inf")), ((3, 2), (4, 2))),
    Case("cdist-p0", lambda T, a, b: T.cdist(a, b, p=0), ((3, 2), (4, 2))),
    Case("vector_norm", lambda T, a: T.linalg.vector_norm(a), ((3, 4),)),
    Case("vector_norm-inf-dim", lambda T, a: T.linalg.vector_norm(a, float("inf"), 1), ((3, 4),)),
    Case("vector_norm--inf", lambda T, a: T.linalg.vector_norm(a, -float("inf"), 0), ((3, 4),)),
    Case("vector_norm-3-keepdim", lambda T, a: T.linalg.vector_norm(a, 3, (0, 1), True), ((3, 4),)),
    Case("vector_norm-half", lambda T, a: T.linalg.vector_norm(a, 0.5, -1), ((3, 4),)),
    Case("vector_norm-negative", lambda T, a: T.linalg.vector_norm(a, -1.5, 0), ((3, 4),)),
    Case("matrix_norm-fro", lambda T, a: T.linalg.matrix_norm(a), ((2, 3, 4),)),
    Case("matrix_norm-1", lambda T, a: T.linalg.matrix_norm(a, 1), ((2, 3, 4),)),
    Case("matrix_norm--1", lambda T, a: T.linalg.matrix_norm(a, -1), ((3, 4),)),
    Case("matrix_norm-inf", lambda T, a: T.linalg.matrix_norm(a, float("inf")), ((3, 4),)),
    Case(
        "matrix_norm--inf-dims-keepdim",
        lambda T, a: T.linalg.matrix_norm(a, -float("inf"), dim=(2, 0), keepdim=True),
        ((2, 3, 4),),
    ),
    Case("linalg.norm", lambda T, a: T.linalg.norm(a), ((2, 3, 4),)),
    Case("linalg.norm-matrix-1", lambda T, a: T.linalg.norm(a, 1), ((3, 4),)),
    Case("linalg.norm-vector-3", lambda T, a: T.linalg.norm(a, 3), ((4,),)),
    Case("linalg.norm-dims", lambda T, a: T.linalg.norm(a, float("inf"), (0, 2)), ((2, 3, 4),)),
    Case("linalg.norm-fro-str", lambda T, a: T.linalg.norm(a, "fro"), ((3, 4),)),
    Case(
        "multi_dot",
        lambda T, a, b, c, d: T.linalg.multi_dot([a, b, c, d]),
        ((3, 40), (40, 5), (5, 20), (20,)),
        grad_fn=False,
    ),
    Case("multi_dot-vectors", lambda T, a, b: T.linalg.multi_dot([a, b]), ((3,), (3, 4)), False),
    Case("vecdot", lambda T, a, b: T.linalg.vecdot(a, b), ((3, 4), (4,))),
    Case("vecdot-dim", lambda T, a, b: T.linalg.vecdot(a, b, dim=0), ((3, 4), (3, 1))),
    Case("linalg.matmul", lambda T, a, b: T.linalg.matmul(a, b), ((3, 4), (4,))),
    Case("linalg.matrix_power", lambda T, a: T.linalg.matrix_power(a, 3), ((3, 3),)),
    *[  # the LAPACK functions (LINALG): values and gradients of gauge-invariant outputs
        Case(name, fn, shapes, bool(grad_fn), tuple(prep), rtol=1e-10)
        for name, fn, shapes, grad_fn, prep in [
            ("det", lambda T, a: T.det(a), ((3, 3),), True, ("w",)),
            ("linalg.det-batched", lambda T, a: T.linalg.det(a), ((2, 3, 3),), True, ("w",)),
            ("linalg.det-method", lambda T, a: a.det(), ((4, 4),), True, ("n",)),
            ("slogdet", lambda T, a: T.slogdet(a).logabsdet, ((2, 3, 3),), True, ("w",)),
            ("linalg.slogdet-sign", lambda T, a: T.linalg.slogdet(a)[0], ((3, 3),), True, ()),
            ("logdet", lambda T, a: T.logdet(a), ((2, 3, 3),), True, ("s",)),
            ("logdet-method", lambda T, a: a.logdet(), ((3, 3),), True, ("s",)),
            ("inverse", lambda T, a: T.inverse(a), ((3, 3),), True, ("w",)),
            ("linalg.inv-batched", lambda T, a: T.linalg.inv(a), ((2, 2, 3, 3),), True, ("w",)),
            ("linalg.inv_ex", lambda T, a: T.linalg.inv_ex(a).inverse, ((3, 3),), True, ("w",)),
            ("inverse-method", lambda T, a: a.inverse(), ((1, 1),), True, ("w",)),
            ("linalg.solve", lambda T, a, b: T.linalg.solve(a, b), ((3, 3), (3, 2)), True, "wn"),
            ("linalg.solve-vector", lambda T, a, b: T.linalg.solve(a, b), ((3, 3), (3,)), 1, "wn"),
            (
                "linalg.solve-batched-vector",
                lambda T, a, b: T.linalg.solve(a, b),
                ((2, 3, 3), (2, 3)),
                True,
                "wn",
            ),
            (
                "linalg.solve-broadcast",
                lambda T, a, b: T.linalg.solve(a, b),
                ((2, 1, 3, 3), (4, 3, 2)),
                True,
                "wn",
            ),
            (
                "linalg.solve-right",
                lambda T, a, b: T.linalg.solve(a, b, left=False),
                ((3, 3), (2, 3)),
                True,
                "wn",
            ),
            (
                "linalg.solve_ex",
                lambda T, a, b: T.linalg.solve_ex(a, b).result,
                ((3, 3), (3, 4)),
                True,
                "wn",
            ),
            ("cholesky", lambda T, a: _quiet(T.cholesky, a + a.mT), ((3, 3),), True, ("s",)),
            ("linalg.cholesky", lambda T, a: T.linalg.cholesky(a + a.mT), ((2, 4, 4),), 1, "s"),
            (
                "linalg.cholesky-upper",
                lambda T, a: T.linalg.cholesky(a + a.mT, upper=True),
                ((3, 3),),
                True,
                ("s",),
            ),
            (
                "linalg.cholesky_ex",
                lambda T, a: T.linalg.cholesky_ex(a + a.mT).L,
                ((3, 3),),
                True,
                ("s",),
            ),
            ("linalg.eigh-values", lambda T, a: T.linalg.eigh(a + a.mT)[0], ((2, 4, 4),), 1, ()),
            (
                "linalg.eigh-vectors",
                lambda T, a: T.linalg.eigh(a + a.mT).eigenvectors ** 2,
                ((2, 3, 3),),
                False,
                (),
            ),
            (
                "linalg.eigh-upper",
                lambda T, a: T.linalg.eigh(a + a.mT, UPLO="U")[1] ** 2,
                ((3, 3),),
                False,
                (),
            ),
            ("linalg.eigvalsh", lambda T, a: T.linalg.eigvalsh(a + a.mT), ((3, 3),), True, ()),
            ("linalg.svd-S", lambda T, a: T.linalg.svd(a)[1], ((2, 3, 3),), True, ()),
            ("linalg.svd-U", lambda T, a: T.linalg.svd(a).U ** 2, ((3, 3),), False, ()),
            ("linalg.svd-Vh-wide", lambda T, a: T.linalg.svd(a, False)[2] ** 2, ((3, 5),), 0, ()),
            ("linalg.svd-U-tall", lambda T, a: T.linalg.svd(a, False)[0] ** 2, ((5, 3),), 0, ()),
            (
                "linalg.svd-full-tall",
                lambda T, a: T.linalg.svd(a).U[..., :3] ** 2,
                ((2, 5, 3),),
                False,
                (),
            ),
            ("linalg.svdvals", lambda T, a: T.linalg.svdvals(a), ((4, 2),), True, ()),
            ("svd", lambda T, a: T.svd(a).V ** 2, ((4, 3),), False, ()),
            ("svd-some-S", lambda T, a: T.svd(a, some=False)[1], ((3, 4),), True, ()),
            ("linalg.qr-Q", lambda T, a: _signed(T, *T.linalg.qr(a))[0], ((4, 3),), False, ()),
            ("linalg.qr-R", lambda T, a: _signed(T, *T.linalg.qr(a))[1], ((2, 3, 3),), 0, ()),
            (
                "linalg.qr-wide",
                lambda T, a: _product(T, *_signed(T, *T.linalg.qr(a, "complete"))),
                ((3, 5),),
                False,
                (),
            ),
            ("qr", lambda T, a: _signed(T, *T.qr(a))[1], ((4, 3),), False, ()),
            ("linalg.pinv", lambda T, a: T.linalg.pinv(a), ((4, 3),), True, ()),
            ("linalg.pinv-wide", lambda T, a: T.linalg.pinv(a), ((2, 2, 4),), True, ()),
            (
                "linalg.pinv-hermitian",
                lambda T, a: T.linalg.pinv(a + a.mT, hermitian=True),
                ((3, 3),),
                True,
                ("s",),
            ),
            ("pinverse", lambda T, a: T.pinverse(a), ((3, 3),), True, ()),
            ("pinverse-method", lambda T, a: a.pinverse(), ((3, 4),), True, ()),
            (
                "linalg.lstsq",
                lambda T, a, b: T.linalg.lstsq(a, b).solution,
                ((5, 3), (5, 2)),
                True,
                (),
            ),
            (
                "linalg.lstsq-vector",
                lambda T, a, b: T.linalg.lstsq(a, b).solution,
                ((2, 4, 3), (2, 4)),
                True,
                (),
            ),
            (
                "linalg.matrix_norm-nuc",
                lambda T, a: T.linalg.matrix_norm(a, "nuc"),
                ((2, 3, 4),),
                1,
                (),
            ),
            ("linalg.matrix_norm-2", lambda T, a: T.linalg.matrix_norm(a, 2), ((4, 3),), True, ()),
            (
                "linalg.matrix_norm--2-keepdim",
                lambda T, a: T.linalg.matrix_norm(a, -2, dim=(0, 2), keepdim=True),
                ((3, 2, 4),),
                False,
                (),
            ),
            ("linalg.norm-nuc", lambda T, a: T.linalg.norm(a, "nuc"), ((3, 4),), True, ()),
            ("linalg.cond", lambda T, a: T.linalg.cond(a), ((3, 3),), False, ()),
            ("matrix_power--1", lambda T, a: T.matrix_power(a, -1), ((3, 3),), True, ("w",)),
            (
                "linalg.matrix_power--3",
                lambda T, a: T.linalg.matrix_power(a, -3),
                ((2, 3, 3),),
                1,
                "w",
            ),
            (
                "linalg.solve_triangular",
                lambda T, a, b: T.linalg.solve_triangular(a, b, upper=True),
                ((2, 3, 3), (3, 2)),
                True,
                "wn",
            ),
            (
                "linalg.solve_triangular-unit-right",
                lambda T, a, b: T.linalg.solve_triangular(
                    a, b, upper=False, left=False, unitriangular=True
                ),
                ((3, 3), (2, 3)),
                True,
                "nn",
            ),
            (
                "cholesky_solve",
                lambda T, b, a: T.cholesky_solve(b, a.tril()),
                ((3, 2), (3, 3)),
                True,
                "nw",
            ),
            (
                "cholesky_solve-upper",
                lambda T, b, a: b.cholesky_solve(a.triu(), True),
                ((2, 3, 1), (3, 3)),
                True,
                "nw",
            ),
            (
                "cholesky_inverse",
                lambda T, a: T.cholesky_inverse(a.tril()),
                ((3, 3),),
                True,
                ("w",),
            ),
            (
                "cholesky_inverse-upper",
                lambda T, a: a.triu().cholesky_inverse(True),
                ((2, 2, 2),),
                1,
                "w",
            ),
            (
                "linalg.tensorinv",
                lambda T, a: T.linalg.tensorinv(a, ind=1),
                ((4, 2, 2),),
                False,
                (),
            ),
            (
                "linalg.tensorsolve",
                lambda T, a, b: T.linalg.tensorsolve(a, b),
                ((2, 3, 6), (2, 3)),
                0,
                (),
            ),
            ("linalg.vander", lambda T, x: T.linalg.vander(x, N=4), ((2, 3),), True, ()),
            ("matrix_exp", lambda T, a: T.matrix_exp(a), ((3, 3),), True, ()),
            (
                "linalg.matrix_exp-batched",
                lambda T, a: T.linalg.matrix_exp(3 * a),
                ((2, 4, 4),),
                1,
                (),
            ),
            ("matrix_exp-method", lambda T, a: a.matrix_exp(), ((1, 1),), True, ()),
            ("linalg.lu_factor", lambda T, a: T.linalg.lu_factor(a).LU, ((2, 3, 3),), True, ()),
            ("linalg.lu_factor_ex", lambda T, a: T.linalg.lu_factor_ex(a)[0], ((4, 4),), True, ()),
            ("linalg.lu-L", lambda T, a: T.linalg.lu(a).L, ((3, 3),), True, ()),
            ("lu", lambda T, a: T.lu(a)[0], ((2, 3, 3),), True, ()),
            ("lu_unpack", lambda T, a: T.lu_unpack(*T.linalg.lu_factor(a)).L, ((3, 3),), True, ()),
            ("lu_unpack-U", lambda T, a: T.lu_unpack(*T.linalg.lu_factor(a))[2], ((3, 3),), 1, ()),
            (
                "lu_solve",
                lambda T, b, a: T.lu_solve(b, *T.linalg.lu_factor(a)),
                ((3, 2), (3, 3)),
                1,
                "nw",
            ),
            (
                "lu_solve-method",
                lambda T, b, a: b.lu_solve(*a.lu()),
                ((2, 3, 1), (2, 3, 3)),
                1,
                "nw",
            ),
            (
                "triangular_solve",
                lambda T, b, a: T.triangular_solve(b, a)[0],
                ((3, 2), (3, 3)),
                1,
                "nw",
            ),
            (
                "triangular_solve-transpose-unit",
                lambda T, b, a: b.triangular_solve(a, False, True, True).solution,
                ((2, 3, 2), (3, 3)),
                True,
                "nn",
            ),
            (
                "triangular_solve-copy",
                lambda T, b, a: T.triangular_solve(b, a)[1],
                ((3, 1), (3, 3)),
                1,
                "nw",
            ),
            ("linalg.lu-U", lambda T, a: T.linalg.lu(a)[2], ((2, 3, 3),), True, ()),
            (
                "linalg.lu_solve",
                lambda T, a, b: T.linalg.lu_solve(*T.linalg.lu_factor(a), b),
                ((2, 3, 3), (2, 3, 2)),
                True,
                "wn",
            ),
            (
                "linalg.lu_solve-adjoint-right",
                lambda T, a, b: T.linalg.lu_solve(
                    *T.linalg.lu_factor(a), b, left=False, adjoint=True
                ),
                ((3, 3), (2, 3)),
                True,
                "wn",
            ),
            (
                "linalg.diagonal",
                lambda T, a: T.linalg.diagonal(a, offset=-1),
                ((2, 3, 4),),
                True,
                (),
            ),
        ]
    ],
]


def _quiet(fn: Callable[..., Any], *args: Any) -> Any:
    """torch.cholesky warns that it is deprecated (both libraries do)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def _signed(T: Any, q: Any, r: Any) -> tuple[Any, Any]:
    """Q and R with R's diagonal made positive: Householder QR fixes them up to those signs."""
    k = min(r.shape[-2], r.shape[-1])
    sign = r[..., :k, :k].diagonal(dim1=-2, dim2=-1).sign()
    return q[..., :, :k] * sign.unsqueeze(-2), r * sign.unsqueeze(-1)


def _product(T: Any, q: Any, r: Any) -> Any:
    return T.cat([q, r], -1)
