"""torch.optim.Muon side by side with torch: trajectories over several steps (each flag that
changes the update), state_dict round trips both ways, errors, and the step compiled inside
a training step against eager."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit
import adjit.nn as nn
import adjit.nn.functional as F

torch = pytest.importorskip("torch")

SHAPES = [(6, 10), (12, 5), (4, 4), (3, 3)]  # wide, tall (transposed), square; the last: no grad
STEPS = 8
CONFIGS: list[dict[str, Any]] = [
    {},
    {"lr": 0.02, "nesterov": False, "adjust_lr_fn": "match_rms_adamw", "weight_decay": 0.0},
    {"lr": 0.01, "momentum": 0.5, "ns_steps": 3, "ns_coefficients": (3.0, -3.2, 1.2)},
    {"lr": 0.05, "adjust_lr_fn": "original", "eps": 1e-3, "weight_decay": 0.3},
]


def _init(dtype: str) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _make(lib: Any, kwargs: dict[str, Any], init: list[np.ndarray]) -> tuple[list[Any], Any]:
    params = [lib.nn.Parameter(lib.tensor(w.copy())) for w in init]
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": kwargs.get("lr", 1e-3) / 2}]
    return params, lib.optim.Muon(groups, **kwargs)


def _steps(lib: Any, params: list[Any], opt: Any, steps: range, dtype: str) -> None:
    for k in steps:
        rng = np.random.default_rng(100 + k)
        opt.zero_grad()
        for p, s in zip(params[:-1], SHAPES, strict=False):
            p.grad = lib.tensor(rng.standard_normal(s).astype(dtype))
        opt.step()


def _assert_close(ours: list[Any], theirs: list[Any], kwargs: dict[str, Any]) -> None:
    """Note [Muon's bfloat16] in adjit/optim/muon.py: the Newton-Schulz products accumulate
        in float32 in another order than PyTorch's bfloat16 GEMM, so now and then one product
        rounds to the neighbouring bfloat16: that update element moves by one bfloat16 ulp of the
        orthogonalised update (entries below 2: 2**-7), times the step's learning rate (at most
        ``lr * sqrt(12 / 5)`` here). Most elements agree to a few ulps of their dtype (float32:
    bit for bit; float64: PyTorch's fused multiply-adds in the momentum and the step)."""
    bound = STEPS * kwargs.get("lr", 1e-3) * max(1.0, 0.2 * np.sqrt(12)) * np.sqrt(12 / 5)
    bound *= 2.0**-7
    same = total = 0
    for a, t in zip(ours, theirs, strict=True):
        a, t = a.detach().numpy(), t.detach().numpy()
        assert a.dtype == t.dtype and a.shape == t.shape
        np.testing.assert_allclose(a, t, rtol=0, atol=bound)
        close = np.abs(a - t) <= 4 * np.finfo(t.dtype).eps * np.abs(t)
        same, total = same + int(close.sum()), total + a.size
    assert same >= 0.9 * total, (same, total)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_trajectory_and_state_match_torch(kwargs: dict[str, Any], dtype: str) -> None:
    init = _init(dtype)
    pa, oa = _make(adjit, kwargs, init)
    pt, ot = _make(torch, kwargs, init)
    _steps(adjit, pa, oa, range(STEPS), dtype)
    _steps(torch, pt, ot, range(STEPS), dtype)
    _assert_close(pa, pt, kwargs)
    np.testing.assert_array_equal(pa[-1].detach().numpy(), init[-1])  # no grad: untouched
    sa, st = oa.state_dict(), ot.state_dict()
    assert sa["param_groups"] == st["param_groups"]
    assert sa["state"].keys() == st["state"].keys() == {0, 1, 2}
    for i, state in st["state"].items():
        assert list(sa["state"][i]) == list(state) == ["momentum_buffer"]
        ours, theirs = sa["state"][i]["momentum_buffer"].numpy(), state["momentum_buffer"].numpy()
        eps = np.finfo(dtype).eps  # a few ulps of the lerps' terms
        np.testing.assert_allclose(ours, theirs, rtol=4 * eps, atol=4 * eps * np.abs(theirs).max())
    assert repr(oa) == repr(ot)


def _to(lib: Any, value: Any) -> Any:
    if isinstance(value, (adjit.Tensor, torch.Tensor)):
        return lib.tensor(value.detach().numpy().copy())
    if isinstance(value, dict):
        return {k: _to(lib, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to(lib, v) for v in value)
    return value


@pytest.mark.parametrize(("src", "dst"), [("adjit", "torch"), ("torch", "adjit")])
def test_state_dict_round_trip(src: str, dst: str) -> None:
    libs = {"adjit": adjit, "torch": torch}
    kwargs = CONFIGS[1]
    p_src, o_src = _make(libs[src], kwargs, _init("float32"))
    _steps(libs[src], p_src, o_src, range(STEPS // 2), "float32")
    p_dst, o_dst = _make(libs[dst], kwargs, [p.detach().numpy() for p in p_src])
    o_dst.load_state_dict(_to(libs[dst], o_src.state_dict()))
    _steps(libs[dst], p_dst, o_dst, range(STEPS // 2, STEPS), "float32")
    p_ref, o_ref = _make(torch, kwargs, _init("float32"))
    _steps(torch, p_ref, o_ref, range(STEPS), "float32")
    _assert_close(p_dst if dst == "adjit" else p_dst, p_ref, kwargs)


@pytest.mark.parametrize(
    "program",
    [
        lambda L: L.optim.Muon([L.nn.Parameter(L.ones(3))]),
        lambda L: L.optim.Muon([L.nn.Parameter(L.ones(2, 3, 4))]),
        lambda L: L.optim.Muon([L.nn.Parameter(L.ones(2, 2))], lr=-1.0),
        lambda L: L.optim.Muon([L.nn.Parameter(L.ones(2, 2))], lr=L.ones(2)),
        lambda L: L.optim.Muon([L.nn.Parameter(L.ones(2, 2))], momentum=-0.5),
        lambda L: L.optim.Muon([L.nn.Parameter(L.ones(2, 2))], weight_decay=-0.1),
        lambda L: L.optim.Muon([L.nn.Parameter(L.ones(2, 2))], adjust_lr_fn="rms"),
        lambda L: _stepped(L, ns_steps=100),
        lambda L: _stepped(L, ns_coefficients=(1.0, 2.0)),
        lambda L: _stepped(L, dtype=L.complex64),
    ],
)
def test_errors_match_torch(program: Any) -> None:
    with pytest.raises(Exception) as expected:
        program(torch)
    with pytest.raises(type(expected.value)) as got:
        program(adjit)
    assert str(got.value) == str(expected.value)


def _stepped(L: Any, dtype: Any = None, **kwargs: Any) -> None:
    p = L.nn.Parameter(L.ones(2, 3, dtype=dtype or L.float32))
    opt = L.optim.Muon([p], **kwargs)
    p.grad = L.ones(2, 3, dtype=p.dtype)
    opt.step()


def test_defaults_match_torch() -> None:
    ours = adjit.optim.Muon([adjit.nn.Parameter(adjit.ones(2, 2))])
    theirs = torch.optim.Muon([torch.nn.Parameter(torch.ones(2, 2))])
    assert ours.defaults == theirs.defaults


def _train(compiled: bool) -> tuple[list[float], list[np.ndarray]]:
    adjit.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8, bias=False), nn.Tanh(), nn.Linear(8, 3, bias=False))
    opt = adjit.optim.Muon(model.parameters(), lr=0.05)

    def step(x: Any, y: Any) -> Any:
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    run = adjit.compile(step, fullgraph=True) if compiled else step
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(5):
        x = adjit.tensor(rng.standard_normal((5, 4)).astype(np.float32))
        y = adjit.tensor(rng.standard_normal((5, 3)).astype(np.float32))
        losses.append(run(x, y).item())
    return losses, [p.detach().numpy() for p in model.parameters()]


def test_compiled_step_matches_eager() -> None:
    """The whole training step (forward, backward, Muon's step) as one compiled program."""
    eager, compiled = _train(False), _train(True)
    np.testing.assert_allclose(compiled[0], eager[0], rtol=2e-6)
    _assert_close(
        [adjit.tensor(p) for p in compiled[1]], [adjit.tensor(p) for p in eager[1]], {"lr": 0.05}
    )
