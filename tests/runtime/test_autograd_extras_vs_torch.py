"""Autograd extras side by side with PyTorch: saved-tensor hooks, save_on_cpu,
once_differentiable, anomaly mode's forward traceback, activation checkpointing."""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import adjit


def _sub(lib: Any, name: str) -> Any:
    return importlib.import_module(f"{lib.__name__}.{name}")


def _np(t: Any) -> np.ndarray:
    return t.detach().numpy()


def _x(lib: Any) -> Any:
    return lib.tensor([[1.0, -2.0, 0.5], [0.3, 0.7, -1.1]], dtype=lib.float64, requires_grad=True)


def test_saved_tensor_hooks_see_every_saved_tensor() -> None:
    for lib in (adjit, torch):
        graph = _sub(lib, "autograd.graph")
        x, log = _x(lib), []

        def pack(t: Any, log: list = log, lib: Any = lib) -> Any:
            log.append(("pack", lib.is_grad_enabled()))
            return t * 1  # runs without grad, as PyTorch runs pack hooks

        def unpack(t: Any, log: list = log) -> Any:
            log.append(("unpack", None))
            return t

        with graph.saved_tensors_hooks(pack, unpack):
            y = (x * x).exp().sum()
        y.backward()
        packs = [e for e in log if e[0] == "pack"]
        assert packs and all(enabled is False for _, enabled in packs)
        assert len(packs) == sum(e[0] == "unpack" for e in log)
        np.testing.assert_allclose(_np(x.grad), _np(2 * x * (x * x).exp()), rtol=1e-14)


def test_unpack_hook_result_is_what_backward_reads() -> None:
    grads = []
    for lib in (adjit, torch):
        graph = _sub(lib, "autograd.graph")
        x = _x(lib)
        with graph.saved_tensors_hooks(lambda t: t, lambda t: t * 2):
            y = x.sin().sum()  # backward reads cos(2x) from the doubled saved input
        y.backward()
        grads.append(_np(x.grad))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-14)


def test_save_on_cpu_and_disabled_hooks_as_torch() -> None:
    outcomes = []
    for lib in (adjit, torch):
        graph = _sub(lib, "autograd.graph")
        x = _x(lib)
        with graph.save_on_cpu():
            y = (x.sin() * x).sum()
        y.backward()
        with graph.disable_saved_tensors_hooks("hooks are off here"):
            try:
                with graph.saved_tensors_hooks(lambda t: t, lambda t: t):
                    pass
            except RuntimeError as e:
                message = str(e)
        with graph.saved_tensors_hooks(lambda t: t, lambda t: t):  # enabled again
            pass
        outcomes.append((_np(x.grad).tolist(), message))
    assert outcomes[0] == outcomes[1]


def _square(lib: Any) -> Any:
    once = _sub(lib, "autograd.function").once_differentiable

    class Square(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, a: Any) -> Any:
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        @once
        def backward(ctx: Any, g: Any) -> Any:
            (a,) = ctx.saved_tensors
            return 2 * a * g

    return Square


def _once_outcome(lib: Any) -> list[Any]:
    square, x = _square(lib), _x(lib)
    (g,) = lib.autograd.grad(square.apply(x).sum(), x, create_graph=True)
    out = [_np(g).tolist(), g.requires_grad]
    ones = lib.ones(2, 3, dtype=lib.float64, requires_grad=True)
    (g,) = lib.autograd.grad(square.apply(x), x, grad_outputs=ones, create_graph=True)
    out.append(g.requires_grad)
    try:
        g.sum().backward()
    except RuntimeError as e:
        out.append(str(e))
    return out


def test_once_differentiable_as_torch() -> None:
    assert _once_outcome(adjit) == _once_outcome(torch)


def _anomaly_outcome(lib: Any) -> tuple[str, list[str]]:
    x = lib.tensor([-1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with lib.autograd.detect_anomaly():
            y = x.sqrt()  # the forward line the warning must show
            z = (y * 0 + y).sum()
            try:
                z.backward()
            except RuntimeError as e:
                error = str(e)
    messages = [str(w.message).split(" (Triggered internally")[0] for w in caught]
    return error, messages


def test_anomaly_mode_warns_with_the_forward_traceback_as_torch() -> None:
    got, want = _anomaly_outcome(adjit), _anomaly_outcome(torch)
    assert got[0] == want[0] == "Function 'SqrtBackward0' returned nan values in its 0th output."
    assert got[1] == want[1]
    assert any("y = x.sqrt()  # the forward line" in m for m in got[1])


def test_anomaly_traceback_is_only_kept_in_anomaly_mode() -> None:
    x = adjit.tensor([-1.0], requires_grad=True)
    assert x.sqrt().grad_fn._forward_stack is None
    with adjit.autograd.detect_anomaly():
        stack = x.sqrt().grad_fn._forward_stack
    runtime = os.path.dirname(adjit.runtime.tensor.__file__)
    assert stack and not any(runtime in line for line in stack)
    assert any("test_autograd_extras_vs_torch.py" in line for line in stack)


# ---- activation checkpointing ----------------------------------------------------------------
def _model(lib: Any) -> tuple[Any, Callable[[Any], Any]]:
    lib.manual_seed(0)
    lin = lib.nn.Linear(3, 3).double()

    def f(a: Any) -> Any:
        return lib.nn.functional.dropout(lin(a).tanh(), 0.3) * a

    return lin, f


@pytest.mark.parametrize("reentrant", [False, True])
def test_checkpoint_as_torch(reentrant: bool) -> None:
    results = []
    for lib in (adjit, torch):
        ck = _sub(lib, "utils.checkpoint")
        lin, f = _model(lib)
        x = _x(lib)
        lib.manual_seed(5)  # dropout inside: the recomputation must draw the same mask
        y = ck.checkpoint(f, x, use_reentrant=reentrant)
        (y * y).sum().backward()
        results.append(
            [
                type(y.grad_fn).__name__,
                _np(y),
                _np(x.grad),
                _np(lin.weight.grad),
                _np(lin.bias.grad),
            ]
        )
    assert results[0][0] == results[1][0]
    for a, t in zip(results[0][1:], results[1][1:], strict=True):
        np.testing.assert_allclose(a, t, rtol=1e-12, atol=1e-14)


def test_checkpoint_without_reentrant_supports_grad_and_double_backward() -> None:
    results = []
    for lib in (adjit, torch):
        ck, x = _sub(lib, "utils.checkpoint"), _x(lib)
        y = ck.checkpoint(lambda a, lib=lib: (a * a).exp() * a.sin(), x, use_reentrant=False)
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), x)
        results.append((_np(g), _np(gg)))
    for a, t in zip(*results, strict=True):
        np.testing.assert_allclose(a, t, rtol=1e-12)


def test_checkpoint_sequential_as_torch() -> None:
    results = []
    for lib in (adjit, torch):
        ck = _sub(lib, "utils.checkpoint")
        lib.manual_seed(1)
        nn = lib.nn
        seq = nn.Sequential(
            nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4), nn.Sigmoid(), nn.Linear(4, 2)
        )
        seq = seq.double()
        x = _x(lib)
        out = ck.checkpoint_sequential(seq, 2, x, use_reentrant=False)
        out.sum().backward()
        results.append([_np(out), _np(x.grad)] + [_np(p.grad) for p in seq.parameters()])
    for a, t in zip(*results, strict=True):
        np.testing.assert_allclose(a, t, rtol=1e-12, atol=1e-14)


def _warnings_and_errors(lib: Any) -> list[Any]:
    ck = _sub(lib, "utils.checkpoint")
    out: list[Any] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ck.checkpoint(lambda a: a * 2, _x(lib))
        ck.checkpoint(lambda a: a * 2, lib.ones(2), use_reentrant=True)
    out += [str(w.message) for w in caught]
    for call in (
        lambda: ck.checkpoint(lambda a, k=0: a, _x(lib), use_reentrant=True, k=1),
        lambda: ck.checkpoint(lambda a: a, _x(lib), use_reentrant=True, debug=True),
        lambda: ck.checkpoint(lambda a: a, _x(lib), use_reentrant=False, determinism_check="x"),
    ):
        try:
            call()
        except ValueError as e:
            out.append(str(e))
    return out


def test_checkpoint_warnings_and_errors_as_torch() -> None:
    assert _warnings_and_errors(adjit) == _warnings_and_errors(torch)


# ---- what an op saves for backward (a later in-place write trips only what was saved) --------
SAVES: dict[str, Callable[[Any, Any], Any]] = {
    "mul-scalar": lambda T, w: w * 2,
    "rmul-scalar": lambda T, w: 2 * w,
    "div-scalar": lambda T, w: w / 3,
    "add-alpha": lambda T, w: T.add(w, w.detach(), alpha=2),
    "mul-constant-tensor": lambda T, w: w.mul(T.ones(3)),
    "mul-self": lambda T, w: w * w,
    "mul-both-require-grad": lambda T, w: w * (w.detach() + 1).requires_grad_(),
    "div-by-it": lambda T, w: T.ones(3) / w,
    "sin": lambda T, w: w.sin(),
}


@pytest.mark.parametrize("name", list(SAVES))
def test_inplace_after_use_as_torch(name: str) -> None:
    def outcome(T: Any) -> Any:
        x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
        w = x * 1
        y = SAVES[name](T, w)
        w.add_(1)
        try:
            y.sum().backward()
        except RuntimeError as e:
            return str(e).split(":")[0]
        return x.grad.tolist()

    assert outcome(adjit) == outcome(torch)


def _overflowing_accumulation(lib: Any) -> tuple[list[str], list[list[float]]]:
    """Two backward passes whose gradients overflow when summed into .grad: inf, silently."""
    leaves = [lib.tensor([1.0], requires_grad=True), lib.tensor(1.0, requires_grad=True)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for leaf in leaves:
            for _ in range(2):
                (leaf * 3e38).sum().backward()
    return [str(w.message) for w in caught], [_np(t.grad).reshape(-1).tolist() for t in leaves]


def test_gradient_accumulation_overflows_quietly_as_torch() -> None:
    assert _overflowing_accumulation(adjit) == _overflowing_accumulation(torch)
    assert _overflowing_accumulation(adjit)[1] == [[float("inf")], [float("inf")]]
