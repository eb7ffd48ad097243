"""autograd.functional's jacobian (both strategies, vectorize), hessian (both outer
strategies), jvp, hvp and vhp side by side with torch.autograd.functional, errors included."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(11)
X = RNG.standard_normal(3)
Y = RNG.standard_normal((2, 2))
V = RNG.standard_normal(3)
VY = RNG.standard_normal((2, 2))


def _np(v: Any) -> Any:
    if isinstance(v, tuple | list):
        return type(v)(_np(x) for x in v)
    return v.detach().numpy()


def _same(a: Any, b: Any, tol: float = 1e-12) -> None:
    _close(_np(a), _np(b), tol)


def _close(a: Any, b: Any, tol: float) -> None:
    if isinstance(a, tuple | list):
        assert isinstance(b, tuple | list) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _close(x, y, tol)
        return
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _vector(L: Any) -> Any:
    return lambda a, b: ((a.sin()[:, None] * b.sum(0)).exp(), (a * 2).sum() + b.norm())


def _scalar(L: Any) -> Any:
    return lambda a, b: (a.sin() * a).sum() ** 2 * b.exp().sum()


def _args(L: Any, *arrays: np.ndarray) -> tuple[Any, ...]:
    return tuple(L.from_numpy(a.copy()) for a in arrays)


CALLS: dict[str, Any] = {
    "jacobian-reverse": lambda L: L.autograd.functional.jacobian(_vector(L), _args(L, X, Y)),
    "jacobian-reverse-vectorize": lambda L: L.autograd.functional.jacobian(
        _vector(L), _args(L, X, Y), vectorize=True
    ),
    "jacobian-forward": lambda L: L.autograd.functional.jacobian(
        _vector(L), _args(L, X, Y), vectorize=True, strategy="forward-mode"
    ),
    "jacobian-forward-single": lambda L: L.autograd.functional.jacobian(
        lambda a: a.exp() * a.sum(), _args(L, X)[0], vectorize=True, strategy="forward-mode"
    ),
    "jacobian-forward-float32": lambda L: L.autograd.functional.jacobian(
        lambda a: (a * a).cumsum(0), _args(L, X)[0].float(), vectorize=True, strategy="forward-mode"
    ),
    "hessian-reverse": lambda L: L.autograd.functional.hessian(_scalar(L), _args(L, X, Y)),
    "hessian-forward": lambda L: L.autograd.functional.hessian(
        _scalar(L), _args(L, X, Y), vectorize=True, outer_jacobian_strategy="forward-mode"
    ),
    "hessian-forward-single": lambda L: L.autograd.functional.hessian(
        lambda a: (a.tanh() ** 3).sum(),
        _args(L, X)[0],
        vectorize=True,
        outer_jacobian_strategy="forward-mode",
    ),
    "jvp": lambda L: L.autograd.functional.jvp(_vector(L), _args(L, X, Y), _args(L, V, VY)),
    "jvp-create_graph": lambda L: L.autograd.functional.jvp(
        _vector(L), _args(L, X, Y), _args(L, V, VY), create_graph=True
    ),
    "jvp-v-none": lambda L: L.autograd.functional.jvp(lambda a: a.exp() * 3, _args(L, X[:1])),
    "hvp": lambda L: L.autograd.functional.hvp(_scalar(L), _args(L, X, Y), _args(L, V, VY)),
    "vhp": lambda L: L.autograd.functional.vhp(_scalar(L), _args(L, X, Y), _args(L, V, VY)),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_as_torch(name: str) -> None:
    _same(CALLS[name](adjit), CALLS[name](torch), 1e-10)


ERRORS: dict[str, Any] = {
    "strategy": lambda L: L.autograd.functional.jacobian(L.sin, _args(L, X)[0], strategy="fwd"),
    "forward-create_graph": lambda L: L.autograd.functional.jacobian(
        L.sin, _args(L, X)[0], create_graph=True, strategy="forward-mode"
    ),
    "forward-strict": lambda L: L.autograd.functional.jacobian(
        L.sin, _args(L, X)[0], strict=True, strategy="forward-mode"
    ),
    "forward-not-vectorized": lambda L: L.autograd.functional.jacobian(
        L.sin, _args(L, X)[0], strategy="forward-mode"
    ),
    "reverse-strict-vectorize": lambda L: L.autograd.functional.jacobian(
        L.sin, _args(L, X)[0], strict=True, vectorize=True
    ),
    "hessian-strategy": lambda L: L.autograd.functional.hessian(
        lambda a: a.sum(), _args(L, X)[0], outer_jacobian_strategy="x"
    ),
    "hessian-forward-not-vectorized": lambda L: L.autograd.functional.hessian(
        lambda a: a.sum(), _args(L, X)[0], outer_jacobian_strategy="forward-mode"
    ),
    "hessian-tuple-output": lambda L: L.autograd.functional.hessian(
        lambda a: (a.sum(), a.sum()), _args(L, X)[0]
    ),
    "hessian-not-scalar": lambda L: L.autograd.functional.hessian(lambda a: a * 2, _args(L, X)[0]),
    "jvp-v-none": lambda L: L.autograd.functional.jvp(L.sin, _args(L, X)[0]),
    "jvp-v-length": lambda L: L.autograd.functional.jvp(_vector(L), _args(L, X, Y), _args(L, V)),
    "jvp-v-size": lambda L: L.autograd.functional.jvp(_vector(L), _args(L, X, Y), _args(L, V, V)),
    "jvp-v-size-single": lambda L: L.autograd.functional.jvp(L.sin, _args(L, X)[0], _args(L, Y)[0]),
    "hvp-not-scalar": lambda L: L.autograd.functional.hvp(
        lambda a: a * 2, _args(L, X)[0], _args(L, V)[0]
    ),
    "hvp-tuple": lambda L: L.autograd.functional.hvp(
        lambda a: (a.sum(),), _args(L, X)[0], _args(L, V)[0]
    ),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_as_torch(name: str) -> None:
    with pytest.raises(Exception) as want:
        ERRORS[name](torch)
    with pytest.raises(type(want.value)) as got:
        ERRORS[name](adjit)
    assert str(got.value) == str(want.value)


def test_forward_jacobian_is_one_batched_program() -> None:
    """vectorize=True: the function is traced once for all basis vectors (not once each)."""
    calls = []

    def f(a: Any) -> Any:
        calls.append(1)
        return a.exp() * a.sum()

    adjit.autograd.functional.jacobian(
        f, adjit.from_numpy(RNG.standard_normal(50)), vectorize=True, strategy="forward-mode"
    )
    assert len(calls) == 1
