"""nn.AdaptiveLogSoftmaxWithLoss side by side with PyTorch: weights from the seed, outputs,
losses, gradients, log_prob, predict, repr, state_dict keys and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import adjit


def _a(t: torch.Tensor) -> adjit.Tensor:
    return adjit.tensor(t.detach().numpy())


def _pair(*args, dtype=torch.float32, **kw):
    torch.manual_seed(3)
    adjit.manual_seed(3)
    want = torch.nn.AdaptiveLogSoftmaxWithLoss(*args, **kw)
    got = adjit.nn.AdaptiveLogSoftmaxWithLoss(*args, **kw)
    if dtype is torch.float64:
        want, got = want.double(), got.double()
    return want, got


CONFIGS = [
    # in_features, n_classes, cutoffs, div_value, head_bias
    (16, 20, [4, 9, 15], 2.0, True),
    (10, 12, [5], 4.0, False),
    (32, 40, (10, 20, 30), 4.0, True),
    (8, 6, [1, 2, 3, 4, 5], 1.0, False),
]


@pytest.mark.parametrize("config", CONFIGS)
def test_weights_repr_and_keys_from_the_seed(config):
    want, got = _pair(*config)
    assert repr(got) == repr(want)
    assert list(got.state_dict()) == list(want.state_dict())
    for k, v in want.state_dict().items():
        np.testing.assert_array_equal(got.state_dict()[k].numpy(), v.numpy())
    for name in ("in_features", "n_classes", "cutoffs", "div_value", "head_bias"):
        assert getattr(got, name) == getattr(want, name)
    assert (got.shortlist_size, got.n_clusters, got.head_size) == (
        want.shortlist_size,
        want.n_clusters,
        want.head_size,
    )


def _targets(n_classes: int, n: int, seed: int) -> torch.Tensor:
    return torch.randint(0, n_classes, (n,), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("batch", [1, 2, 9])
def test_forward_backward_vs_torch(dtype, config, batch):
    tol = 1e-12 if dtype is torch.float64 else 2e-6
    want, got = _pair(*config, dtype=dtype)
    x = torch.randn(batch, config[0], dtype=dtype, generator=torch.Generator().manual_seed(1))
    t = _targets(config[1], batch, batch)
    xt, xa = x.clone().requires_grad_(), _a(x).requires_grad_()
    w, g = want(xt, t), got(xa, _a(t))
    assert type(g).__name__ == "_ASMoutput" and g._fields == ("output", "loss")
    assert g.output.shape == w.output.shape and g.loss.shape == w.loss.shape
    np.testing.assert_allclose(g.output.detach().numpy(), w.output.detach().numpy(), rtol=tol)
    np.testing.assert_allclose(g.loss.item(), w.loss.item(), rtol=tol)
    (w.loss * 2 + w.output.sum()).backward()
    (g.loss * 2 + g.output.sum()).backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=tol, atol=tol)
    for (k, p), (k2, q) in zip(want.named_parameters(), got.named_parameters(), strict=True):
        assert k == k2
        assert (q.grad is None) == (p.grad is None), k
        if p.grad is not None:
            np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_unbatched(dtype):
    tol = 1e-12 if dtype is torch.float64 else 2e-6
    want, got = _pair(*CONFIGS[0], dtype=dtype)
    x = torch.randn(16, dtype=dtype, generator=torch.Generator().manual_seed(2))
    for target in (2, 17):
        w, g = want(x, torch.tensor(target)), got(_a(x), adjit.tensor(target))
        assert g.output.shape == w.output.shape == ()
        np.testing.assert_allclose(g.output.item(), w.output.item(), rtol=tol)
        np.testing.assert_allclose(g.loss.item(), w.loss.item(), rtol=tol)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("config", CONFIGS)
def test_log_prob_and_predict(dtype, config):
    tol = 1e-12 if dtype is torch.float64 else 2e-6
    want, got = _pair(*config, dtype=dtype)
    x = torch.randn(50, config[0], dtype=dtype, generator=torch.Generator().manual_seed(4))
    np.testing.assert_allclose(
        got.log_prob(_a(x)).detach().numpy(), want.log_prob(x).detach().numpy(), rtol=tol, atol=tol
    )
    for rows in (x, x[:1], x[:7]):
        np.testing.assert_array_equal(got.predict(_a(rows)).numpy(), want.predict(rows).numpy())


def test_predict_all_three_paths():
    """predict's shortcut (all rows in the shortlist), the all-outside and the mixed paths."""
    want, got = _pair(4, 10, [3, 6], 2.0, True, dtype=torch.float64)
    for bias in ([9, 9, 9, -9, -9], [-9, -9, -9, 9, 9], [0, 0, 0, 0, 0]):
        with torch.no_grad():
            want.head.bias.copy_(torch.tensor(bias, dtype=torch.float64))
        got.head.bias.data = adjit.tensor(np.array(bias, dtype=np.float64))
        x = torch.randn(30, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
        np.testing.assert_array_equal(got.predict(_a(x)).numpy(), want.predict(x).numpy())


def test_compiled_log_prob_and_eager_only_methods():
    want, got = _pair(*CONFIGS[0], dtype=torch.float64)
    x = torch.randn(6, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    xt, xa = x.clone().requires_grad_(), _a(x).requires_grad_()
    weights = torch.linspace(-1, 1, 6 * 20, dtype=torch.float64).reshape(6, 20)
    (want.log_prob(xt) * weights).sum().backward()
    compiled = adjit.compile(lambda v: got.log_prob(v))
    (compiled(xa) * _a(weights)).sum().backward()
    np.testing.assert_allclose(
        compiled(xa).detach().numpy(), want.log_prob(x).detach().numpy(), rtol=1e-12
    )
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    for p, q in zip(want.parameters(), got.parameters(), strict=True):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-12, atol=1e-12)
    t = adjit.tensor([0, 5, 19, 10, 3, 16])
    for method in (lambda v: got(v, t).loss, got.predict):
        with pytest.raises(adjit.TracingError, match="AdaptiveLogSoftmaxWithLoss"):
            adjit.compile(method, fullgraph=True)(_a(x))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # by default a graph break (with a warning)
            split = adjit.compile(method)(_a(x))
        np.testing.assert_array_equal(split.detach().numpy(), method(_a(x)).detach().numpy())


def _errors():
    x2, x1 = torch.randn(3, 16), torch.randn(16)
    return [
        ((16, 20, []), None, None),
        ((16, 20, [4, 3]), None, None),
        ((16, 20, [0, 5]), None, None),
        ((16, 20, [4, 20]), None, None),
        ((16, 20, [4, 4]), None, None),
        ((16, 20, [4.5]), None, None),
        ((16, 20, [4, 9]), x2, torch.tensor([1, 2])),
        ((16, 20, [4, 9]), x2.unsqueeze(0), torch.tensor([1, 2, 3])),
        ((16, 20, [4, 9]), x2, torch.tensor(1)),
        ((16, 20, [4, 9]), x2, torch.tensor([[1, 2, 3]])),
        ((16, 20, [4, 9]), x2, torch.tensor([1, 20, 3])),
        ((16, 20, [4, 9]), x2, torch.tensor([-1, 2, 3])),
        ((16, 20, [4, 9]), x1, torch.tensor(25)),
    ]


@pytest.mark.parametrize("case", range(len(_errors())))
def test_errors_vs_torch(case):
    args, x, t = _errors()[case]

    def run(lib, conv):
        module = lib.nn.AdaptiveLogSoftmaxWithLoss(*args)
        if x is not None:
            module(conv(x), conv(t))

    with pytest.raises(Exception) as want:
        run(torch, lambda v: v)
    with pytest.raises(Exception) as got:
        run(adjit, _a)
    assert type(got.value) is type(want.value)
    assert str(got.value) == str(want.value)
