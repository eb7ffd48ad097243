"""adjit.optim vs torch.optim: identical weights and gradients give identical trajectories."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit
import adjit.nn as nn
from tests.conftest import stable_id

torch = pytest.importorskip("torch")

CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "maximize": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "maximize": True}),
    ("Adam", {"lr": 0.02, "amsgrad": True, "weight_decay": 0.05, "maximize": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "maximize": True}),
    ("Adagrad", {}),
    (
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.1},
    ),
    ("Adagrad", {"lr": 0.1, "maximize": True}),
]
SHAPES = [(3, 4), (4,), (2,)]  # the last parameter never gets a gradient
STEPS = 12


def _setup(lib: Any, name: str, kwargs: dict[str, Any], init: list[np.ndarray]) -> Any:
    params = [lib.nn.Parameter(lib.tensor(w.copy())) for w in init]
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": kwargs.get("lr", 0.01) / 2}]
    return params, getattr(lib.optim, name)(groups, **kwargs)


def _grads(step: int) -> list[np.ndarray]:
    rng = np.random.default_rng(100 + step)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES[:-1]]


def _run(
    lib: Any,
    name: str,
    kwargs: dict[str, Any],
    init: list[np.ndarray],
    steps: range,
    state: Any = None,
) -> tuple[list[Any], Any]:
    params, opt = _setup(lib, name, kwargs, init)
    if state is not None:
        opt.load_state_dict(state)
    for k in steps:
        opt.zero_grad()
        for p, g in zip(params, _grads(k), strict=False):
            p.grad = lib.tensor(g)
        opt.step()
    return params, opt


def _init() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=lambda v: str(v))
def test_trajectory_matches_torch(name: str, kwargs: dict[str, Any]) -> None:
    init = _init()
    pa, oa = _run(adjit, name, kwargs, init, range(STEPS))
    pt, ot = _run(torch, name, kwargs, init, range(STEPS))
    for a, t in zip(pa, pt, strict=True):
        np.testing.assert_allclose(a.detach().numpy(), t.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(pa[-1].detach().numpy(), init[-1])  # grad None: untouched
    sa, st = oa.state_dict(), ot.state_dict()
    assert sa["state"].keys() == st["state"].keys()
    for i, state in st["state"].items():
        assert list(sa["state"][i]) == list(state)
        for key, value in state.items():
            got = sa["state"][i][key]
            if isinstance(value, torch.Tensor):
                assert str(got.dtype) == str(value.dtype)
                np.testing.assert_allclose(got.numpy(), value.numpy(), rtol=1e-5, atol=1e-6)
    assert [g["params"] for g in sa["param_groups"]] == [g["params"] for g in st["param_groups"]]
    assert [g["lr"] for g in sa["param_groups"]] == [g["lr"] for g in st["param_groups"]]


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS[::3], ids=lambda v: str(v))
def test_state_dict_roundtrip_resumes_exactly(name: str, kwargs: dict[str, Any]) -> None:
    init = _init()
    straight, _ = _run(adjit, name, kwargs, init, range(STEPS))
    half, opt = _run(adjit, name, kwargs, init, range(STEPS // 2))
    saved = opt.state_dict()
    resumed, _ = _run(
        adjit,
        name,
        kwargs,
        [p.detach().numpy() for p in half],
        range(STEPS // 2, STEPS),
        state=saved,
    )
    for a, b in zip(straight, resumed, strict=True):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_training_loop_matches_torch(name: str) -> None:
    """A real loop: same weights, gradients from each library's own autograd."""
    ta = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    aa = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    aa.load_state_dict({k: adjit.tensor(v.numpy()) for k, v in ta.state_dict().items()})
    kwargs = {"lr": 0.05, "momentum": 0.9} if name == "SGD" else {"lr": 0.01}
    oa = getattr(adjit.optim, name)(aa.parameters(), **kwargs)
    ot = getattr(torch.optim, name)(ta.parameters(), **kwargs)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    for _ in range(10):
        for model, opt, lib in ((aa, oa, adjit), (ta, ot, torch)):
            opt.zero_grad()
            lib.nn.functional.cross_entropy(model(lib.tensor(x)), lib.tensor(y)).backward()
            opt.step()
    for (k, a), t in zip(aa.state_dict().items(), ta.state_dict().values(), strict=True):
        np.testing.assert_allclose(a.numpy(), t.numpy(), rtol=1e-4, atol=1e-5, err_msg=k)


def test_step_bumps_version_and_records_no_history() -> None:
    p = nn.Parameter(adjit.ones(3))
    opt = adjit.optim.SGD([p], lr=0.1)
    p.grad = adjit.ones(3)
    before = p._version
    opt.step()
    assert p._version > before and p.grad_fn is None and p.is_leaf
    np.testing.assert_allclose(p.detach().numpy(), 0.9)


def test_optimizer_zero_grad_and_closure() -> None:
    p = nn.Parameter(adjit.tensor([2.0]))
    opt = adjit.optim.Adam([p], lr=0.1)

    def closure() -> Any:
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 4.0
    opt.zero_grad(set_to_none=False)
    assert p.grad.numpy().tolist() == [0.0]
    opt.zero_grad()
    assert p.grad is None


SCHEDULERS = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5], "gamma": 0.1}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 6, "eta_min": 0.01}),
    ("LambdaLR", {"lr_lambda": lambda epoch: 1 / (epoch + 1)}),
]


@pytest.mark.parametrize(("name", "kwargs"), SCHEDULERS, ids=stable_id)
def test_lr_schedulers_match_torch(name: str, kwargs: dict[str, Any]) -> None:
    lrs = []
    for lib in (adjit, torch):
        opt = lib.optim.SGD([lib.nn.Parameter(lib.zeros(1))], lr=0.1)
        sched = getattr(lib.optim.lr_scheduler, name)(opt, **kwargs)
        seq = []
        for _ in range(8):
            opt.step()
            sched.step()
            seq.append(sched.get_last_lr()[0])
        lrs.append(seq)
    np.testing.assert_allclose(lrs[0], lrs[1], rtol=1e-12)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_optimizer_repr_and_group_keys_match_torch(name: str) -> None:
    opts = [
        getattr(lib.optim, name)([lib.nn.Parameter(lib.zeros(1))], lr=0.1) for lib in (adjit, torch)
    ]
    assert repr(opts[0]) == repr(opts[1])
    assert opts[0].param_groups[0].keys() == opts[1].param_groups[0].keys()
