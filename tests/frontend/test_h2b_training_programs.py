"""Training steps as users write them, with Python state and side effects in the step (step
counters, logging lists, best-loss tracking, schedules read directly, train/eval toggles),
each run for several steps as torch, eager adjit and adjit.compile of the step: returned
values, parameters, gradients, optimizer state and the Python state agree (float32 rounding).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import adjit

STEPS = 5
RNG = np.random.default_rng(5)


def _data(shape: tuple[int, ...], k: int) -> np.ndarray:
    return np.random.default_rng(100 + k).standard_normal(shape).astype(np.float32)


def accumulate_with_counter(L: Any) -> tuple:
    """Gradient accumulation driven by a Python counter incremented inside the step."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = L.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    state = {"n": 0, "losses": []}

    def step(x, y):
        loss = F.mse_loss(m(x), y) / 2
        loss.backward()
        state["n"] += 1
        if state["n"] % 2 == 0:
            opt.step()
            opt.zero_grad()
        state["losses"].append(round(loss.item(), 5))
        return loss.detach()

    def batch(k):
        return L.tensor(_data((6, 4), k)), L.tensor(_data((6, 2), k + 50))

    return m, opt, step, batch, state


class Trainer:
    """A training loop object whose method is compiled: its counters are attributes."""

    def __init__(self, L: Any) -> None:
        nn = L.nn
        L.manual_seed(1)
        self.L = L
        self.model = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 1))
        self.opt = L.optim.Adam(self.model.parameters(), lr=0.05)
        self.sched = L.optim.lr_scheduler.StepLR(self.opt, step_size=2, gamma=0.5)
        self.steps = 0
        self.history: list[float] = []

    def train_step(self, x, y):
        self.opt.zero_grad()
        loss = self.L.nn.functional.smooth_l1_loss(self.model(x), y)
        loss.backward()
        norm = self.L.nn.utils.clip_grad_norm_(self.model.parameters(), 0.5)
        self.opt.step()
        self.steps += 1
        self.history.append(self.opt.param_groups[0]["lr"])
        return loss.detach(), norm


def trainer_method(L: Any) -> tuple:
    t = Trainer(L)

    def step(x, y):
        out = t.train_step(x, y)
        t.sched.step()  # outside the compiled method: the method reads the new lr
        return out

    state = {"trainer": t}

    def batch(k):
        return L.tensor(_data((5, 3), k)), L.tensor(_data((5, 1), k + 9))

    return t.model, t.opt, step, batch, state, t


def early_stopping(L: Any) -> tuple:
    nn, F = L.nn, L.nn.functional
    L.manual_seed(2)
    m = nn.Linear(3, 2)
    opt = L.optim.SGD(m.parameters(), lr=0.5)
    state = {"best": float("inf"), "bad": 0, "stopped": False}

    def step(x, y):
        if state["stopped"]:
            return L.zeros(())
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        value = loss.item()
        if value < state["best"] - 1e-3:
            state["best"], state["bad"] = value, 0
        else:
            state["bad"] += 1
            state["stopped"] = state["bad"] >= 2
        return loss.detach()

    def batch(k):  # (noisy labels: the loss stops improving)
        return L.tensor(_data((8, 3), k % 2)), L.tensor(np.arange(8) % 2 ^ (k % 2))

    return m, opt, step, batch, state


def ema_with_warmup(L: Any) -> tuple:
    """An EMA of the weights in no_grad with in-place updates, the decay computed from a
    Python counter kept in a closure."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(3)
    m = nn.Linear(4, 3)
    ema = nn.Linear(4, 3)
    ema.load_state_dict(m.state_dict())
    opt = L.optim.SGD(m.parameters(), lr=0.2)
    count = [0]
    state = {"count": count}

    def step(x):
        opt.zero_grad()
        loss = F.mse_loss(m(x), x[:, :3])
        loss.backward()
        opt.step()
        count[0] += 1
        decay = min(0.99, (1 + count[0]) / (10 + count[0]))
        with L.no_grad():
            for pe, p in zip(ema.parameters(), m.parameters(), strict=True):
                pe.mul_(decay).add_(p, alpha=1 - decay)
        return loss.detach(), ema.weight.sum()

    def batch(k):
        return (L.tensor(_data((5, 4), k)),)

    return m, opt, step, batch, state, ema


def step_outside(L: Any) -> tuple:
    """Only forward and backward compiled (with clipping); the optimizer and a schedule step
    eagerly between calls."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(4)
    m = nn.Sequential(nn.Linear(5, 7), nn.GELU(), nn.LayerNorm(7), nn.Linear(7, 3))
    opt = L.optim.AdamW(m.parameters(), lr=0.02, weight_decay=0.1)
    sched = L.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0 / (1 + e))

    def forward_backward(x, y):
        loss = F.cross_entropy(m(x), y, label_smoothing=0.1)
        loss.backward()
        nn.utils.clip_grad_value_(m.parameters(), 0.3)
        return loss.detach()

    def batch(k):
        return L.tensor(_data((6, 5), k)), L.tensor(np.arange(6) % 3)

    def after(step_fn):
        def run(*args):
            out = step_fn(*args)
            opt.step()
            sched.step()
            opt.zero_grad()
            return out

        return run

    return m, opt, forward_backward, batch, {}, after


def train_eval_toggle(L: Any) -> tuple:
    nn, F = L.nn, L.nn.functional
    L.manual_seed(5)
    m = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
    opt = L.optim.SGD(m.parameters(), lr=0.1)
    log: list[str] = []

    def step(x, y):
        m.train()
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        m.eval()
        with L.no_grad():
            val = F.cross_entropy(m(x), y)
        log.append("train" if m.training else "eval")
        return loss.detach(), val

    def batch(k):
        return L.tensor(_data((8, 4), k)), L.tensor(np.arange(8) % 2)

    return m, opt, step, batch, {"log": log}


def amp_autocast(L: Any) -> tuple:
    nn, F = L.nn, L.nn.functional
    L.manual_seed(6)
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = L.optim.SGD(m.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        with L.autocast("cpu", dtype=L.bfloat16):
            out = m(x)
        loss = F.mse_loss(out.float(), y)
        loss.backward()
        opt.step()
        return loss.detach(), out.dtype == L.bfloat16

    def batch(k):
        return L.tensor(_data((4, 4), k)), L.tensor(_data((4, 2), k + 3))

    return m, opt, step, batch, {}


def grad_scaler_recipe(L: Any) -> tuple:
    """PyTorch's AMP recipe: scale, backward, unscale_, clip, step, update (each of the
    scaler's calls a graph break), a forward hook logging a value, accuracy counted in
    Python under no_grad."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(7)
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    feats: list[float] = []
    m[1].register_forward_hook(lambda mod, a, out: feats.append(round(out.sum().item(), 4)))
    opt = L.optim.SGD(m.parameters(), lr=0.1)
    scaler = L.amp.GradScaler("cpu", init_scale=2.0**4)
    stats = {"correct": 0, "seen": 0, "feats": feats, "scales": []}

    def step(x, y):
        opt.zero_grad()
        out = m(x)
        loss = F.cross_entropy(out, y)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        norm = nn.utils.clip_grad_norm_(m.parameters(), 0.3)
        scaler.step(opt)
        scaler.update()
        with L.no_grad():
            stats["correct"] += (out.argmax(1) == y).sum().item()
            stats["seen"] += y.shape[0]
        stats["scales"].append(scaler.get_scale())
        return loss.detach(), norm

    def batch(k):
        return L.tensor(_data((6, 4), k)), L.tensor(np.arange(6) % 2)

    return m, opt, step, batch, stats


def clip_after_outside_backward(L: Any) -> tuple:
    """backward() eagerly outside, then a compiled clip-and-step reading each call's new
    gradients (Note [.grad read while tracing])."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(8)
    m = nn.Linear(4, 3)
    opt = L.optim.SGD(m.parameters(), lr=0.2)

    def clip(max_norm):
        norm = nn.utils.clip_grad_norm_(m.parameters(), max_norm)
        return norm, m.weight.grad.abs().max()

    def batch(k):
        return (L.tensor(_data((5, 4), k)),)

    def around(clip_fn):
        def run(x):
            opt.zero_grad()
            F.mse_loss(m(x), x[:, :3]).backward()
            out = clip_fn(0.25)
            opt.step()
            return out

        return run

    return m, opt, clip, batch, {}, around


def warmup_written_in_step(L: Any) -> tuple:
    """A trainer's compiled method counting its steps and writing each group's learning
    rate (a warmup) before the optimizer's step; an evaluation summing Python floats."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(9)

    class Warm:
        def __init__(self) -> None:
            self.m = nn.Linear(4, 2)
            self.opt = L.optim.SGD(self.m.parameters(), lr=0.1, momentum=0.5)
            self.step_no = 0
            self.total = 0.0

        def step(self, x, y):
            self.step_no += 1
            for g in self.opt.param_groups:
                g["lr"] = 0.1 * min(1.0, self.step_no / 3)
            self.opt.zero_grad()
            loss = F.mse_loss(self.m(x), y)
            loss.backward()
            self.opt.step()
            with L.no_grad():
                self.total += self.m(x).pow(2).mean().item()
            return loss.detach()

    w = Warm()
    state = {"trainer": w}

    def batch(k):
        return L.tensor(_data((4, 4), k)), L.tensor(_data((4, 2), k + 1))

    def observe(step_fn):
        def run(x, y):
            out = step_fn(x, y)
            return out, w.step_no, w.total, w.opt.param_groups[0]["lr"]

        return run

    return w.m, w.opt, w.step, batch, state, observe


PROGRAMS = [
    warmup_written_in_step,
    grad_scaler_recipe,
    clip_after_outside_backward,
    accumulate_with_counter,
    trainer_method,
    early_stopping,
    ema_with_warmup,
    step_outside,
    train_eval_toggle,
    amp_autocast,
]
TOL = {"amp_autocast": (2e-2, 2e-2)}  # bfloat16 products in another order


def _plain(v: Any) -> Any:
    if hasattr(v, "detach"):
        return v.detach().float().numpy().copy()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items() if k != "trainer"}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def _run(L: Any, program: Callable[..., tuple], compiled: bool) -> list[Any]:
    made = program(L)
    model, opt, step, batch, state = made[:5]
    extra = made[5] if len(made) > 5 else None
    fn = adjit.compile(step) if compiled else step
    if program is trainer_method and compiled:
        t = extra
        t.train_step = adjit.compile(t.train_step)
        fn = step
    if program in (step_outside, clip_after_outside_backward, warmup_written_in_step):
        fn = extra(fn)
    found: list[Any] = []
    for k in range(STEPS):
        found.append(_plain(fn(*batch(k))))
        found.append([_plain(p) for p in model.parameters()])
        found.append([None if p.grad is None else _plain(p.grad) for p in model.parameters()])
        found.append([_plain(b) for b in model.buffers()])
        found.append(_plain(opt.state_dict()["state"]))
        found.append(_plain(state))
    if program is trainer_method:
        found.append((extra.steps, extra.history))
    if program is ema_with_warmup:
        found.append([_plain(p) for p in extra.parameters()])
    return found


def _close(got: Any, want: Any, tol: tuple[float, float], where: str = "") -> None:
    if isinstance(want, np.ndarray):
        np.testing.assert_allclose(got, want, rtol=tol[0], atol=tol[1], err_msg=where)
    elif isinstance(want, dict):
        assert set(got) == set(want), where
        for k in want:
            _close(got[k], want[k], tol, f"{where}.{k}")
    elif isinstance(want, list | tuple):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _close(g, w, tol, f"{where}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=tol[0], abs=tol[1]), where
    else:
        assert got == want, where


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_training_program_three_ways(program: Callable[..., tuple]) -> None:
    tol = TOL.get(program.__name__, (2e-5, 2e-6))
    want = _run(torch, program, False)
    _close(_run(adjit, program, False), want, tol, "eager")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the graph breaks)
        _close(_run(adjit, program, True), want, tol, "compiled")


def test_grad_scaler_under_fullgraph_refuses() -> None:
    m = adjit.nn.Linear(3, 1)
    opt = adjit.optim.SGD(m.parameters(), lr=0.1)
    scaler = adjit.amp.GradScaler("cpu")

    def step(x):
        opt.zero_grad()
        scaler.scale(m(x).sum()).backward()
        scaler.step(opt)
        scaler.update()

    with pytest.raises(RuntimeError, match=r"GradScaler\.step\(\) inside a compiled function"):
        adjit.compile(step, fullgraph=True)(adjit.ones(2, 3))
