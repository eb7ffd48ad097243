"""Python side effects inside a compiled function happen on every call, as eagerly and as
torch.compile does (frontend/effects.py, Note [Python side effects while tracing]): the same
program run by torch.compile (backend "eager": dynamo's semantics) and adjit.compile."""

from __future__ import annotations

import logging
import random
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import adjit

CALLS = 4
COUNT = 0  # a global the programs increment
LOG: list[Any] = []  # a global list the programs append to


class Stats:
    """A plain Python object whose attributes a program updates."""

    def __init__(self) -> None:
        self.n = 0
        self.seen: dict[str, float] = {}


def _global_counter(L: Any, x: Any, state: dict) -> Any:
    global COUNT
    COUNT += 1
    return x * COUNT


def _global_list(L: Any, x: Any, state: dict) -> Any:
    y = x * 2
    LOG.append(y)  # the tensor itself: the live value of each call
    return y


def _argument_list(L: Any, x: Any, state: dict) -> Any:
    state["log"].append(len(state["log"]))
    return x + 1


def _item_counter(L: Any, x: Any, state: dict) -> Any:
    state["count"][0] += 1
    return x - state["count"][0]


def _object_attribute(L: Any, x: Any, state: dict) -> Any:
    s = state["stats"]
    s.n += 1
    s.seen[f"call{s.n}"] = 1.0
    return x * s.n


def _helper_side_effect(L: Any, x: Any, state: dict) -> Any:
    def record(v: Any) -> Any:
        state["log"].append("called")
        return v.sin()

    return record(x) + 1


def _print_every_call(L: Any, x: Any, state: dict) -> Any:
    print("step")
    return x.cos()


def _print_value(L: Any, x: Any, state: dict) -> Any:
    y = (x * 3).sum()
    print(f"loss {y.item():.4f}")
    return y


def _data_dependent_branch(L: Any, x: Any, state: dict) -> Any:
    if x.sum() > 0:
        state["log"].append("pos")
        return x * 2
    state["log"].append("neg")
    return x * 3


def _local_containers(L: Any, x: Any, state: dict) -> Any:
    outs = []
    for k in range(3):
        outs.append(x * k)
    parts = {"a": outs[1]}
    parts.update(b=outs[2])
    return L.stack(outs).sum(0) + parts["a"] + parts["b"]


PROGRAMS = [
    _global_counter,
    _global_list,
    _argument_list,
    _item_counter,
    _object_attribute,
    _helper_side_effect,
    _print_every_call,
    _print_value,
    _data_dependent_branch,
    _local_containers,
]


def _state() -> dict:
    return {"log": [], "count": [0], "stats": Stats()}


def _observed(state: dict) -> Any:
    s = state["stats"]
    log = [v.tolist() if hasattr(v, "tolist") else v for v in state["log"]]
    return log, list(state["count"]), s.n, dict(s.seen)


def _run(
    L: Any, fn: Callable[..., Any], wrap: Callable[[Any], Any], capsys: Any
) -> tuple[list, Any, str, list]:
    global COUNT
    COUNT = 0
    LOG.clear()
    state = _state()
    f = wrap(lambda x: fn(L, x, state))
    outs = []
    for k in range(CALLS):
        x = L.tensor(np.linspace(-1.0, 1.0, 3) * (1 if k % 2 == 0 else -1) + k, dtype=L.float32)
        outs.append(f(x).tolist())
    printed = capsys.readouterr().out
    return outs, _observed(state), printed, [v.tolist() for v in LOG]


@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__.strip("_"))
def test_side_effects_on_every_call(fn: Callable[..., Any], capsys: Any) -> None:
    want = _run(torch, fn, lambda f: torch.compile(f, backend="eager"), capsys)
    eager = _run(adjit, fn, lambda f: f, capsys)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the graph breaks)
        got = _run(adjit, fn, adjit.compile, capsys)
    for one in (eager, got):
        np.testing.assert_allclose(np.array(one[0]), np.array(want[0]), rtol=1e-6)
        assert one[1:] == want[1:]


def test_no_break_for_local_containers() -> None:
    state = _state()
    f = adjit.compile(lambda x: _local_containers(adjit, x, state))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a graph break warns
        for _ in range(3):
            f(adjit.ones(3))
    assert f.trace_count == 1


def test_logging_every_call(caplog: Any) -> None:
    log = logging.getLogger("adjit.test.h2b")

    def f(x: Any) -> Any:
        log.warning("step %d", 1)
        return x * 2

    compiled = adjit.compile(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            compiled(adjit.ones(2))
    assert [r.getMessage() for r in caplog.records] == ["step 1"] * 3


def test_python_random_is_drawn_every_call() -> None:
    def f(x: Any) -> Any:
        return x * random.random()

    compiled = adjit.compile(f)
    random.seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = [compiled(adjit.ones(1)).item() for _ in range(3)]
    random.seed(0)
    want = [random.random() for _ in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_module_attribute_counter() -> None:
    class Counted(adjit.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = adjit.nn.Linear(3, 2)
            self.calls = 0

        def forward(self, x: Any) -> Any:
            self.calls += 1
            return self.lin(x)

    m = Counted()
    c = adjit.compile(m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            c(adjit.ones(1, 3))
    assert m.calls == 3


def test_fullgraph_side_effects_still_run_every_call() -> None:
    seen: list[int] = []

    def f(x: Any) -> Any:
        seen.append(1)
        return x + 1

    compiled = adjit.compile(f, fullgraph=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            assert compiled(adjit.ones(2)).tolist() == [2.0, 2.0]
    assert seen == [1, 1, 1]


def test_fullgraph_still_refuses_a_value_read() -> None:
    def f(x: Any) -> Any:
        print(x.sum().item())
        return x

    with pytest.raises(RuntimeError, match="item"):
        adjit.compile(f, fullgraph=True)(adjit.ones(2))
