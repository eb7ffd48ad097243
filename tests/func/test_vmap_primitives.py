"""The batching rules the op tables reach least: every LAPACK ``func`` of LINALG, SPECIAL's
kernels, the samplers of RANDOM (vs torch.func.vmap's draws, bit for bit) and the rule for a
custom rule object."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(11)
B = 3


def _loop_vs_vmap(f: Any, *arrays: np.ndarray, in_dims: Any = 0, tol: float = 1e-10) -> None:
    dims = in_dims if isinstance(in_dims, tuple) else (in_dims,) * len(arrays)
    ts = [adjit.tensor(a) for a in arrays]
    got = adjit.vmap(f, in_dims=dims)(*ts)
    per = [
        f(*[t if d is None else t.select(d, k) for t, d in zip(ts, dims, strict=True)])
        for k in range(B)
    ]
    got_leaves = got if isinstance(got, tuple | list) else (got,)
    for j, g in enumerate(got_leaves):
        want = np.stack([np.asarray((p[j] if isinstance(p, tuple | list) else p).numpy())
                         for p in per])  # fmt: skip
        np.testing.assert_allclose(g.numpy(), want, rtol=tol, atol=tol)


def _spd(*batch: int, n: int = 4) -> np.ndarray:
    a = RNG.standard_normal((*batch, n, n))
    return a @ np.swapaxes(a, -1, -2) / n + np.eye(n)


LINALG = [
    ("det", lambda m: adjit.linalg.det(m)),
    ("slogdet", lambda m: tuple(adjit.linalg.slogdet(m))),
    ("inv", lambda m: adjit.linalg.inv(m)),
    ("cholesky", lambda m: adjit.linalg.cholesky(m)),
    ("eigvalsh", lambda m: adjit.linalg.eigvalsh(m)),
    ("eigh-abs", lambda m: (adjit.linalg.eigh(m)[0], adjit.linalg.eigh(m)[1].abs())),
    ("svdvals", lambda m: adjit.linalg.svdvals(m)),
    ("qr-r-abs", lambda m: adjit.linalg.qr(m)[1].abs()),
    ("matrix_exp", lambda m: adjit.linalg.matrix_exp(m * 0.1)),
    ("lu_factor", lambda m: tuple(adjit.linalg.lu_factor(m))),
]


@pytest.mark.parametrize("case", LINALG, ids=[c[0] for c in LINALG])
def test_linalg_funcs(case: Any) -> None:
    _, f = case
    _loop_vs_vmap(f, _spd(B), tol=1e-9)
    _loop_vs_vmap(f, np.moveaxis(_spd(B, 2), 0, 2), in_dims=2, tol=1e-9)  # per example (2, n, n)


def test_solve_mixed_in_dims() -> None:
    _loop_vs_vmap(adjit.linalg.solve, _spd(B), RNG.standard_normal((4,)), in_dims=(0, None))
    _loop_vs_vmap(adjit.linalg.solve, _spd(), RNG.standard_normal((B, 4, 2)), in_dims=(None, 0))


SPECIALS = [
    ("bessel_j0", lambda x: adjit.special.bessel_j0(x)),
    ("modified_bessel_k1", lambda x: adjit.special.modified_bessel_k1(x.abs() + 0.1)),
    ("airy_ai", lambda x: adjit.special.airy_ai(x)),
    ("zeta", lambda x, y: adjit.special.zeta(x.abs() + 1.5, y.abs() + 0.5)),
    ("gammainc", lambda x, y: adjit.special.gammainc(x.abs() + 0.5, y.abs())),
    ("chebyshev_t", lambda x, y: adjit.special.chebyshev_polynomial_t(x, y.abs().floor())),
]


@pytest.mark.parametrize("case", SPECIALS, ids=[c[0] for c in SPECIALS])
def test_special_kernels(case: Any) -> None:
    _, f = case
    n = f.__code__.co_argcount
    arrays = [RNG.standard_normal((B, 2, 3)) * 2 for _ in range(n)]
    _loop_vs_vmap(f, *arrays)
    if n == 2:
        _loop_vs_vmap(f, arrays[0], arrays[1][0, 0], in_dims=(0, None))


SAMPLERS = [
    ("rand", lambda T, x: T.rand(2, 3) + x),
    ("randn", lambda T, x: T.randn(2, 3) * x),
    ("randint", lambda T, x: T.randint(0, 5, (2, 3)) + x),
    ("bernoulli", lambda T, x: T.bernoulli(x.sigmoid())),
    ("normal-tensor", lambda T, x: T.normal(x, x.abs() + 0.1)),
    ("poisson", lambda T, x: T.poisson(x.abs() * 3)),
    ("dropout", lambda T, x: T.nn.functional.dropout(x, 0.3)),
    ("exponential_", lambda T, x: x.detach().clone().exponential_() + x),
    ("rand_like", lambda T, x: T.rand_like(x) * x),
]


@pytest.mark.parametrize("case", SAMPLERS, ids=[c[0] for c in SAMPLERS])
def test_samplers_draw_as_torch(case: Any) -> None:
    """randomness='different' draws the batch in one call, as PyTorch's vmap: its numbers."""
    _, make = case
    x = RNG.standard_normal((B, 2, 3)).astype(np.float32)
    outs = []
    for T, vmap in ((adjit, adjit.vmap), (torch, torch.func.vmap)):
        T.manual_seed(7)
        outs.append(np.asarray(vmap(lambda a, T=T: make(T, a), randomness="different")(
            T.tensor(x)).numpy()))  # fmt: skip
    np.testing.assert_array_equal(outs[0], outs[1])


@pytest.mark.parametrize(
    "case",
    [
        ("randperm", lambda T, p: T.randperm(4) + p[0]),
        ("multinomial-rows", lambda T, p: T.multinomial(p, 2)),
        ("multinomial-row-replacement", lambda T, p: T.multinomial(p[0], 3, replacement=True)),
    ],
    ids=lambda c: c[0],
)
def test_permutations_and_categories_draw_as_torch(case: Any) -> None:
    _, make = case
    p = RNG.uniform(0.1, 1.0, (B, 2, 4)).astype(np.float32)
    outs = []
    for T, vmap in ((adjit, adjit.vmap), (torch, torch.func.vmap)):
        T.manual_seed(5)
        outs.append(np.asarray(vmap(lambda a, T=T: make(T, a), randomness="different")(
            T.tensor(p)).numpy()))  # fmt: skip
    np.testing.assert_array_equal(outs[0], outs[1])


def test_same_randomness_compiled() -> None:
    f = adjit.compile(adjit.vmap(lambda x: adjit.rand(4) + x, randomness="same"))
    out = f(adjit.zeros(3, 4)).numpy()
    assert (out[0] == out[1]).all() and (out[1] == out[2]).all()
    f = adjit.compile(adjit.vmap(lambda x: adjit.rand(4) + x, randomness="different"))
    out = f(adjit.zeros(3, 4)).numpy()
    assert not (out[0] == out[1]).all()


def test_custom_rule_without_batched_method_is_vmapped() -> None:
    """A PyTorch-formula rule (with_rule) batches by running its vjp under vmap; an unbatched
    operand's cotangent sums over the examples."""
    x = adjit.tensor(RNG.standard_normal((B, 4)), requires_grad=True)
    w = adjit.tensor(RNG.standard_normal(4), requires_grad=True)

    def f(a: Any, b: Any) -> Any:
        return adjit.lerp(a, b, a.sigmoid()).pow(2).sum()

    adjit.vmap(f, in_dims=(0, None))(x, w).sum().backward()
    gx, gw = x.grad.numpy().copy(), w.grad.numpy().copy()
    x.grad = w.grad = None
    sum(f(x[k], w) for k in range(B)).backward()
    np.testing.assert_allclose(gx, x.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gw, w.grad.numpy(), rtol=1e-12)
