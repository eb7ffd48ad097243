"""nn.utils side by side with PyTorch: gradient clipping, parameter vectors, the hook-based
weight_norm / spectral_norm, conv/linear-bn fusion, skip_init, functional_call; a compiled
training step through a weight-normed Linear equals eager."""

from __future__ import annotations

import copy
import warnings
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


def _with_grads(L: Any, scale: float = 1.0) -> list[Any]:
    m = L.nn.Sequential(L.nn.Linear(3, 4), L.nn.Tanh(), L.nn.Linear(4, 2, bias=False))
    (m(L.randn(5, 3)) * scale).pow(2).sum().backward()
    return list(m.parameters())


# ---- clipping: (name, clip(lib, params) -> returned value) -----------------------------------
CLIPS: list[tuple[str, Callable[[Any, list[Any]], Any]]] = [
    ("norm2", lambda L, ps: L.nn.utils.clip_grad_norm_(ps, 0.5)),
    ("norm1", lambda L, ps: L.nn.utils.clip_grad_norm_(ps, 0.5, norm_type=1)),
    ("norm_inf", lambda L, ps: L.nn.utils.clip_grad_norm_(ps, 0.1, norm_type="inf")),
    ("norm_inf_float", lambda L, ps: L.nn.utils.clip_grad_norm_(ps, 0.1, float("inf"))),
    ("norm_half", lambda L, ps: L.nn.utils.clip_grad_norm_(ps, 0.5, norm_type=0.5)),
    ("no_clip", lambda L, ps: L.nn.utils.clip_grad_norm_(ps, 1e6)),
    ("foreach", lambda L, ps: L.nn.utils.clip_grad_norm_(ps, 0.5, foreach=False)),
    ("single_tensor", lambda L, ps: L.nn.utils.clip_grad_norm_(ps[0], 0.5)),
    ("generator", lambda L, ps: L.nn.utils.clip_grad_norm_(iter(ps), 0.5)),
    ("value", lambda L, ps: L.nn.utils.clip_grad_value_(ps, 0.05)),
    ("total_norm", lambda L, ps: L.nn.utils.get_total_norm([p.grad for p in ps], 3.0)),
    ("total_norm_empty", lambda L, ps: L.nn.utils.get_total_norm([])),
    (
        "with_norm",
        lambda L, ps: L.nn.utils.clip_grads_with_norm_(ps, 0.5, L.tensor(2.0)),
    ),
]


@pytest.mark.parametrize("name,clip", CLIPS, ids=[c[0] for c in CLIPS])
def test_clipping_vs_torch(name: str, clip: Callable[[Any, list[Any]], Any]) -> None:
    def run(L: Any) -> list[Any]:
        ps = _with_grads(L, 3.0)
        out = clip(L, ps)
        return [out, [_np(p.grad) for p in ps]]

    ours, theirs = _both(run)
    if theirs[0] is None:
        assert ours[0] is None
    else:
        assert ours[0].shape == theirs[0].shape and str(ours[0].dtype) == str(theirs[0].dtype)
        assert ours[0].requires_grad == theirs[0].requires_grad
        np.testing.assert_allclose(_np(ours[0]), _np(theirs[0]), rtol=2e-6)
    for a, b in zip(ours[1], theirs[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7)


def test_clip_warnings_and_errors() -> None:
    texts = []
    for L in (adjit, torch):
        ps = _with_grads(L)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            L.nn.utils.clip_grad_norm(ps, 1.0)
            L.nn.utils.clip_grad_norm_((p for p in []), 1.0)
        ps[0].grad[0, 0] = float("inf")
        with pytest.raises(RuntimeError) as err:
            L.nn.utils.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
        texts.append([(w.category, str(w.message)) for w in caught] + [str(err.value)])
    assert texts[0] == texts[1]


def test_parameters_to_vector_roundtrip() -> None:
    def run(L: Any) -> list[Any]:
        m = L.nn.Linear(3, 2)
        vec = L.nn.utils.parameters_to_vector(m.parameters())
        weight = m.weight
        L.nn.utils.vector_to_parameters(L.arange(8.0), m.parameters())
        with pytest.raises(TypeError) as err:
            L.nn.utils.vector_to_parameters([1.0], m.parameters())
        return [
            _np(vec),
            str(vec.grad_fn.name()),
            _np(m.weight),
            weight is m.weight,
            str(err.value),
        ]

    ours, theirs = _both(run)
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[2], theirs[2])
    assert ours[1] == theirs[1] and ours[3:] == theirs[3:]


# ---- hook-based weight_norm / spectral_norm -------------------------------------------------
def _old(kind: str, **kw: Any) -> Callable[[Any, Any], Any]:
    return lambda L, m: getattr(L.nn.utils, kind)(m, **kw)


OLD: list[tuple[str, Callable[[Any, Any], Any], Callable[[Any], Any], tuple[int, ...]]] = [
    ("weight_norm", _old("weight_norm"), lambda L: L.nn.Linear(3, 4, dtype=L.float64), (2, 3)),
    (
        "weight_norm_dim2",
        _old("weight_norm", dim=2),
        lambda L: L.nn.Conv1d(2, 3, 2, dtype=L.float64),
        (1, 2, 5),
    ),
    (
        "weight_norm_dimNone",
        _old("weight_norm", dim=None),
        lambda L: L.nn.Linear(3, 4, dtype=L.float64),
        (2, 3),
    ),
    ("spectral_norm", _old("spectral_norm"), lambda L: L.nn.Linear(5, 4, dtype=L.float64), (2, 5)),
    (
        "spectral_norm_convT",
        _old("spectral_norm", n_power_iterations=2),
        lambda L: L.nn.ConvTranspose1d(3, 4, 2, dtype=L.float64),
        (1, 3, 4),
    ),
]


@pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated:FutureWarning")
@pytest.mark.parametrize("name,apply,build,shape", OLD, ids=[r[0] for r in OLD])
def test_hook_based_norms_vs_torch(
    name: str, apply: Callable[..., Any], build: Callable[[Any], Any], shape: tuple[int, ...]
) -> None:
    def run(L: Any) -> list[Any]:
        m = apply(L, build(L))
        x = L.randn(*shape, dtype=L.float64)
        for _ in range(2):
            m(x).pow(2).sum().backward()
        keys, text = list(m.state_dict()), repr(m)
        state = {k: _np(v) for k, v in m.state_dict().items()}
        grads = {k: _np(p.grad) for k, p in m.named_parameters()}
        weight = _np(m.weight)
        getattr(L.nn.utils, "remove_" + name.split("_norm")[0] + "_norm")(m)
        return [keys, text, list(m.state_dict()), state, grads, weight, _np(m.weight)]

    ours, theirs = _both(run)
    assert ours[:3] == theirs[:3]
    for i in (3, 4):
        assert sorted(ours[i]) == sorted(theirs[i])
        for key in theirs[i]:
            np.testing.assert_allclose(ours[i][key], theirs[i][key], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours[5], theirs[5], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours[6], theirs[6], rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated:FutureWarning")
@pytest.mark.parametrize("kind", ["weight_norm", "spectral_norm"])
def test_hook_based_norm_errors(kind: str) -> None:
    texts = []
    for L in (adjit, torch):
        m = getattr(L.nn.utils, kind)(L.nn.Linear(2, 2))
        with pytest.raises(RuntimeError) as twice:
            getattr(L.nn.utils, kind)(m)
        with pytest.raises(ValueError) as missing:
            getattr(L.nn.utils, "remove_" + kind)(L.nn.Linear(2, 2))
        texts.append([str(twice.value), str(missing.value)])
    assert texts[0] == texts[1]


def test_weight_norm_deprecation_warning() -> None:
    texts = []
    for L in (adjit, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            L.nn.utils.weight_norm(L.nn.Linear(2, 2))
        texts.append([(w.category, str(w.message)) for w in caught])
    assert texts[0] == texts[1] and texts[0]


# ---- fusion ----------------------------------------------------------------------------------
def _bn_eval(L: Any, bn: Any) -> Any:
    bn.train()
    bn(L.randn(8, bn.num_features, *([3] * (bn.__class__.__name__.count("2d") * 2))))
    with L.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    return bn.eval()


FUSIONS: list[tuple[str, Callable[[Any], Any], tuple[int, ...]]] = [
    (
        "conv_bn",
        lambda L: L.nn.utils.fuse_conv_bn_eval(
            L.nn.Conv2d(3, 4, 2).eval(), _bn_eval(L, L.nn.BatchNorm2d(4))
        ),
        (2, 3, 5, 5),
    ),
    (
        "conv_nobias_bn",
        lambda L: L.nn.utils.fuse_conv_bn_eval(
            L.nn.Conv2d(3, 4, 2, bias=False).eval(), _bn_eval(L, L.nn.BatchNorm2d(4))
        ),
        (2, 3, 5, 5),
    ),
    (
        "convT_bn",
        lambda L: L.nn.utils.fuse_conv_bn_eval(
            L.nn.ConvTranspose2d(3, 4, 2).eval(),
            _bn_eval(L, L.nn.BatchNorm2d(4)),
            transpose=True,
        ),
        (2, 3, 4, 4),
    ),
    (
        "linear_bn",
        lambda L: L.nn.utils.fuse_linear_bn_eval(
            L.nn.Linear(3, 4).eval(), _bn_eval(L, L.nn.BatchNorm1d(4))
        ),
        (5, 3),
    ),
]


@pytest.mark.parametrize("name,build,shape", FUSIONS, ids=[f[0] for f in FUSIONS])
def test_fusion_vs_torch(name: str, build: Callable[[Any], Any], shape: tuple[int, ...]) -> None:
    def run(L: Any) -> list[Any]:
        fused = build(L)
        x = L.randn(*shape)
        return [type(fused.weight).__name__, _np(fused.weight), _np(fused.bias), _np(fused(x))]

    ours, theirs = _both(run)
    assert ours[0] == theirs[0]
    for a, b in zip(ours[1:], theirs[1:], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_fusion_errors() -> None:
    texts = []
    for L in (adjit, torch):
        msgs = []
        for fn in (
            lambda L: L.nn.utils.fuse_conv_bn_eval(L.nn.Conv2d(1, 2, 1), L.nn.BatchNorm2d(2)),
            lambda L: L.nn.utils.fuse_linear_bn_eval(
                L.nn.Linear(2, 3).eval(), L.nn.BatchNorm1d(2).eval()
            ),
        ):
            with pytest.raises(AssertionError) as err:
                fn(L)
            msgs.append(str(err.value))
        texts.append(msgs)
    assert texts[0] == texts[1]


# ---- skip_init, functional_call ---------------------------------------------------------------
def test_skip_init_keeps_generator_and_shapes() -> None:
    def run(L: Any) -> list[Any]:
        m = L.nn.utils.skip_init(L.nn.Linear, 5, 3)
        with pytest.raises(RuntimeError) as err:
            L.nn.utils.skip_init(L.nn.ReLU)
        return [type(m).__name__, tuple(m.weight.shape), _np(L.rand(4)), str(err.value)]

    ours, theirs = _both(run)
    assert ours[:2] == theirs[:2] and ours[3] == theirs[3]
    np.testing.assert_array_equal(ours[2], theirs[2])


@pytest.mark.filterwarnings("ignore:`torch.nn.utils.stateless.functional_call`:FutureWarning")
def test_functional_call_vs_torch() -> None:
    def run(L: Any) -> list[Any]:
        m = L.nn.Linear(3, 2)
        x = L.randn(4, 3)
        w = L.ones(2, 3, requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y = L.nn.utils.stateless.functional_call(m, {"weight": w}, (x,))
        y.sum().backward()
        with pytest.raises(RuntimeError) as err:
            L.nn.utils.stateless.functional_call(m, {"w": w}, x, strict=True)
        return [_np(y), _np(w.grad), m.weight.grad, str(err.value), str(caught[0].message)]

    ours, theirs = _both(run)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6)
    np.testing.assert_array_equal(ours[1], theirs[1])
    assert ours[2] is None and theirs[2] is None and ours[3:] == theirs[3:]


# ---- compiled training step -------------------------------------------------------------------
def test_compiled_training_step_through_weight_norm() -> None:
    adjit.manual_seed(0)
    model = adjit.nn.utils.parametrizations.weight_norm(adjit.nn.Linear(4, 3))
    twin = copy.deepcopy(model)
    x, target = adjit.randn(8, 4), adjit.randn(8, 3)

    def loss_fn(m: Any) -> Callable[[Any, Any], Any]:
        return lambda x, t: (m(x) - t).pow(2).mean()

    results = []
    for m, fn in ((model, loss_fn(model)), (twin, adjit.compile(loss_fn(twin)))):
        opt = adjit.optim.SGD(m.parameters(), lr=0.1)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = fn(x, target)
            loss.backward()
            opt.step()
            losses.append(float(loss))
        p = m.parametrizations.weight
        results.append([losses, _np(p.original0), _np(p.original1), _np(m.bias)])
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-5)
    for a, b in zip(results[1][1:], results[0][1:], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_compiled_spectral_norm_updates_buffers_as_eager() -> None:
    adjit.manual_seed(0)
    model = adjit.nn.utils.parametrizations.spectral_norm(adjit.nn.Linear(6, 5))
    with adjit.no_grad():  # a u far from converged, so each call's power iteration moves it
        model.parametrizations.weight[0]._u.copy_(
            adjit.nn.functional.normalize(adjit.randn(5), dim=0)
        )
    twin = copy.deepcopy(model)
    x = adjit.randn(2, 6)
    compiled = adjit.compile(lambda x: twin(x).sum())
    u0 = _np(model.parametrizations.weight[0]._u).copy()
    for _ in range(2):
        np.testing.assert_allclose(float(compiled(x)), float(model(x).sum()), rtol=2e-6)
        ours, eager = twin.parametrizations.weight[0], model.parametrizations.weight[0]
        np.testing.assert_allclose(_np(ours._u), _np(eager._u), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(_np(ours._v), _np(eager._v), rtol=1e-6, atol=1e-7)
    assert np.abs(_np(model.parametrizations.weight[0]._u) - u0).max() > 0.1


@pytest.mark.parametrize("pow,dim", [(2, 0), (2, 1), (2, 2), (2, -1), (1, 1), (3, 0)])
def test_norm_except_dim_and_weight_norm_vs_torch(pow: float, dim: int) -> None:
    v = np.random.default_rng(0).standard_normal((3, 4, 2))
    ours = adjit.norm_except_dim(adjit.tensor(v), pow, dim)
    theirs = torch.norm_except_dim(torch.tensor(v), pow, dim)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-13)
    g = np.abs(v).sum(axis=tuple(d for d in range(3) if d != dim % 3), keepdims=True)
    g = g if dim != -1 else np.float64(2.0)
    ours_w = adjit._weight_norm(adjit.tensor(v), adjit.tensor(g), dim)
    theirs_w = torch._weight_norm(torch.tensor(v), torch.tensor(g), dim)
    np.testing.assert_allclose(ours_w.numpy(), theirs_w.numpy(), rtol=1e-13)


@pytest.mark.parametrize(
    "shape, dim", [((), 0), ((0, 4), 0), ((3, 0), 1), ((3, 0), 0), ((2, 0, 3), 1)]
)
def test_norm_except_dim_edge_shapes_as_torch(shape: tuple[int, ...], dim: int) -> None:
    def outcome(T: Any) -> Any:
        try:
            return tuple(T.norm_except_dim(T.ones(shape), 2, dim).shape)
        except Exception as e:  # noqa: BLE001 - the error is the outcome compared
            return type(e).__name__, str(e)

    assert outcome(adjit) == outcome(torch)
