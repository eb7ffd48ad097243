"""nn.utils.parametrize and parametrizations side by side with PyTorch: values, gradients,
state_dict keys, reprs, class swap, error texts, same-seed power-iteration vectors."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import adjit


def _np(t: Any) -> np.ndarray:
    return t.detach().numpy()


def _both(fn: Callable[[Any], Any]) -> tuple[Any, Any]:
    adjit.manual_seed(0)
    ours = fn(adjit)
    torch.manual_seed(0)
    return ours, fn(torch)


def _symmetric(L: Any) -> Any:
    class Symmetric(L.nn.Module):
        def forward(self, X: Any) -> Any:
            return X.triu() + X.triu(1).transpose(-1, -2)

        def right_inverse(self, A: Any) -> Any:
            return A.triu()

    return Symmetric()


def _scale(L: Any) -> Any:
    class Scale(L.nn.Module):
        def forward(self, X: Any) -> Any:
            return X * 2

    return Scale()


def _registered(L: Any) -> Any:
    m = L.nn.Linear(3, 3, dtype=L.float64)
    L.nn.utils.parametrize.register_parametrization(m, "weight", _symmetric(L))
    return m


def test_register_symmetric_values_grads_keys_repr() -> None:
    def run(L: Any) -> list[Any]:
        m = _registered(L)
        x = L.randn(2, 3, dtype=L.float64)
        m(x).pow(2).sum().backward()
        orig = m.parametrizations.weight.original
        return [
            type(m).__name__,
            repr(m),
            list(m.state_dict()),
            [n for n, _ in m.named_parameters()],
            L.nn.utils.parametrize.is_parametrized(m),
            L.nn.utils.parametrize.is_parametrized(m, "weight"),
            L.nn.utils.parametrize.is_parametrized(m, "bias"),
            L.nn.utils.parametrize.type_before_parametrizations(m).__name__,
            _np(m.weight),
            _np(orig),
            _np(orig.grad),
        ]

    ours, theirs = _both(run)
    assert ours[:8] == theirs[:8]
    for a, b in zip(ours[8:], theirs[8:], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_original_gradient_matches_finite_differences() -> None:
    adjit.manual_seed(0)
    m = _registered(adjit)
    x = adjit.randn(2, 3, dtype=adjit.float64)
    m(x).pow(2).sum().backward()
    orig = m.parametrizations.weight.original
    grad = _np(orig.grad)
    base = _np(orig).copy()
    eps = 1e-6
    for i in range(3):
        for j in range(3):
            vals = []
            for sign in (1, -1):
                w = base.copy()
                w[i, j] += sign * eps
                with adjit.no_grad():
                    orig.copy_(adjit.tensor(w))
                vals.append(float(m(x).pow(2).sum()))
            np.testing.assert_allclose(grad[i, j], (vals[0] - vals[1]) / (2 * eps), atol=1e-6)


def test_assignment_calls_right_inverse_and_chain() -> None:
    def run(L: Any) -> list[Any]:
        m = _registered(L)
        L.nn.utils.parametrize.register_parametrization(m, "weight", _scale(L))
        orig = m.parametrizations.weight.original
        with pytest.raises(RuntimeError) as err:
            m.weight = L.ones(3, 3, dtype=L.float64)
        m2 = _registered(L)
        m2.weight = L.arange(9.0, dtype=L.float64).reshape(3, 3)
        return [
            str(err.value),
            repr(m),
            _np(m.weight),
            _np(m2.weight),
            _np(m2.parametrizations.weight.original),
            orig is m.parametrizations.weight.original,
        ]

    ours, theirs = _both(run)
    assert ours[0] == theirs[0] and ours[1] == theirs[1] and ours[5] == theirs[5]
    for a, b in zip(ours[2:5], theirs[2:5], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("leave", [True, False])
def test_remove_parametrizations(leave: bool) -> None:
    def run(L: Any) -> list[Any]:
        m = _registered(L)
        orig = m.parametrizations.weight.original
        with L.no_grad():
            orig.add_(L.arange(9.0, dtype=L.float64).reshape(3, 3))
        L.nn.utils.parametrize.remove_parametrizations(m, "weight", leave_parametrized=leave)
        return [
            type(m).__name__,
            repr(m),
            list(m.state_dict()),
            m.weight is orig,
            hasattr(m, "parametrizations"),
            _np(m.weight),
        ]

    ours, theirs = _both(run)
    assert ours[:5] == theirs[:5]
    np.testing.assert_allclose(ours[5], theirs[5], rtol=1e-12)


def test_cached_computes_once() -> None:
    for L in (adjit, torch):
        m = _registered(L)
        with L.nn.utils.parametrize.cached():
            assert m.weight is m.weight
        assert m.weight is not m.weight


def _errors() -> list[tuple[str, Callable[[Any], Any]]]:
    def dtype_change(L: Any) -> Any:
        class ToFloat(L.nn.Module):
            def forward(self, X: Any) -> Any:
                return X.float()

        L.nn.utils.parametrize.register_parametrization(
            L.nn.Linear(2, 2, dtype=L.float64), "weight", ToFloat()
        )

    def shape_change(L: Any) -> Any:
        class First(L.nn.Module):
            def forward(self, X: Any) -> Any:
                return X[0]

        L.nn.utils.parametrize.register_parametrization(L.nn.Linear(2, 2), "weight", First())

    def appended_shape_change(L: Any) -> Any:
        class First(L.nn.Module):
            def forward(self, X: Any) -> Any:
                return X[0]

        m = _registered(L)
        L.nn.utils.parametrize.register_parametrization(m, "weight", First())

    def missing(L: Any) -> Any:
        L.nn.utils.parametrize.register_parametrization(L.nn.Linear(2, 2), "w", _scale(L))

    def remove_missing(L: Any) -> Any:
        L.nn.utils.parametrize.remove_parametrizations(L.nn.Linear(2, 2), "weight")

    def leave_sequence(L: Any) -> Any:
        m = L.nn.utils.parametrizations.weight_norm(L.nn.Linear(2, 2))
        L.nn.utils.parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)

    def orth_1d(L: Any) -> Any:
        L.nn.utils.parametrizations.orthogonal(L.nn.Linear(2, 2), "bias")

    def orth_map(L: Any) -> Any:
        L.nn.utils.parametrizations.orthogonal(L.nn.Linear(2, 2), orthogonal_map="qr")

    def sn_dim(L: Any) -> Any:
        L.nn.utils.parametrizations.spectral_norm(L.nn.Linear(2, 2), dim=2)

    def sn_iters(L: Any) -> Any:
        L.nn.utils.parametrizations.spectral_norm(L.nn.Linear(2, 2), n_power_iterations=0)

    def assign_cayley(L: Any) -> Any:
        m = L.nn.utils.parametrizations.orthogonal(
            L.nn.Linear(3, 3), orthogonal_map="cayley", use_trivialization=False
        )
        m.weight = L.eye(3)

    def serialize(L: Any) -> Any:
        _registered(L).__getstate__()

    return [
        ("dtype_change", dtype_change),
        ("shape_change", shape_change),
        ("appended_shape_change", appended_shape_change),
        ("missing", missing),
        ("remove_missing", remove_missing),
        ("leave_sequence", leave_sequence),
        ("orth_1d", orth_1d),
        ("orth_map", orth_map),
        ("sn_dim", sn_dim),
        ("sn_iters", sn_iters),
        ("assign_cayley", assign_cayley),
        ("serialize", serialize),
    ]


@pytest.mark.parametrize("name,fn", _errors(), ids=[e[0] for e in _errors()])
def test_error_texts(name: str, fn: Callable[[Any], Any]) -> None:
    torch.manual_seed(0)
    with pytest.raises(Exception) as theirs:
        fn(torch)
    adjit.manual_seed(0)
    with pytest.raises(type(theirs.value)) as ours:
        fn(adjit)
    assert str(ours.value) == str(theirs.value)


# ---- parametrizations: (name, apply(lib, module), build(lib) -> module, input shape) ----


def _apply(fn: str, **kw: Any) -> Callable[[Any, Any], Any]:
    return lambda L, m: getattr(L.nn.utils.parametrizations, fn)(m, **kw)


def _lin(o: int, i: int) -> Callable[[Any], Any]:
    return lambda L: L.nn.Linear(i, o, dtype=L.float64)


ROWS: list[tuple[str, Callable[[Any, Any], Any], Callable[[Any], Any], tuple[int, ...]]] = [
    ("weight_norm", _apply("weight_norm"), _lin(4, 3), (2, 3)),
    ("weight_norm_dim1", _apply("weight_norm", dim=1), _lin(4, 3), (2, 3)),
    ("weight_norm_dimNone", _apply("weight_norm", dim=None), _lin(4, 3), (2, 3)),
    (
        "weight_norm_conv",
        _apply("weight_norm"),
        lambda L: L.nn.Conv2d(2, 3, 2, dtype=L.float64),
        (1, 2, 4, 4),
    ),
    ("spectral_norm", _apply("spectral_norm"), _lin(4, 5), (2, 5)),
    ("spectral_norm_iters3", _apply("spectral_norm", n_power_iterations=3), _lin(5, 3), (2, 3)),
    (
        "spectral_norm_convT",
        _apply("spectral_norm"),
        lambda L: L.nn.ConvTranspose2d(3, 4, 2, dtype=L.float64),
        (1, 3, 3, 3),
    ),
    ("orthogonal_square", _apply("orthogonal"), _lin(4, 4), (2, 4)),
    ("orthogonal_tall", _apply("orthogonal"), _lin(5, 3), (2, 3)),
    ("orthogonal_wide", _apply("orthogonal"), _lin(3, 5), (2, 5)),
    ("orthogonal_cayley", _apply("orthogonal", orthogonal_map="cayley"), _lin(4, 4), (2, 4)),
    (
        "orthogonal_householder",
        _apply("orthogonal", orthogonal_map="householder"),
        _lin(4, 4),
        (2, 4),
    ),
    (
        "orthogonal_householder_no_trivialization_wide",
        _apply("orthogonal", orthogonal_map="householder", use_trivialization=False),
        _lin(3, 5),
        (2, 5),
    ),
    (
        "orthogonal_householder_no_trivialization_tall",
        _apply("orthogonal", orthogonal_map="householder", use_trivialization=False),
        _lin(5, 3),
        (2, 3),
    ),
    (
        "orthogonal_matrix_exp_tall",
        _apply("orthogonal", orthogonal_map="matrix_exp"),
        _lin(5, 3),
        (2, 3),
    ),
]


@pytest.mark.parametrize("name,apply,build,shape", ROWS, ids=[r[0] for r in ROWS])
def test_parametrizations_vs_torch(
    name: str, apply: Callable[..., Any], build: Callable[[Any], Any], shape: tuple[int, ...]
) -> None:
    def run(L: Any) -> list[Any]:
        m = apply(L, build(L))
        x = L.randn(*shape, dtype=L.float64)
        m(x).pow(2).sum().backward()
        m.eval()
        y = m(x)
        tensors = dict(m.named_parameters())
        tensors.update({k: v for k, v in m.named_buffers()})
        grads = {k: v.grad for k, v in m.named_parameters()}
        return [
            type(m).__name__,
            repr(m),
            list(m.state_dict()),
            {k: _np(v) for k, v in tensors.items()},
            {k: _np(v) for k, v in grads.items()},
            _np(m.weight),
            _np(y),
        ]

    ours, theirs = _both(run)
    assert ours[:3] == theirs[:3]
    for key in theirs[3]:
        np.testing.assert_allclose(ours[3][key], theirs[3][key], rtol=1e-10, atol=1e-12)
    assert sorted(ours[4]) == sorted(theirs[4])
    for key in theirs[4]:
        np.testing.assert_allclose(ours[4][key], theirs[4][key], rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ours[5], theirs[5], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours[6], theirs[6], rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated:FutureWarning")
def test_weight_norm_loads_old_state_dict_keys() -> None:
    def run(L: Any) -> list[Any]:
        old = L.nn.Linear(3, 4)
        L.nn.utils.weight_norm(old)
        with L.no_grad():
            old.weight_g.mul_(2)
        sd = old.state_dict()
        new = L.nn.utils.parametrizations.weight_norm(L.nn.Linear(3, 4))
        result = new.load_state_dict(sd)
        return [repr(result), sorted(sd), _np(new.weight)]

    ours, theirs = _both(run)
    assert ours[:2] == theirs[:2]
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-6)


def test_parametrized_deepcopy_and_to_double() -> None:
    def run(L: Any) -> list[Any]:
        m = L.nn.utils.parametrizations.spectral_norm(L.nn.Linear(3, 4))
        c = copy.deepcopy(m)
        c.double()
        return [type(c).__name__, str(c.weight.dtype), str(c.parametrizations.weight[0]._u.dtype)]

    ours, theirs = _both(run)
    assert ours == theirs


def test_unsafe_parametrization_may_change_shape() -> None:
    def run(L: Any) -> list[Any]:
        class Pad(L.nn.Module):
            def forward(self, X: Any) -> Any:
                return L.cat([X, X.sum(0, keepdim=True)])

        m = L.nn.Linear(3, 2, dtype=L.float64)
        L.nn.utils.parametrize.register_parametrization(m, "weight", Pad(), unsafe=True)
        return [tuple(m.weight.shape), m.parametrizations.weight.unsafe, _np(m.weight)]

    ours, theirs = _both(run)
    assert ours[:2] == theirs[:2] == [(3, 3), True]
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-12)


def test_weight_norm_grad_fn_names() -> None:
    def run(L: Any) -> list[str]:
        names = []
        for dim in (0, 1, -1, None):
            m = L.nn.utils.parametrizations.weight_norm(L.nn.Linear(3, 4), dim=dim)
            names.append(m.weight.grad_fn.name())
        conv = L.nn.utils.parametrizations.weight_norm(L.nn.Conv2d(2, 3, 2), dim=1)
        return names + [conv.weight.grad_fn.name()]

    ours, theirs = _both(run)
    assert ours == theirs
