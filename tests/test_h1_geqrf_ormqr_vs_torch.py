"""torch.geqrf and torch.ormqr (functions and Tensor methods) side by side with PyTorch: values,
named results, gradients (ormqr: against PyTorch's and finite differences; geqrf: none, as
PyTorch), errors."""

from __future__ import annotations

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(11)


def _matrix(shape: tuple[int, ...], complex_: bool = False) -> np.ndarray:
    a = RNG.standard_normal(shape)
    return a + 1j * RNG.standard_normal(shape) if complex_ else a


@pytest.mark.parametrize(
    "shape", [(5, 3), (3, 5), (4, 4), (2, 5, 3), (2, 1, 3, 4), (0, 3), (3, 0), (0, 4, 3)]
)
@pytest.mark.parametrize("dtype", ["float64", "float32", "complex128"])
def test_geqrf_as_pytorch(shape: tuple[int, ...], dtype: str) -> None:
    a = _matrix(shape, dtype.startswith("complex")).astype(dtype)
    ours, theirs = adjit.geqrf(adjit.tensor(a)), torch.geqrf(torch.tensor(a))
    assert type(ours) is adjit.return_types.geqrf and ours._fields == ("a", "tau")
    eps = np.finfo(a.real.dtype).eps
    for x, y in zip(ours, theirs, strict=True):
        assert str(x.dtype) == str(y.dtype) and tuple(x.shape) == tuple(y.shape)
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=0, atol=50 * eps)
    method = adjit.tensor(a).geqrf()
    assert adjit.equal(method.a, ours.a) and adjit.equal(method.tau, ours.tau)


def test_geqrf_prints_as_pytorch() -> None:
    a = [[2.0, 0.0], [0.0, 3.0]]
    assert repr(adjit.geqrf(adjit.tensor(a))) == repr(torch.geqrf(torch.tensor(a)))


def test_geqrf_has_no_derivative_as_pytorch() -> None:
    for T in (adjit, torch):
        x = T.tensor(_matrix((4, 3)), requires_grad=True)
        a, tau = T.geqrf(x)
        assert type(a.grad_fn).__name__ == type(tau.grad_fn).__name__ == "GeqrfBackward0"
        for y in (a, tau):
            with pytest.raises(
                NotImplementedError, match="the derivative for 'geqrf' is not implemented."
            ):
                y.sum().backward()


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize(
    "shape, other", [((5, 3), (5, 4)), ((3, 5), (3, 2)), ((2, 4, 4), (2, 4, 3)), ((5, 2), (5, 1))]
)
@pytest.mark.parametrize("complex_", [False, True])
def test_ormqr_values_and_gradients_as_pytorch(
    left: bool, transpose: bool, shape: tuple[int, ...], other: tuple[int, ...], complex_: bool
) -> None:
    h, tau = (t.numpy() for t in torch.geqrf(torch.tensor(_matrix(shape, complex_))))
    c = _matrix(other, complex_)
    if not left:
        c = np.swapaxes(c, -1, -2)
    g = _matrix(c.shape, complex_)
    results = []
    for T in (adjit, torch):
        args = [T.tensor(v, requires_grad=True) for v in (h, tau, c)]
        y = T.ormqr(*args, left, transpose)
        assert type(y.grad_fn).__name__ == "OrmqrBackward0"
        (y * T.tensor(g)).real.sum().backward() if complex_ else (y * T.tensor(g)).sum().backward()
        results.append([y.detach().numpy(), *(a.grad.numpy() for a in args)])
    for ours, theirs in zip(*results, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    assert np.array_equal(
        adjit.tensor(h).ormqr(adjit.tensor(tau), adjit.tensor(c), left, transpose).numpy(),
        results[0][0],
    )


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("transpose", [False, True])
def test_ormqr_gradients_by_finite_differences(left: bool, transpose: bool) -> None:
    h, tau = (
        adjit.tensor(t.numpy(), requires_grad=True)
        for t in torch.geqrf(torch.randn(4, 3, dtype=torch.float64))
    )
    c = adjit.tensor(_matrix((4, 2) if left else (2, 4)), requires_grad=True)
    assert adjit.autograd.gradcheck(
        lambda a, t, o: adjit.ormqr(a, t, o, left, transpose), (h, tau, c)
    )


ORMQR_ERRORS = [
    lambda T: T.ormqr(T.ones(5), T.ones(3), T.ones(5)),
    lambda T: T.ormqr(T.ones(5, 3), T.ones(3, 1), T.ones(5)),
    lambda T: T.ormqr(T.ones(5, 3), T.ones(2, 4), T.ones(5, 2)),
    lambda T: T.ormqr(T.ones(5, 3), T.ones(3), T.ones(2, 2)),
    lambda T: T.ormqr(T.ones(5, 3), T.ones(4), T.ones(5, 2)),
    lambda T: T.ormqr(T.ones(5, 3), T.ones(4), T.ones(2, 5), left=False),
    lambda T: T.ormqr(T.ones(5, 3), T.ones(3), T.ones(5, 2), left=False),
    lambda T: T.ormqr(T.ones(2, 5, 3), T.ones(2, 3), T.ones(5, 2)),
    lambda T: T.ormqr(T.ones(2, 5, 3), T.ones(3, 3), T.ones(2, 5, 2)),
    lambda T: T.ormqr(T.ones(2, 5, 3), T.ones(2, 3), T.ones(3, 5, 2)),
    lambda T: T.ormqr(T.ones(5, 3), T.ones(3, dtype=T.float64), T.ones(5, 2)),
    lambda T: T.ormqr(T.ones(5, 3), T.ones(3), T.ones(5, 2, dtype=T.float64)),
    lambda T: T.ormqr(T.ones(5, 3).int(), T.ones(3).int(), T.ones(5, 2).int()),
    lambda T: T.ormqr(T.ones(5, 3), T.ones(3), T.ones(5, 2), left=1),
    lambda T: T.ormqr(T.ones(5, 3), T.ones(3), T.ones(5, 2), transpose=None),
    lambda T: T.geqrf(T.ones(3)),
    lambda T: T.geqrf(T.ones(3, 3, dtype=T.int64)),
]


@pytest.mark.parametrize("case", range(len(ORMQR_ERRORS)))
def test_errors_as_pytorch(case: int) -> None:
    outcomes = []
    for T in (adjit, torch):
        try:
            ORMQR_ERRORS[case](T)
            outcomes.append(("no error", ""))
        except Exception as e:  # noqa: BLE001 - the type and text are what is compared
            outcomes.append((type(e).__name__, str(e)))
    assert outcomes[0] == outcomes[1] and outcomes[0][0] != "no error"


def test_geqrf_refuses_in_compiled_code_ormqr_compiles() -> None:
    h, tau = (adjit.tensor(t.numpy()) for t in torch.geqrf(torch.randn(4, 3, dtype=torch.float64)))
    c = adjit.tensor(_matrix((4, 2)))
    f = adjit.compile(lambda a, t, o: adjit.ormqr(a, t, o, True, True))
    np.testing.assert_allclose(
        f(h, tau, c).numpy(), adjit.ormqr(h, tau, c, True, True).numpy(), rtol=1e-12
    )
    with pytest.raises(NotImplementedError, match="does not support torch.geqrf"):
        adjit.compile(adjit.geqrf, fullgraph=True)(c)


def test_autocast_runs_both_in_float32_as_pytorch() -> None:
    a, c = _matrix((4, 3)), _matrix((4, 2))
    dtypes = []
    for T in (adjit, torch):
        h, tau = T.geqrf(T.tensor(a, dtype=T.float32))
        with T.autocast("cpu", dtype=T.bfloat16):
            y = T.ormqr(h.bfloat16(), tau.bfloat16(), T.tensor(c, dtype=T.bfloat16))
            r = T.geqrf(T.tensor(a, dtype=T.bfloat16))
        dtypes.append((str(y.dtype), str(r.a.dtype), str(r.tau.dtype)))
    assert dtypes[0] == dtypes[1] == ("torch.float32",) * 3
