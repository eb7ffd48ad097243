"""Python state a compiled function reads is read on every call, as eagerly and as
torch.compile does (frontend/python_state.py, Note [Python state read while tracing]): values
in global dicts and lists, closure cells, attributes of plain objects and modules, an
optimizer's learning rate read directly, changed between calls."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import adjit

CFG = {"scale": 2.0}
SCALES = [2.0]


class Config:
    def __init__(self) -> None:
        self.alpha = 2.0
        self.inner = {"beta": 1.0}


CONF = Config()


def _global_dict(L: Any, x: Any, box: dict) -> Any:
    return x * CFG["scale"]


def _global_list(L: Any, x: Any, box: dict) -> Any:
    return x * SCALES[0]


def _object_attribute(L: Any, x: Any, box: dict) -> Any:
    return x * CONF.alpha + CONF.inner["beta"]


def _argument_object(L: Any, x: Any, box: dict) -> Any:
    return x * box["conf"].alpha


def _returned_number(L: Any, x: Any, box: dict) -> Any:
    return x * 2, CFG["scale"]


def _set(k: int, box: dict) -> None:
    CFG["scale"] = 2.0 + k
    SCALES[0] = 1.0 - k
    CONF.alpha = 0.5 * k
    CONF.inner["beta"] = float(k * k)
    box["conf"].alpha = 3.0 - k


PROGRAMS = [_global_dict, _global_list, _object_attribute, _argument_object, _returned_number]


def _run(L: Any, fn: Callable[..., Any], wrap: Callable[[Any], Any]) -> list[Any]:
    box = {"conf": Config()}
    f = wrap(lambda x: fn(L, x, box))
    found = []
    for k in range(6):
        _set(k % 4, box)  # (changes every call; the fourth change repeats the first values)
        out = f(L.ones(3))
        outs = out if isinstance(out, tuple) else (out,)
        found.append([o.tolist() if hasattr(o, "tolist") else o for o in outs])
    return found


@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__.strip("_"))
def test_state_read_every_call(fn: Callable[..., Any]) -> None:
    want = _run(torch, fn, lambda f: torch.compile(f, backend="eager"))
    assert _run(adjit, fn, lambda f: f) == want
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _run(adjit, fn, adjit.compile) == want


def test_state_changing_every_call_stops_retracing() -> None:
    """After a few changes the function runs in segment mode, its numbers program inputs."""
    f = adjit.compile(lambda x: x * CFG["scale"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(12):
            CFG["scale"] = float(k)
            assert f(adjit.ones(2)).tolist() == [float(k)] * 2
    assert f.trace_count <= 4


def test_unchanged_state_traces_once() -> None:
    f = adjit.compile(lambda x: x * CFG["scale"] + CONF.alpha)
    for _ in range(4):
        f(adjit.ones(2))
    assert f.trace_count == 1


def _lr_programs(L: Any) -> tuple[Any, Any, Callable[..., Any]]:
    L.manual_seed(0)
    lin = L.nn.Linear(4, 3)
    opt = L.optim.SGD(lin.parameters(), lr=0.1)

    def manual_sgd(x: Any) -> Any:
        loss = lin(x).pow(2).mean()
        loss.backward()
        with L.no_grad():
            for p in lin.parameters():
                p -= opt.param_groups[0]["lr"] * p.grad
                p.grad = None
        return loss, opt.param_groups[0]["lr"]

    return lin, opt, manual_sgd


def test_learning_rate_read_directly_follows_the_schedule() -> None:
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    found = []
    for L, wrap in ((torch, lambda f: f), (adjit, adjit.compile)):
        lin, opt, step = _lr_programs(L)
        sched = L.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        f = wrap(step)
        got = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(4):
                loss, lr = f(L.tensor(x))
                got.append((loss.item(), lr))
                sched.step()
        found.append((got, lin.weight.detach().numpy().copy()))
    (want, w_want), (got, w_got) = found
    np.testing.assert_allclose([g[0] for g in got], [w[0] for w in want], rtol=1e-5)
    assert [g[1] for g in got] == [w[1] for w in want]
    np.testing.assert_allclose(w_got, w_want, rtol=1e-5, atol=1e-6)


def test_module_container_attribute() -> None:
    class Scaled(adjit.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = adjit.nn.Linear(3, 2)
            self.cfg = {"scale": 2.0}

        def forward(self, x: Any) -> Any:
            return self.lin(x) * self.cfg["scale"]

    m = Scaled()
    c = adjit.compile(m)
    x = adjit.ones(1, 3)
    for s in (2.0, 3.0, 5.0):
        m.cfg["scale"] = s
        np.testing.assert_allclose(c(x).detach().numpy(), m(x).detach().numpy(), rtol=1e-6)


def test_training_flag_toggles() -> None:
    m = adjit.nn.Sequential(adjit.nn.Linear(8, 8), adjit.nn.Dropout(0.5))
    c = adjit.compile(m)
    x = adjit.ones(4, 8)
    m.eval()
    np.testing.assert_allclose(c(x).detach().numpy(), m(x).detach().numpy(), rtol=1e-6)
    m.train()
    assert (c(x) == 0).any()
    m.eval()
    np.testing.assert_allclose(c(x).detach().numpy(), m[0](x).detach().numpy(), rtol=1e-6)
