"""einsum, tensordot, the addmm family, kron, vdot, matrix_power, cross, cdist and linalg's
norms, multi_dot and vecdot against PyTorch: values, dtypes, shapes, grad_fn names and
gradients, eager and compiled, finite differences, and PyTorch's errors."""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from linalg_op_cases import CASES, Case, prep_input

import adjit
from adjit.testing import assert_grads_match

torch = pytest.importorskip("torch")


def _inputs(case: Case) -> list[np.ndarray]:
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))  # (hash() varies by process)
    arrays = [rng.standard_normal(s) for s in case.shapes]
    return [prep_input(k, a) for k, a in zip(case.prep or "n" * len(arrays), arrays, strict=True)]


def _run(T: Any, case: Case, arrays: list[np.ndarray]) -> tuple[list[Any], Any]:
    xs = [T.tensor(a, requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.cross without dim is deprecated
        return xs, case.fn(T, *xs)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_eager_matches_torch(case: Case) -> None:
    arrays = _inputs(case)
    axs, got = _run(adjit, case, arrays)
    txs, want = _run(torch, case, arrays)
    assert tuple(got.shape) == tuple(want.shape) and str(got.dtype) == str(want.dtype)
    tol = case.rtol
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=tol, atol=tol)
    if case.grad_fn:
        assert type(got.grad_fn).__name__ == type(want.grad_fn).__name__
    ct = np.random.default_rng(1).standard_normal(tuple(want.shape))
    tg = torch.autograd.grad(want, txs, torch.tensor(ct), allow_unused=True)
    ag = adjit.autograd.grad(got, axs, adjit.tensor(ct), allow_unused=True)
    for a, t, x in zip(ag, tg, arrays, strict=True):
        a = np.zeros_like(x) if a is None else a.numpy()
        t = np.zeros_like(x) if t is None else t.numpy()
        np.testing.assert_allclose(a, t, rtol=1e-10, atol=100 * tol)


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_compiled_matches_eager(case: Case, backend: str) -> None:
    xs = [adjit.tensor(a) for a in _inputs(case)]
    want = case.fn(adjit, *xs)
    got = adjit.compile(lambda *v: case.fn(adjit, *v), backend=backend)(*xs)
    assert tuple(got.shape) == tuple(want.shape) and got.dtype is want.dtype
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
    ct = adjit.tensor(np.random.default_rng(1).standard_normal(tuple(want.shape)))

    def loss(*v: Any) -> Any:
        return (case.fn(adjit, *v) * ct).sum()

    argnums = tuple(range(len(xs)))
    compiled = adjit.grad(loss, argnums=argnums, backend=backend)(*xs)
    leaves = [x.detach().requires_grad_() for x in xs]
    eager = adjit.autograd.grad(loss(*leaves), leaves, allow_unused=True)
    for c, e in zip(compiled, eager, strict=True):
        e_np = np.zeros(c.shape) if e is None else e.numpy()
        np.testing.assert_allclose(c.numpy(), e_np, rtol=1e-10, atol=1e-12)


FD = [c for c in CASES if "p0" not in c.name and "empty" not in c.name]


@pytest.mark.parametrize("case", FD, ids=lambda c: c.name)
def test_gradients_against_finite_differences(case: Case) -> None:
    xs = [adjit.tensor(a) for a in _inputs(case)]
    assert_grads_match(lambda *v: case.fn(adjit, *v), *xs)


def test_cdist_gradient_is_zero_at_zero_distance() -> None:
    """PyTorch's cdist backward masks a zero distance to a zero gradient, on both paths."""
    for rows in (3, 30):  # the direct path, and the matmul one PyTorch takes above 25 rows
        x = np.random.default_rng(rows).standard_normal((rows, 2))
        a, b = adjit.tensor(x, requires_grad=True), adjit.tensor(x.copy(), requires_grad=True)
        ta, tb = torch.tensor(x, requires_grad=True), torch.tensor(x.copy(), requires_grad=True)
        adjit.cdist(a, b).sum().backward()
        torch.cdist(ta, tb).sum().backward()
        assert np.isfinite(a.grad.numpy()).all()
        # the matmul path's diagonal is sqrt of a rounding residue: a few 1e-8 in value
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-6, atol=1e-6)
        g = adjit.grad(lambda u, v: adjit.cdist(u, v).sum(), argnums=(0, 1))(
            adjit.tensor(x), adjit.tensor(x.copy())
        )
        np.testing.assert_allclose(g[0].numpy(), ta.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_beta_zero_ignores_nan_input() -> None:
    for T in (adjit, torch):
        c = T.full((2, 2), float("nan"))
        c.requires_grad_()
        out = T.addmm(c, T.ones(2, 3), T.ones(3, 2), beta=0)
        assert out.tolist() == [[3.0, 3.0], [3.0, 3.0]]
        out.sum().backward()
        assert c.grad.tolist() == [[0.0, 0.0], [0.0, 0.0]]


DTYPES: list[tuple[str, Callable[[Any], Any]]] = [
    ("einsum int32 diagonal", lambda T: T.einsum("ii->i", T.ones(3, 3, dtype=T.int32))),
    ("einsum int32 sum", lambda T: T.einsum("ij->", T.ones(3, 3, dtype=T.int32))),
    (
        "einsum int64 mm",
        lambda T: T.einsum("ij,jk", T.ones(2, 3, dtype=T.int64), T.ones(3, 2, dtype=T.int64)),
    ),
    ("einsum float32", lambda T: T.einsum("ij,j", T.ones(2, 3), T.ones(3))),
    (
        "addmm int64",
        lambda T: T.addmm(
            T.ones(2, dtype=T.int64),
            T.ones(2, 3, dtype=T.int64),
            T.ones(3, 2, dtype=T.int64),
            alpha=2,
        ),
    ),
    (
        "addmm int64 float scalars",  # PyTorch truncates beta and alpha to the integer type
        lambda T: T.addmm(
            T.ones(2, dtype=T.int64),
            T.ones(2, 3, dtype=T.int64),
            T.ones(3, 2, dtype=T.int64),
            beta=1.5,
            alpha=2.7,
        ),
    ),
    ("kron int float", lambda T: T.kron(T.ones(2, dtype=T.int32), T.ones(2))),
    ("cross int", lambda T: T.cross(T.ones(3, dtype=T.int64), T.ones(3, dtype=T.int64), dim=0)),
    ("matrix_power int", lambda T: T.matrix_power(T.ones(2, 2, dtype=T.int32), 3)),
    ("cdist float32", lambda T: T.cdist(T.ones(2, 3), T.zeros(4, 3))),
    ("tensordot float32", lambda T: T.tensordot(T.ones(2, 3), T.ones(3, 2), 1)),
]


@pytest.mark.parametrize("fn", [f for _, f in DTYPES], ids=[n for n, _ in DTYPES])
def test_dtypes_match_torch(fn: Callable[[Any], Any]) -> None:
    got, want = fn(adjit), fn(torch)
    assert str(got.dtype) == str(want.dtype) and tuple(got.shape) == tuple(want.shape)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def _f(T: Any, *shape: int) -> Any:
    return T.ones(shape, dtype=T.float64)


# the failing program; adjit raises PyTorch's exception type with PyTorch's text
BAD: dict[str, Callable[[Any], Any]] = {
    "einsum fewer": lambda T: T.einsum("ij,jk->ik", _f(T, 2, 3)),
    "einsum more": lambda T: T.einsum("ij", _f(T, 2, 3), _f(T, 3)),
    "einsum bad letter": lambda T: T.einsum("i1,jk", _f(T, 2, 3), _f(T, 3, 4)),
    "einsum bad letter rhs": lambda T: T.einsum("ij->i-", _f(T, 2, 3)),
    "einsum output missing": lambda T: T.einsum("ij->ik", _f(T, 2, 3)),
    "einsum output twice": lambda T: T.einsum("ij->ii", _f(T, 2, 3)),
    "einsum too many subscripts": lambda T: T.einsum("ijk->i", _f(T, 2, 3)),
    "einsum too few subscripts": lambda T: T.einsum("i->i", _f(T, 2, 3)),
    "einsum more than ellipsis": lambda T: T.einsum("...ijk->i", _f(T, 2, 3)),
    "einsum size mismatch": lambda T: T.einsum("ij,jk->ik", _f(T, 2, 3), _f(T, 2, 3)),
    "einsum repeated sizes": lambda T: T.einsum("ii->i", _f(T, 3, 2)),
    "einsum two ellipses": lambda T: T.einsum("...i...->", _f(T, 2, 3)),
    "einsum stray dot": lambda T: T.einsum("ij->j.", _f(T, 2, 3)),
    "einsum dtypes": lambda T: T.einsum("i,i", T.ones(3, dtype=T.int32), T.ones(3)),
    "tensordot negative": lambda T: T.tensordot(_f(T, 2, 3), _f(T, 3, 2), -1),
    "tensordot too many": lambda T: T.tensordot(_f(T, 2, 3), _f(T, 3, 2), 3),
    "tensordot sizes": lambda T: T.tensordot(_f(T, 2, 3), _f(T, 4, 4), 1),
    "tensordot dtypes": lambda T: T.tensordot(T.ones(2, 3), _f(T, 3, 2), 1),
    "addmm shapes": lambda T: T.addmm(_f(T, 4), _f(T, 2, 3), _f(T, 4, 3)),
    "addmm vector": lambda T: T.addmm(_f(T, 4), _f(T, 3), _f(T, 3, 4)),
    "addmm input": lambda T: T.addmm(_f(T, 5), _f(T, 2, 3), _f(T, 3, 4)),
    "addmm dtypes": lambda T: T.addmm(T.ones(4), _f(T, 2, 3), _f(T, 3, 4)),
    "addmv sizes": lambda T: T.addmv(_f(T, 2), _f(T, 2, 3), _f(T, 4)),
    "addr 2d": lambda T: T.addr(_f(T, 2, 3), _f(T, 2, 1), _f(T, 3)),
    "vdot 2d": lambda T: T.vdot(_f(T, 3, 1), _f(T, 3)),
    "vdot sizes": lambda T: T.vdot(_f(T, 3), _f(T, 4)),
    "vdot dtypes": lambda T: T.vdot(T.ones(3), _f(T, 3)),
    "matrix_power not square": lambda T: T.matrix_power(_f(T, 2, 3), 2),
    "matrix_power vector": lambda T: T.matrix_power(_f(T, 3), 2),
    "cross no 3": lambda T: T.cross(_f(T, 2, 2), _f(T, 2, 2)),
    "cross length": lambda T: T.cross(_f(T, 3, 2), _f(T, 3, 2), dim=1),
    "cross broadcast length": lambda T: T.cross(_f(T, 3, 3), _f(T, 1, 3), dim=0),
    "linalg.cross length": lambda T: T.linalg.cross(_f(T, 3, 2), _f(T, 3, 2)),
    "cross dtypes": lambda T: T.cross(T.ones(3), _f(T, 3), dim=0),
    "cdist columns": lambda T: T.cdist(_f(T, 3, 2), _f(T, 4, 3)),
    "cdist dtypes": lambda T: T.cdist(T.ones(3, 2), _f(T, 4, 2)),
    "cdist negative p": lambda T: T.cdist(_f(T, 3, 2), _f(T, 4, 2), p=-1),
    "cdist 1d": lambda T: T.cdist(_f(T, 3), _f(T, 4, 2)),
    "cdist int": lambda T: T.cdist(T.ones(3, 2, dtype=T.int32), T.ones(4, 2, dtype=T.int32)),
    "einsum ellipsis": lambda T: T.einsum("...i,...i", _f(T, 2, 3), _f(T, 3, 3)),
    "mv sizes": lambda T: T.mv(_f(T, 2, 3), _f(T, 4)),
    "mv matrix": lambda T: T.mv(_f(T, 2, 3), _f(T, 4, 3)),
    "dot sizes": lambda T: T.dot(_f(T, 3), _f(T, 4)),
    "dot dtypes": lambda T: T.dot(T.ones(3), _f(T, 3)),
    "vector_norm int": lambda T: T.linalg.vector_norm(T.ones(3, dtype=T.int64)),
    "vector_norm str": lambda T: T.linalg.vector_norm(_f(T, 3), "fro"),
    "vector_norm empty inf": lambda T: T.linalg.vector_norm(_f(T, 0), float("inf")),
    "vector_norm empty dim": lambda T: T.linalg.vector_norm(_f(T, 0, 3), -1, dim=0),
    "vector_norm dim": lambda T: T.linalg.vector_norm(_f(T, 3, 4), 2, dim=5),
    "vector_norm int dtype": lambda T: T.linalg.vector_norm(_f(T, 3), dtype=T.int64),
    "vector_norm narrowing": lambda T: T.linalg.vector_norm(_f(T, 3), dtype=T.float32),
    "matrix_norm order": lambda T: T.linalg.matrix_norm(_f(T, 3, 4), 3),
    "matrix_norm order str": lambda T: T.linalg.matrix_norm(_f(T, 3, 4), "abc"),
    "matrix_norm 1d": lambda T: T.linalg.matrix_norm(_f(T, 3)),
    "matrix_norm same dims": lambda T: T.linalg.matrix_norm(_f(T, 3, 4), dim=(0, 0)),
    "matrix_norm one dim": lambda T: T.linalg.matrix_norm(_f(T, 3, 4), dim=(0,)),
    "matrix_norm int": lambda T: T.linalg.matrix_norm(T.ones(3, 4, dtype=T.int64)),
    "norm 3d with ord": lambda T: T.linalg.norm(_f(T, 2, 3, 2), 3),
    "norm fro one dim": lambda T: T.linalg.norm(_f(T, 2, 3, 2), "fro", dim=1),
    "norm three dims": lambda T: T.linalg.norm(_f(T, 2, 3, 2), None, dim=(0, 1, 2)),
    "norm fro vector": lambda T: T.linalg.norm(_f(T, 3), "fro"),
    "multi_dot one": lambda T: T.linalg.multi_dot([_f(T, 3)]),
    "multi_dot shapes": lambda T: T.linalg.multi_dot([_f(T, 3, 4), _f(T, 5, 2)]),
    "multi_dot last 3d": lambda T: T.linalg.multi_dot([_f(T, 3, 4), _f(T, 4, 2, 2)]),
    "multi_dot middle 1d": lambda T: T.linalg.multi_dot([_f(T, 3, 4), _f(T, 4), _f(T, 4)]),
    "multi_dot dtypes": lambda T: T.linalg.multi_dot([T.ones(2, 2, dtype=T.int64), T.ones(2, 2)]),
    "vecdot dtypes": lambda T: T.linalg.vecdot(_f(T, 3), T.ones(3)),
    "det 1d": lambda T: T.linalg.det(_f(T, 3)),
    "det not square": lambda T: T.det(_f(T, 2, 3)),
    "det int": lambda T: T.linalg.det(T.ones(3, 3, dtype=T.int64)),
    "slogdet not square": lambda T: T.linalg.slogdet(_f(T, 2, 3)),
    "logdet not square": lambda T: T.logdet(_f(T, 2, 3)),
    "logdet int": lambda T: T.logdet(T.ones(3, 3, dtype=T.int64)),
    "inv not square": lambda T: T.linalg.inv(_f(T, 2, 3)),
    "inv 1d": lambda T: T.linalg.inv(_f(T, 3)),
    "inv_ex 1d": lambda T: T.linalg.inv_ex(_f(T, 3)),
    "inv int": lambda T: T.inverse(T.ones(3, 3, dtype=T.int64)),
    "solve shapes": lambda T: T.linalg.solve(_f(T, 3, 3), _f(T, 4)),
    "solve shapes matrix": lambda T: T.linalg.solve(_f(T, 3, 3), _f(T, 2, 4)),
    "solve right shapes": lambda T: T.linalg.solve(_f(T, 3, 3), _f(T, 3, 2), left=False),
    "solve dtypes": lambda T: T.linalg.solve(_f(T, 3, 3), T.ones(3)),
    "solve int B": lambda T: T.linalg.solve(_f(T, 3, 3), T.ones(3, dtype=T.int64)),
    "solve_ex not square": lambda T: T.linalg.solve_ex(_f(T, 2, 3), _f(T, 2)),
    "solve 0d B": lambda T: T.linalg.solve(_f(T, 3, 3), _f(T)),
    "solve_ex 0d B right": lambda T: T.linalg.solve_ex(_f(T, 3, 3), _f(T), left=False),
    "solve right vector": lambda T: T.linalg.solve(_f(T, 3, 3), _f(T, 3), left=False),
    "solve right vector 1x1": lambda T: T.linalg.solve(_f(T, 1, 1), _f(T, 1), left=False),
    "cholesky not square": lambda T: T.linalg.cholesky(_f(T, 2, 3)),
    "cholesky_ex 1d": lambda T: T.linalg.cholesky_ex(_f(T, 3)),
    "eigh not square": lambda T: T.linalg.eigh(_f(T, 2, 3)),
    "eigh UPLO": lambda T: T.linalg.eigh(_f(T, 3, 3), UPLO="X"),
    "eigvalsh 1d": lambda T: T.linalg.eigvalsh(_f(T, 3)),
    "svd 1d": lambda T: T.linalg.svd(_f(T, 3)),
    "svd int": lambda T: T.linalg.svd(T.ones(3, 3, dtype=T.int64)),
    "svd driver": lambda T: T.linalg.svd(_f(T, 3, 3), driver="gesvd"),
    "svdvals 1d": lambda T: T.linalg.svdvals(_f(T, 3)),
    "torch.svd 1d": lambda T: T.svd(_f(T, 3)),
    "qr 1d": lambda T: T.linalg.qr(_f(T, 3)),
    "qr mode": lambda T: T.linalg.qr(_f(T, 3, 3), mode="x"),
    "qr r backward": lambda T: T.linalg.qr(_f(T, 3, 3).requires_grad_(), "r")[1].sum().backward(),
    "qr complete backward": lambda T: (
        T.linalg.qr(_f(T, 4, 3).requires_grad_(), "complete")[0].sum().backward()
    ),
    "pinv 1d": lambda T: T.linalg.pinv(_f(T, 3)),
    "pinv int": lambda T: T.linalg.pinv(T.ones(3, 3, dtype=T.int64)),
    "lstsq sizes vector": lambda T: T.linalg.lstsq(_f(T, 3, 2), _f(T, 4)),
    "lstsq sizes": lambda T: T.linalg.lstsq(_f(T, 3, 2), _f(T, 4, 2)),
    "lstsq dtypes": lambda T: T.linalg.lstsq(_f(T, 3, 2), T.ones(3, 2)),
    "lstsq driver": lambda T: T.linalg.lstsq(_f(T, 3, 2), _f(T, 3, 2), driver="abc"),
    "matrix_rank 1d": lambda T: T.linalg.matrix_rank(_f(T, 3)),
    "matrix_rank int": lambda T: T.linalg.matrix_rank(T.ones(3, 3, dtype=T.int64)),
    "matrix_norm nuc 1d": lambda T: T.linalg.matrix_norm(_f(T, 3), "nuc"),
    "cond 1d": lambda T: T.linalg.cond(_f(T, 3)),
    "cond not square": lambda T: T.linalg.cond(_f(T, 2, 3), 1),
    "solve_triangular 1d B": lambda T: T.linalg.solve_triangular(_f(T, 3, 3), _f(T, 3), upper=True),
    "solve_triangular shapes": lambda T: T.linalg.solve_triangular(
        _f(T, 3, 3), _f(T, 4, 2), upper=True
    ),
    "solve_triangular right shapes": lambda T: T.linalg.solve_triangular(
        _f(T, 3, 3), _f(T, 3, 2), upper=True, left=False
    ),
    "solve_triangular no upper": lambda T: T.linalg.solve_triangular(_f(T, 3, 3), _f(T, 3, 2)),
    "cholesky_solve 1d": lambda T: T.cholesky_solve(_f(T, 3), _f(T, 3, 3)),
    "cholesky_solve dtypes": lambda T: T.cholesky_solve(_f(T, 3, 2), T.ones(3, 3)),
    "cholesky_inverse 1d": lambda T: T.cholesky_inverse(T.ones(3)),
    "tensorinv ind": lambda T: T.linalg.tensorinv(_f(T, 4, 6, 8, 3), ind=0),
    "tensorinv sizes": lambda T: T.linalg.tensorinv(_f(T, 4, 6, 8, 2), ind=2),
    "tensorsolve sizes": lambda T: T.linalg.tensorsolve(_f(T, 2, 3, 6), _f(T, 2, 4)),
    "vander N": lambda T: T.linalg.vander(_f(T, 2, 3), N=1),
    "vander 0d": lambda T: T.linalg.vander(T.tensor(2.0)),
    "matrix_exp not square": lambda T: T.linalg.matrix_exp(_f(T, 2, 3)),
    "matrix_exp 1d": lambda T: T.matrix_exp(_f(T, 3)),
    "matrix_exp int": lambda T: T.linalg.matrix_exp(T.ones(3, 3, dtype=T.int64)),
    "lu_factor 1d": lambda T: T.linalg.lu_factor(_f(T, 3)),
    "lu_factor int": lambda T: T.linalg.lu_factor(T.ones(3, 3, dtype=T.int64)),
    "lu_factor no pivot": lambda T: T.linalg.lu_factor(_f(T, 3, 3), pivot=False),
    "lu_factor singular": lambda T: T.linalg.lu_factor(_batch_with_singular(T)),
    "lu_factor zero": lambda T: T.linalg.lu_factor(T.zeros(2, 2)),
    "lu_solve 1d": lambda T: T.linalg.lu_solve(*T.linalg.lu_factor(T.eye(3)), T.ones(3)),
    "lu_solve shapes": lambda T: T.linalg.lu_solve(*T.linalg.lu_factor(T.eye(3)), T.ones(4, 2)),
    "lu_solve right": lambda T: T.linalg.lu_solve(
        *T.linalg.lu_factor(T.eye(3)), T.ones(3, 2), left=False
    ),
}


def _batch_with_singular(T: Any) -> Any:
    """Four 3x3 identities, the third (batch element 2) with a zero last pivot."""
    a = np.tile(np.eye(3), (2, 2, 1, 1))
    a[1, 0, 2, 2] = 0
    return T.tensor(a)


# singular and non-positive-definite matrices: PyTorch's LinAlgError (a RuntimeError), raised
# eagerly and by the compiled program's run-time check
SINGULAR: dict[str, Callable[[Any], Any]] = {
    "inv": lambda T: T.linalg.inv(T.zeros(3, 3, dtype=T.float64)),
    "inv batched": lambda T: T.linalg.inv(_batch_with_singular(T)),
    "inv last pivot": lambda T: T.linalg.inv(T.tensor([[1.0, 2.0], [2.0, 4.0]])),
    "inverse": lambda T: T.inverse(T.zeros(2, 2, dtype=T.float64)),
    "inv_ex check_errors": lambda T: T.linalg.inv_ex(T.zeros(2, 2), check_errors=True).inverse,
    "matrix_power": lambda T: T.linalg.matrix_power(T.zeros(3, 3, dtype=T.float64), -2),
    "solve_ex check_errors": lambda T: (
        T.linalg.solve_ex(T.zeros(2, 2), T.ones(2), check_errors=True).result
    ),
    "cholesky_ex check_errors": lambda T: T.linalg.cholesky_ex(-T.eye(2), check_errors=True).L,
    "solve": lambda T: T.linalg.solve(T.zeros(3, 3, dtype=T.float64), T.ones(3, dtype=T.float64)),
    "solve batched": lambda T: T.linalg.solve(_batch_with_singular(T), T.ones(3, dtype=T.float64)),
    "cholesky": lambda T: T.linalg.cholesky(-T.eye(3, dtype=T.float64)),
    "cholesky minor 2": lambda T: T.linalg.cholesky(T.diag(T.tensor([1.0, -1, 1]))),
    "cholesky batched": lambda T: T.linalg.cholesky(T.diag(T.tensor([1.0, 1, -1])).repeat(2, 1, 1)),
    "cholesky upper": lambda T: T.linalg.cholesky(T.tensor([[1.0, 2.0], [0.0, 1.0]]), upper=True),
    "torch.cholesky": lambda T: T.cholesky(-T.eye(2)),
    "cholesky nan": lambda T: T.linalg.cholesky(T.tensor([[1.0, np.nan], [np.nan, 1.0]])),
    "svd nan": lambda T: T.linalg.svd(T.tensor([[1.0, np.nan], [0.0, 1.0]])),
    "svd nan batched": lambda T: T.linalg.svd(
        T.tensor([[[1.0, 0], [0, 1]], [[1.0, np.nan], [0, 1]]])
    ),
    "svdvals nan": lambda T: T.linalg.svdvals(T.tensor([[1.0, np.nan], [0.0, 1.0]])),
    "pinv nan": lambda T: T.linalg.pinv(T.tensor([[1.0, np.nan], [0.0, 1.0]])),
    "matrix_rank nan": lambda T: T.linalg.matrix_rank(T.tensor([[1.0, np.nan], [0.0, 1.0]])),
    "nuclear norm nan": lambda T: T.linalg.matrix_norm(
        T.tensor([[1.0, np.nan], [0.0, 1.0]]), "nuc"
    ),
}


def _failure(fn: Callable[[], Any]) -> tuple[str, str, bool]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.cholesky is deprecated
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - the type is compared by name below
            return type(e).__name__, str(e), isinstance(e, RuntimeError)
    return "no error", "", False


@pytest.mark.parametrize("fn", list(SINGULAR.values()), ids=list(SINGULAR))
def test_singular_errors_match_torch(fn: Callable[[Any], Any]) -> None:
    want = _failure(lambda: fn(torch))
    assert want[0] == "_LinAlgError"
    assert _failure(lambda: fn(adjit)) == want
    assert adjit.linalg.LinAlgError.__name__ == "_LinAlgError"


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
def test_singular_errors_raised_by_compiled_programs(backend: str) -> None:
    def program(a: Any, b: Any) -> Any:
        return adjit.linalg.inv(a).sum() + adjit.linalg.solve(a, b).sum()

    compiled = adjit.compile(program, backend=backend)
    good = np.tile(np.eye(3) * 2, (2, 2, 1, 1))
    np.testing.assert_allclose(
        compiled(adjit.tensor(good), adjit.ones(3, dtype=adjit.float64)).item(), 12.0
    )
    want = _failure(lambda: torch.linalg.inv(_batch_with_singular(torch)))
    got = _failure(
        lambda: compiled(_batch_with_singular(adjit), adjit.ones(3, dtype=adjit.float64))
    )
    assert got == want
    chol = adjit.compile(lambda a: adjit.linalg.cholesky(a).sum(), backend=backend)
    a = np.tile(np.eye(3), (2, 1, 1))
    a[1, 1, 1] = -1
    want = _failure(lambda: torch.linalg.cholesky(torch.tensor(a)))
    assert _failure(lambda: chol(adjit.tensor(a))) == want


def test_singular_determinant_gradient_is_pytorchs() -> None:
    """det's first-order gradient at an exactly singular matrix is 0 in PyTorch (its perturbed
    LU solve scaled by det = 0), not the adjugate; slogdet's is NaN/inf there."""
    for m in (
        [[1.0, 2.0], [2.0, 4.0]],
        [[1.0, 2, 3], [4, 5, 6], [7, 8, 9]],
        np.zeros((3, 3)),
        [[0.0]],
    ):
        a, t = adjit.tensor(m, requires_grad=True), torch.tensor(m, requires_grad=True)
        adjit.linalg.det(a).backward()
        torch.linalg.det(t).backward()
        np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())
        g = adjit.grad(lambda v: adjit.linalg.det(v))(adjit.tensor(m))
        np.testing.assert_array_equal(g.numpy(), t.grad.numpy())


def test_repeated_values_have_pytorchs_finite_gradients() -> None:
    """eigvalsh / svdvals / matrix_norm of matrices with repeated eigen- or singular values:
    PyTorch's gradient (the eigenvectors' terms skipped) is finite, not 0/0."""
    cases = [
        (lambda T, a: T.linalg.eigvalsh(a).sum(), np.eye(3)),
        (lambda T, a: (T.linalg.eigh(a)[0] * T.arange(3.0, dtype=T.float64)).sum(), np.eye(3)),
        (lambda T, a: T.linalg.svdvals(a).sum(), np.diag([2.0, 2.0, 1.0])),
        (lambda T, a: T.linalg.matrix_norm(a, "nuc"), np.eye(2)),
        (lambda T, a: T.linalg.svd(a)[1].sum(), np.zeros((3, 2))),
    ]
    for fn, m in cases:
        a, t = adjit.tensor(m, requires_grad=True), torch.tensor(m, requires_grad=True)
        fn(adjit, a).backward()
        fn(torch, t).backward()
        assert np.isfinite(a.grad.numpy()).all()
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn", list(BAD.values()), ids=list(BAD))
def test_errors_match_torch(fn: Callable[[Any], Any]) -> None:
    with pytest.raises(Exception) as expected:  # noqa: PT011 - the type is PyTorch's
        fn(torch)
    with pytest.raises(type(expected.value)) as got:
        fn(adjit)
    assert str(got.value) == str(expected.value)


def test_norm_below_one_has_zero_gradient_at_zero() -> None:
    """|x|^p for p < 1 has an infinite slope at 0; PyTorch's norm_backward gives 0 there."""
    x = np.array([[0.0, 1.0, -2.0], [0.0, 0.0, 0.0]])
    for fn in (
        lambda T, v: T.linalg.vector_norm(v, 0.5),
        lambda T, v: T.norm(v, 0.3, 1),
        lambda T, v: T.linalg.vector_norm(v, 1),
    ):
        a, t = adjit.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        fn(adjit, a).sum().backward()
        fn(torch, t).sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=0)
        g = adjit.grad(lambda v, fn=fn: fn(adjit, v).sum())(adjit.tensor(x))
        np.testing.assert_allclose(g.numpy(), t.grad.numpy(), rtol=1e-12, atol=0)


def test_einsum_contracts_the_smallest_pair_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Greedy order: a with b first would build a 64x64 intermediate; b with c is 1x1."""
    from adjit.runtime import ops_einsum

    shapes = []

    def recording(x: Any, y: Any) -> Any:
        shapes.append((tuple(x.shape), tuple(y.shape)))
        return adjit.matmul(x, y)

    monkeypatch.setattr(ops_einsum, "matmul", recording)
    a, b, c = adjit.ones(64, 1), adjit.ones(1, 64), adjit.ones(64, 1)
    assert adjit.einsum("ij,jk,kl->il", a, b, c).tolist() == [[64.0]] * 64
    assert shapes == [((1, 64), (64, 1)), ((64, 1), (1, 1))]


def _arr(seed: int, *shape: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


_A33 = _arr(0, 3, 3) + 3 * np.eye(3)
_A233 = _arr(1, 2, 3, 3) + 3 * np.eye(3)
_SPD = _A33 @ _A33.T
_DIAG = np.diag([1.0, 1e-3, 1e-9])

# whole results (named tuples, int32 infos, int64 ranks, empty parts) in both float dtypes
RESULTS: dict[str, Callable[[Any, Any], Any]] = {
    "slogdet": lambda T, d: T.linalg.slogdet(T.tensor(_A233, dtype=d)),
    "torch.slogdet": lambda T, d: T.slogdet(T.tensor(_A33, dtype=d)),
    "inv_ex": lambda T, d: T.linalg.inv_ex(T.tensor(_A33, dtype=d)),
    "solve_ex": lambda T, d: T.linalg.solve_ex(T.tensor(_A233, dtype=d), T.tensor(_A33, dtype=d)),
    "cholesky_ex": lambda T, d: T.linalg.cholesky_ex(T.tensor(_SPD, dtype=d)),
    "eigvalsh upper": lambda T, d: T.linalg.eigvalsh(T.tensor(np.triu(_SPD), dtype=d), UPLO="U"),
    "svd shapes": lambda T, d: T.linalg.svd(T.tensor(_arr(2, 4, 3), dtype=d)).S,
    "svd no uv": lambda T, d: T.svd(T.tensor(_arr(3, 4, 3), dtype=d), compute_uv=False),
    "qr r": lambda T, d: T.linalg.qr(T.tensor(_arr(4, 4, 3), dtype=d), "r").Q,
    "matrix_rank": lambda T, d: T.linalg.matrix_rank(T.tensor(np.ones((2, 3, 4)), dtype=d)),
    "matrix_rank atol": lambda T, d: T.linalg.matrix_rank(T.tensor(_DIAG, dtype=d), atol=1e-4),
    "matrix_rank rtol": lambda T, d: T.linalg.matrix_rank(T.tensor(_DIAG, dtype=d), rtol=1e-2),
    "matrix_rank hermitian": lambda T, d: T.linalg.matrix_rank(
        T.tensor(_SPD, dtype=d), hermitian=True
    ),
    "lstsq": lambda T, d: T.linalg.lstsq(
        T.tensor(_arr(5, 4, 3), dtype=d), T.tensor(_arr(6, 4, 2), dtype=d)
    ),
    "lstsq batched vector": lambda T, d: T.linalg.lstsq(
        T.tensor(_arr(7, 2, 4, 3), dtype=d), T.tensor(_arr(8, 2, 4), dtype=d)
    ),
    "lstsq rank deficient": lambda T, d: T.linalg.lstsq(
        T.tensor(np.ones((4, 3)), dtype=d), T.tensor(np.arange(4.0), dtype=d)
    ),
    "pinv atol": lambda T, d: T.linalg.pinv(T.tensor(_DIAG, dtype=d), atol=1e-4),
    "pinv rcond": lambda T, d: T.linalg.pinv(T.tensor(_DIAG, dtype=d), 1e-2),
    "pinverse": lambda T, d: T.pinverse(T.tensor(np.diag([1.0, 1e-3, 0]), dtype=d)),
    "det empty": lambda T, d: T.linalg.det(T.zeros(0, 0, dtype=d)),
    "inv empty": lambda T, d: T.linalg.inv(T.zeros(0, 0, dtype=d)),
    "inv empty batch": lambda T, d: T.linalg.inv(T.zeros(0, 3, 3, dtype=d)),
    "slogdet empty": lambda T, d: T.linalg.slogdet(T.zeros(2, 0, 0, dtype=d)),
    "svd empty": lambda T, d: T.linalg.svd(T.zeros(3, 0, dtype=d)),
    "svdvals empty": lambda T, d: T.linalg.svdvals(T.zeros(2, 0, 3, dtype=d)),
    "eigh empty": lambda T, d: T.linalg.eigh(T.zeros(0, 0, dtype=d)),
    "qr empty": lambda T, d: T.linalg.qr(T.zeros(3, 0, dtype=d)),
    "pinv empty": lambda T, d: T.linalg.pinv(T.zeros(3, 0, dtype=d)),
    "norm nuc": lambda T, d: T.norm(T.tensor(_arr(9, 4, 3), dtype=d), p="nuc"),
    "norm nuc dim": lambda T, d: T.norm(T.tensor(_A233, dtype=d), p="nuc", dim=(1, 2)),
    "cond inf": lambda T, d: T.linalg.cond(T.tensor(_A33, dtype=d), float("inf")),
    "cond fro": lambda T, d: T.linalg.cond(T.tensor(_A33, dtype=d), "fro"),
    "cond singular": lambda T, d: T.linalg.cond(T.zeros(3, 3, dtype=d), 1),
    "cond -2": lambda T, d: T.linalg.cond(T.tensor(_arr(10, 4, 3), dtype=d), -2),
    "matrix_exp large": lambda T, d: T.linalg.matrix_exp(T.tensor(20 * _A233, dtype=d) / 20),
    "matrix_exp empty": lambda T, d: T.linalg.matrix_exp(T.zeros(2, 0, 0, dtype=d)),
    "lu tall": lambda T, d: T.linalg.lu(T.tensor(_arr(11, 2, 5, 3), dtype=d)),
    "lu wide": lambda T, d: T.linalg.lu(T.tensor(_arr(12, 3, 5), dtype=d)),
    "lu_factor wide": lambda T, d: T.linalg.lu_factor(T.tensor(_arr(13, 3, 5), dtype=d)),
    "lu_factor_ex singular": lambda T, d: T.linalg.lu_factor_ex(
        T.tensor(np.array([[1.0, 2.0], [2.0, 4.0]]), dtype=d)
    ),
}


def _parts(r: Any) -> list[Any]:
    return list(r) if isinstance(r, tuple) else [r]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("fn", list(RESULTS.values()), ids=list(RESULTS))
def test_results_match_torch(fn: Callable[[Any, Any], Any], dtype: str) -> None:
    # float32: cond(inputs) < 1e3 with LAPACK's backward-stable algorithms: ~1e3 * eps32
    tol = 1e-10 if dtype == "float64" else 2e-4
    got, want = fn(adjit, getattr(adjit, dtype)), fn(torch, getattr(torch, dtype))
    assert type(got).__name__ == type(want).__name__
    for g, w in zip(_parts(got), _parts(want), strict=True):
        assert str(g.dtype) == str(w.dtype) and tuple(g.shape) == tuple(w.shape)
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=tol, atol=tol)


def test_named_results_print_as_torch() -> None:
    for fn in (RESULTS["slogdet"], RESULTS["inv_ex"], RESULTS["lstsq rank deficient"]):
        assert repr(fn(adjit, adjit.float64)) == repr(fn(torch, torch.float64))


SECOND_ORDER: dict[str, Callable[[Any, Any], Any]] = {
    "det": lambda T, a: T.linalg.det(a),
    "slogdet": lambda T, a: T.linalg.slogdet(a).logabsdet,
    "inv": lambda T, a: (T.linalg.inv(a) ** 2).sum(),
    "solve": lambda T, a: (T.linalg.solve(a, a.sin()) ** 2).sum(),
    "cholesky": lambda T, a: (T.linalg.cholesky(a @ a.mT) * _weights(T)).sum(),
    "eigh": lambda T, a: (T.linalg.eigh(a + a.mT).eigenvectors ** 2 * _weights(T)).sum(),
    "svd": lambda T, a: (T.linalg.svd(a).U ** 2 * _weights(T)).sum() + T.linalg.svdvals(a).prod(),
    "qr": lambda T, a: (T.linalg.qr(a).R ** 3).sum(),
    "pinv": lambda T, a: (T.linalg.pinv(a) ** 3).sum(),
    "matrix_exp": lambda T, a: (T.linalg.matrix_exp(a) ** 2).sum(),
}


def _weights(T: Any) -> Any:
    return T.arange(9.0, dtype=T.float64).reshape(3, 3)


@pytest.mark.parametrize("fn", list(SECOND_ORDER.values()), ids=list(SECOND_ORDER))
def test_second_derivatives_match_torch(fn: Callable[[Any, Any], Any]) -> None:
    """The derivative rules are made of differentiable ops (LINALG among them): create_graph
    gives PyTorch's Hessian-vector products."""
    m = _A33
    v = np.cos(np.arange(9.0)).reshape(3, 3)
    hv = []
    for T in (torch, adjit):
        a = T.tensor(m, requires_grad=True)
        (g,) = T.autograd.grad(fn(T, a), a, create_graph=True)
        (h,) = T.autograd.grad((g * T.tensor(v)).sum(), a)
        hv.append(h.numpy())
    np.testing.assert_allclose(hv[1], hv[0], rtol=1e-10, atol=1e-12)


def test_vectors_of_repeated_values_have_pytorchs_nan_gradients() -> None:
    """A loss of the singular or eigen-vectors of a matrix with repeated values: PyTorch's
    gradient divides by the zero gap (inf * 0 = NaN after the products); adjit's too."""
    weights = np.arange(9.0).reshape(3, 3)
    for m in (np.diag([2.0, 2.0, 1.0]), np.eye(3)):
        for vectors in (lambda T, a: T.linalg.svd(a).U, lambda T, a: T.linalg.eigh(a)[1]):
            got = []
            for T in (torch, adjit):
                a = T.tensor(m, requires_grad=True)
                (vectors(T, a) * T.tensor(weights)).sum().backward()
                got.append(a.grad.numpy())
            np.testing.assert_array_equal(np.isnan(got[1]), np.isnan(got[0]))
            assert np.isnan(got[0]).any()


def test_lu_gradient_of_a_rectangular_matrix_is_refused() -> None:
    """PyTorch differentiates non-square LU too; adjit says it does not (no silent zero)."""
    a = adjit.tensor(_arr(14, 4, 3), requires_grad=True)
    with pytest.raises(NotImplementedError, match="non-square"):
        adjit.linalg.lu(a).L.sum().backward()
