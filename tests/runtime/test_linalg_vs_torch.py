"""einsum, tensordot, the addmm family, kron, vdot, matrix_power, cross, cdist against PyTorch:
values, dtypes, shapes, grad_fn names and gradients, eager and compiled, finite differences,
and PyTorch's errors."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import adjit
from adjit.testing import assert_grads_match

torch = pytest.importorskip("torch")


@dataclass
class Case:
    name: str
    fn: Callable[..., Any]  # fn(T, *tensors) with T the module (adjit or torch)
    shapes: tuple[tuple[int, ...], ...]
    grad_fn: bool = True  # whether adjit's grad_fn name is PyTorch's


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
]


def _inputs(case: Case) -> list[np.ndarray]:
    rng = np.random.default_rng(abs(hash(case.name)) % 2**32)
    return [rng.standard_normal(s) for s in case.shapes]


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
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-12)
    if case.grad_fn:
        assert type(got.grad_fn).__name__ == type(want.grad_fn).__name__
    ct = np.random.default_rng(1).standard_normal(tuple(want.shape))
    tg = torch.autograd.grad(want, txs, torch.tensor(ct), allow_unused=True)
    ag = adjit.autograd.grad(got, axs, adjit.tensor(ct), allow_unused=True)
    for a, t, x in zip(ag, tg, arrays, strict=True):
        a = np.zeros_like(x) if a is None else a.numpy()
        t = np.zeros_like(x) if t is None else t.numpy()
        np.testing.assert_allclose(a, t, rtol=1e-10, atol=1e-12)


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
}


@pytest.mark.parametrize("fn", list(BAD.values()), ids=list(BAD))
def test_errors_match_torch(fn: Callable[[Any], Any]) -> None:
    with pytest.raises(Exception) as expected:  # noqa: PT011 - the type is PyTorch's
        fn(torch)
    with pytest.raises(type(expected.value)) as got:
        fn(adjit)
    assert str(got.value) == str(expected.value)


def test_matrix_power_negative_is_refused() -> None:
    with pytest.raises(NotImplementedError, match="linalg.inv"):
        adjit.matrix_power(adjit.eye(2), -1)


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
