"""Python that is no side effect (warnings filters, adjit's own warnings) keeps one graph; a
list given constants is replayed; adjit.grad refuses a side effect clearly; side by side."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
from adjit.runtime.trace_state import TracingError

import adjit

A = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])


def _quiet_cholesky(T: Any, a: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return T.cholesky(a @ a.mT).sum()


def _no_breaks(compiled: Any, *args: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a graph-break warning would raise
        return compiled(*args)


def test_catch_warnings_and_simplefilter_keep_one_graph() -> None:
    compiled = adjit.compile(lambda a: _quiet_cholesky(adjit, a))
    for _ in range(3):
        got = _no_breaks(compiled, adjit.tensor(A))
    want = _quiet_cholesky(torch, torch.tensor(A))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    assert compiled.trace_count == 1


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
def test_grad_through_catch_warnings_as_torch(backend: str) -> None:
    got = adjit.grad(lambda a: _quiet_cholesky(adjit, a), backend=backend)(adjit.tensor(A))
    t = torch.tensor(A, requires_grad=True)
    (want,) = torch.autograd.grad(_quiet_cholesky(torch, t), t)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10, atol=1e-12)


def test_adjits_own_warning_is_no_side_effect() -> None:
    """adjit.cholesky warns that it is deprecated (as torch's): that is adjit's own code."""
    compiled = adjit.compile(lambda a: adjit.cholesky(a @ a.mT).sum())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = compiled(adjit.tensor(A))
        compiled(adjit.tensor(A))
    assert not [w for w in caught if "graph break" in str(w.message)]
    assert compiled.trace_count == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = torch.cholesky(torch.tensor(A) @ torch.tensor(A).mT).sum()
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


def test_constants_appended_to_a_list_are_replayed_in_one_graph() -> None:
    """torch.compile replays the append on every call; so does adjit, without a break."""

    def run(T: Any, compile_: Any) -> tuple[list[Any], list[Any]]:
        log: list[Any] = []

        def step(x: Any) -> Any:
            log.append(("step", 1, None))
            return (x * 2).sum()

        fn = compile_(step)
        outs = [fn(T.ones(3) * k).item() for k in range(3)]
        return log, outs

    ours = run(adjit, lambda f: _counted(adjit.compile(f)))
    theirs = run(torch, lambda f: torch.compile(f, backend="eager"))
    assert ours == theirs
    assert _COUNTS[-1].trace_count == 1


_COUNTS: list[Any] = []


def _counted(compiled: Any) -> Any:
    _COUNTS.append(compiled)

    def call(x: Any) -> Any:
        return _no_breaks(compiled, x)

    return call


def test_a_value_appended_still_runs_every_call() -> None:
    log: list[Any] = []

    def step(x: Any) -> Any:
        y = x * 2
        log.append(y.sum().item())
        return y

    compiled = adjit.compile(step)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(3):
            compiled(adjit.ones(2) * k)
    assert log == [0.0, 4.0, 8.0]


def _count_own_length(log: list[Any], x: Any) -> Any:
    log.append(len(log))
    return x + 1


def _sum_of_log(log: list[Any], x: Any) -> Any:
    log.append(1)
    return x * sum(log)


def _helper_reads(log: list[Any], x: Any) -> Any:
    _append_twice(log)
    return x * 2


def _append_twice(log: list[Any]) -> None:
    log.append(len(log))
    log.append(str(log[-1]))


@pytest.mark.parametrize("body", [_count_own_length, _sum_of_log, _helper_reads])
def test_a_list_the_function_reads_is_not_replayed(body: Any) -> None:
    """Constants computed from the list itself differ per call: run every call, as torch's."""

    def run(T: Any, compile_: Any) -> tuple[list[Any], list[Any]]:
        log: list[Any] = []
        fn = compile_(lambda x: body(log, x))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outs = [fn(T.ones(2) * k).tolist() for k in range(4)]
        return log, outs

    assert run(adjit, adjit.compile) == run(torch, lambda f: torch.compile(f, backend="eager"))


@pytest.mark.parametrize("make", [adjit.grad, adjit.value_and_grad])
def test_grad_refuses_a_side_effect_clearly(make: Any) -> None:
    def loss(x: Any) -> Any:
        print("tracing")
        return (x * x).sum()

    with pytest.raises(TracingError, match=r"compiles its function as one graph.*print\(\)"):
        make(loss)(adjit.ones(3))
