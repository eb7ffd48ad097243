"""Module hooks side by side with PyTorch: forward (kwargs, always_call), backward, state_dict."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch

import adjit


def _linear(lib: Any) -> Any:
    lib.manual_seed(0)
    return lib.nn.Linear(3, 2)


def _run_forward_hooks(lib: Any) -> list[Any]:
    m = _linear(lib)
    log: list[Any] = []

    def pre(mod: Any, args: tuple, kwargs: dict) -> Any:
        log.append(("pre", len(args), sorted(kwargs)))
        return (args[0] * 2,), kwargs

    def post(mod: Any, args: tuple, kwargs: dict, out: Any) -> Any:
        log.append(("post", len(args), sorted(kwargs)))
        return out + 1

    def plain_pre(mod: Any, args: tuple) -> Any:
        log.append("plain_pre")
        return args[0] + 1  # a bare tensor becomes the 1-tuple of arguments

    h1 = m.register_forward_pre_hook(pre, with_kwargs=True)
    m.register_forward_pre_hook(plain_pre, prepend=True)
    m.register_forward_hook(post, with_kwargs=True)
    out = m(lib.ones(1, 3))
    h1.remove()
    out2 = m(lib.ones(1, 3))
    return [log, out.detach().numpy(), out2.detach().numpy()]


def test_forward_hooks_with_kwargs_and_prepend() -> None:
    ours, theirs = _run_forward_hooks(adjit), _run_forward_hooks(torch)
    assert ours[0] == theirs[0]
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-6)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-6)


def _always_call(lib: Any) -> Any:
    m = _linear(lib)
    seen: list[Any] = []
    m.register_forward_hook(lambda mod, a, out: seen.append(out), always_call=True)
    with pytest.raises(RuntimeError) as err:
        m(lib.ones(1, 4))
    return seen, isinstance(err.value, RuntimeError)


def test_always_call_hook_runs_when_forward_raises() -> None:
    assert _always_call(adjit) == _always_call(torch) == ([None], True)


def test_pre_hook_with_kwargs_bad_return_error() -> None:
    msgs = []
    for lib in (adjit, torch):
        m = _linear(lib)
        m.register_forward_pre_hook(lambda mod, a, k: 3, with_kwargs=True)
        with pytest.raises(RuntimeError) as err:
            m(lib.ones(1, 3))
        msgs.append(str(err.value))
    assert msgs[0] == msgs[1]


def _backward_hooks(lib: Any, inputs_require_grad: bool) -> list[Any]:
    m = _linear(lib)
    log: list[Any] = []

    def sums(gs: tuple) -> list[Any]:
        return [None if g is None else float(g.sum()) for g in gs]

    def pre(mod: Any, grad_output: tuple) -> Any:
        log.append(("pre", sums(grad_output)))
        return (grad_output[0] * 3,)

    def hook(mod: Any, grad_input: tuple, grad_output: tuple) -> Any:
        log.append(("bw", sums(grad_input), sums(grad_output)))
        if grad_input[0] is not None:
            return (grad_input[0] * 0.5,)
        return None

    m.register_full_backward_pre_hook(pre)
    m.register_full_backward_hook(hook)
    x = lib.arange(12.0).reshape(4, 3).requires_grad_(inputs_require_grad)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (m(x) * 2).sum().backward()
    messages = [str(w.message) for w in caught]
    grads = [x.grad.numpy() if inputs_require_grad else None, m.weight.grad.numpy()]
    return [log, messages, grads]


@pytest.mark.parametrize("inputs_require_grad", [True, False])
def test_full_backward_hooks(inputs_require_grad: bool) -> None:
    ours = _backward_hooks(adjit, inputs_require_grad)
    theirs = _backward_hooks(torch, inputs_require_grad)
    for a, b in zip(ours[0], theirs[0], strict=True):
        assert a[0] == b[0]
        np.testing.assert_allclose(
            [v if v is not None else np.nan for part in a[1:] for v in part],
            [v if v is not None else np.nan for part in b[1:] for v in part],
            rtol=1e-5,
        )
    assert ours[1] == theirs[1]
    for a, b in zip(ours[2], theirs[2], strict=True):
        if a is None:
            assert b is None
        else:
            np.testing.assert_allclose(a, b, rtol=1e-5)


def _state_dict_hooks(lib: Any) -> list[Any]:
    m = lib.nn.Sequential(_linear(lib), lib.nn.ReLU())
    log: list[Any] = []
    m.register_state_dict_pre_hook(lambda mod, prefix, keep: log.append(("pre", prefix)))
    m[0]._register_state_dict_hook(lambda mod, sd, prefix, meta: log.append(("post", prefix)))

    def rename(sd: Any, prefix: str, meta: Any, strict: bool, *rest: Any) -> None:
        if prefix + "w" in sd:
            sd[prefix + "weight"] = sd.pop(prefix + "w")

    m[0]._register_load_state_dict_pre_hook(rename)
    m.register_load_state_dict_post_hook(
        lambda mod, keys: log.append(("loaded", list(keys.missing_keys)))
    )
    keys = list(m.state_dict())
    sd = {"0.w": lib.ones(2, 3), "0.bias": lib.zeros(2)}
    m.load_state_dict(sd)
    return [log, keys, m[0].weight.detach().numpy(), sorted(sd)]


def test_state_dict_hooks() -> None:
    ours, theirs = _state_dict_hooks(adjit), _state_dict_hooks(torch)
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1]
    np.testing.assert_array_equal(ours[2], theirs[2])
    assert ours[3] == theirs[3]  # the caller's dict is not modified


def _global_hooks(lib: Any) -> list[str]:
    log: list[str] = []
    g = lib.nn.modules.module
    h1 = g.register_module_forward_hook(lambda m, a, o: log.append(type(m).__name__))
    h2 = g.register_module_forward_pre_hook(lambda m, a: log.append("pre" + type(m).__name__))
    try:
        s = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.ReLU())
        s[0].register_forward_hook(lambda m, a, o: log.append("own"))
        s(lib.ones(1, 2))
    finally:
        h1.remove()
        h2.remove()
    s(lib.ones(1, 2))
    return log


def test_global_module_forward_hooks() -> None:
    assert _global_hooks(adjit) == _global_hooks(torch)
