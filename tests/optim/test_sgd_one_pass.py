"""SGD's one-pass step (Note [SGD's one-pass step]) updates every parameter, state and version
counter exactly as the general per-parameter walk does, and steps aside where it does not apply."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import adjit
from adjit.optim.sgd import SGD

OPTIONS = [
    dict(momentum=m, dampening=d, nesterov=n, weight_decay=w, maximize=x)
    for m, d, n, w, x in itertools.product(
        (0, 0.9), (0, 0.1), (False, True), (0, 1e-2), (False, True)
    )
    if not (n and (m == 0 or d != 0))
]
SHAPES = [(7, 5), (5,), (), (3, 1, 4)]


def _params(rng: np.random.Generator, dtype) -> list[adjit.Tensor]:
    return [adjit.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in SHAPES]


def _train(opts: dict, one_pass: bool, dtype, steps: int = 3) -> tuple[list[np.ndarray], list]:
    """Parameters, momentum buffers and version counters after ``steps`` steps."""
    rng = np.random.default_rng(0)
    ps = _params(rng, dtype)
    opt = SGD([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.05}], lr=0.1, **opts)
    opt._one_pass = one_pass
    for _ in range(steps):
        for p in ps:
            p.grad = adjit.tensor(rng.standard_normal(p.shape).astype(dtype))
        opt.step()
    bufs = [opt.state[p]["momentum_buffer"] for p in ps if p in opt.state]
    arrays = [p.detach().numpy().copy() for p in ps] + [b.numpy().copy() for b in bufs]
    return arrays, [p._version for p in ps] + [b._version for b in bufs] + [len(opt.state)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("opts", OPTIONS, ids=str)
def test_one_pass_equals_the_general_walk(opts: dict, dtype) -> None:
    fast, fast_versions = _train(opts, True, dtype)
    slow, slow_versions = _train(opts, False, dtype)
    assert fast_versions == slow_versions
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[adjit.Tensor]:
    """The parameters that went through the general per-parameter walk."""
    walked: list[adjit.Tensor] = []
    update = SGD._update

    def spy(self, p, grad, group, state):  # type: ignore[no-untyped-def]
        walked.append(p)
        return update(self, p, grad, group, state)

    monkeypatch.setattr(SGD, "_update", spy)
    return walked


def test_the_common_step_takes_the_one_pass_route(monkeypatch: pytest.MonkeyPatch) -> None:
    walked = _spy(monkeypatch)  # (SGD._update replaced: the class no longer qualifies...)
    monkeypatch.setattr("adjit.optim.sgd._plain_class", lambda cls: True)  # (...except here)
    p = adjit.tensor(np.ones(4, np.float32), requires_grad=True)
    opt = SGD([p], lr=0.5, momentum=0.9)
    p.grad = adjit.tensor(np.ones(4, np.float32))
    opt.step()  # the first momentum step copies the gradient: the walk
    assert walked == [p]
    opt.step()
    assert walked == [p]  # the second: one pass
    np.testing.assert_array_equal(p.detach().numpy(), np.full(4, 1 - 0.5 - 0.5 * 1.9, np.float32))


def test_parameters_the_kernel_refuses_take_the_walk() -> None:
    """A float16 parameter, a gradient of another dtype and a complex parameter share a group
    with a plain one: each gets the general update, the plain one the one pass."""
    rng = np.random.default_rng(1)
    arrays = [
        rng.standard_normal(6).astype(np.float32),
        rng.standard_normal(6).astype(np.float16),
        rng.standard_normal(6).astype(np.float32),
        (rng.standard_normal(6) + 1j).astype(np.complex64),
    ]

    def run(one_pass: bool) -> list[np.ndarray]:
        ps = [adjit.tensor(a.copy(), requires_grad=True) for a in arrays]
        ps[2].grad_dtype = None  # (its gradient is float64: allowed, as in PyTorch)
        opt = SGD(ps, lr=0.1, momentum=0.5)
        opt._one_pass = one_pass
        for k in range(3):
            for p in ps:
                p.grad = adjit.tensor(np.full(p.shape, 0.25 * (k + 1), p._data.dtype))
            ps[2].grad = adjit.tensor(np.full(6, 0.5 * (k + 1), np.float64))
            opt.step()
        return [p.detach().numpy().copy() for p in ps]

    for a, b in zip(run(True), run(False), strict=True):
        np.testing.assert_array_equal(a, b)


def test_an_instance_override_takes_the_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    walked = _spy(monkeypatch)
    p = adjit.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = SGD([p], lr=0.5)
    opt._update_arrays = opt._update_eager  # type: ignore[method-assign]
    p.grad = adjit.tensor(np.ones(3, np.float32))
    opt.step()
    assert walked == [p]


def test_a_subclass_that_changes_the_walk_keeps_it() -> None:
    seen = []

    class Logged(SGD):
        def _update(self, p, grad, group, state):  # type: ignore[no-untyped-def]
            seen.append(p)
            super()._update(p, grad, group, state)

    p = adjit.tensor(np.ones(3, np.float32), requires_grad=True)
    p.grad = adjit.tensor(np.ones(3, np.float32))
    Logged([p], lr=0.5).step()
    assert seen == [p]


@pytest.mark.parametrize("momentum, dampening", [(0, 0), (0.9, 0), (0.9, 0.1)])
def test_one_pass_follows_torch(momentum: float, dampening: float) -> None:
    """Side by side with torch.optim.SGD (float32; PyTorch's CPU ``add_(alpha=)`` fuses the
    multiply and the add, one rounding fewer than NumPy's ufuncs: within an ulp a step)."""
    rng = np.random.default_rng(2)
    p0 = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    ours = [adjit.tensor(a.copy(), requires_grad=True) for a in p0]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in p0]
    opts = dict(lr=0.1, momentum=momentum, dampening=dampening)
    o, t = SGD(ours, **opts), torch.optim.SGD(theirs, **opts)
    for _ in range(4):
        for a, b in zip(ours, theirs, strict=True):
            g = rng.standard_normal(a.shape).astype(np.float32)
            a.grad, b.grad = adjit.tensor(g), torch.tensor(g)
        o.step()
        t.step()
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=0, atol=2e-6)
    assert set(o.state_dict()["state"]) == set(t.state_dict()["state"])
