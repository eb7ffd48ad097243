"""In-place ops on views of tensors with a history rebase the base (CopySlices), as in PyTorch
(Note [in-place ops on views])."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import adjit


def _slice_mul(t: Any, a: Any) -> Any:
    b = a * 1
    b[:2].mul_(2)
    return b


def _column_sigmoid(t: Any, a: Any) -> Any:
    h = a * 3
    h[1:, 1:3] += 1
    h[:, 0].sigmoid_()
    return h


def _narrow_copy(t: Any, a: Any) -> Any:
    h = t.zeros(3, 4)
    h.narrow(1, 1, 2).copy_(a[:, :2] * 3)
    return h


def _transposed_view(t: Any, a: Any) -> Any:
    h = a * 2
    h.t()[1].add_(a[:, 0])
    return h


def _view_of_view(t: Any, a: Any) -> Any:
    h = a * 1.5
    v = h[1:]
    v[:, ::2].mul_(a[1:, 1::2])
    return h * v.sum()


def _setitem_into_slice(t: Any, a: Any) -> Any:
    h = a + 0
    row = h[2]
    row[t.tensor([0, 3])] = a[0, :2] ** 2
    return h


def _relu_inplace_on_slice(t: Any, a: Any) -> Any:
    h = a - 0.5
    t.nn.functional.relu(h[:, 1:], inplace=True)
    return h


def _view_used_after(t: Any, a: Any) -> Any:
    h = a * 1
    v = h[0]
    w = h[:, 0]
    v.mul_(3)
    return w * 2 + v.sum()


def _reshaped_view(t: Any, a: Any) -> Any:
    h = a.clone()
    h.view(-1)[::5].div_(2)
    return h


CASES: dict[str, Callable[[Any, Any], Any]] = {
    f.__name__[1:]: f
    for f in (
        _slice_mul,
        _column_sigmoid,
        _narrow_copy,
        _transposed_view,
        _view_of_view,
        _setitem_into_slice,
        _relu_inplace_on_slice,
        _view_used_after,
        _reshaped_view,
    )
}


def _run(lib: Any, fn: Callable[[Any, Any], Any]) -> tuple[np.ndarray, np.ndarray, str]:
    a = lib.tensor(np.linspace(-1.0, 1.0, 12).reshape(3, 4), requires_grad=True)
    out = fn(lib, a)
    weights = lib.tensor(np.arange(out.numel(), dtype=np.float64).reshape(out.shape) / 7)
    (out * weights).sum().backward()
    return out.detach().numpy(), a.grad.numpy(), type(out.grad_fn).__name__


@pytest.mark.parametrize("name", sorted(CASES))
def test_as_torch(name: str) -> None:
    got, want = _run(adjit, CASES[name]), _run(torch, CASES[name])
    np.testing.assert_allclose(got[0], want[0], rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-14, atol=1e-15)
    assert got[2] == want[2]


def test_history_names() -> None:
    a = adjit.randn(3, requires_grad=True)
    b = a * 1
    v = b[:2]
    v.mul_(2)
    assert type(b.grad_fn).__name__ == "CopySlices"
    assert type(v.grad_fn).__name__ == "AsStridedBackward0"


def test_gradcheck() -> None:
    def f(x: Any) -> Any:
        h = x * x
        h[:, 1:].mul_(x[:, :2])
        return h

    x = adjit.randn(2, 3, dtype=adjit.float64, requires_grad=True)
    assert adjit.autograd.gradcheck(f, (x,))


SAVED_CHANGED: dict[str, Callable[[Any, Any], Any]] = {
    "output_through_a_view": lambda t, x: (lambda h: (h[:, 0].mul_(2), h))(x.tanh())[1],
    "output_itself": lambda t, x: (lambda h: (h.mul_(2), h))(x.sigmoid())[1],
    "input_double": lambda t, x: (lambda h: (lambda k: (h.mul_(2), k))(h.cos()))(x.double().sin())[
        1
    ][1],
    "view_of_a_view": lambda t, x: (lambda w: (w[:, ::2].mul_(2), w))((x * 2)[1:].tanh())[1],
}


@pytest.mark.parametrize("name", sorted(SAVED_CHANGED))
@pytest.mark.parametrize("anomaly", [False, True])
def test_saved_tensor_changed_error_as_torch(name: str, anomaly: bool) -> None:
    texts = []
    for lib in (adjit, torch):
        x = lib.tensor(np.linspace(-1.0, 1.0, 12).reshape(3, 4), dtype=lib.float32)
        x.requires_grad_()
        warns = pytest.warns() if anomaly else _nothing()
        with lib.autograd.set_detect_anomaly(anomaly), warns, pytest.raises(RuntimeError) as info:
            SAVED_CHANGED[name](lib, x).sum().backward()
        texts.append(str(info.value))
    assert texts[0] == texts[1]


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_view_of_a_leaf_still_refuses() -> None:
    a = adjit.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        a[:2].mul_(2)


@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_writes_through_views(name: str) -> None:
    """Traced in-place ops on views reach their base and its other views (Note [writes through
    views]): the compiled function's values and gradients are eager's."""
    fn = CASES[name]

    def step(a: Any) -> Any:
        out = fn(adjit, a)
        weights = adjit.arange(out.numel(), dtype=adjit.float64).reshape(out.shape) / 7
        return out, (out * weights).sum()

    compiled = adjit.compile(step, fullgraph=True)
    results = []
    for f in (step, compiled):
        a = adjit.tensor(np.linspace(-1.0, 1.0, 12).reshape(3, 4), requires_grad=True)
        out, loss = f(a)
        loss.backward()
        results.append((out.detach().numpy(), a.grad.numpy()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-14, atol=1e-15)


def test_compiled_detection_head_writes_through_a_reshape() -> None:
    class Head(adjit.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = adjit.nn.Conv2d(3, 6, 1)

        def forward(self, x: Any) -> Any:
            y = self.conv(x)
            y = y.view(y.shape[0], 2, 3, *y.shape[2:])
            y[:, :, :2] = y[:, :, :2].sigmoid()
            return y

    adjit.manual_seed(0)
    m, x = Head(), adjit.randn(2, 3, 4, 4)
    compiled = adjit.compile(m, fullgraph=True)
    grads = []
    for f in (m, compiled):
        m.zero_grad()
        out = f(x)
        out.square().mean().backward()
        grads.append((out.detach().numpy(), m.conv.weight.grad.numpy().copy()))
    np.testing.assert_allclose(grads[1][0], grads[0][0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-5, atol=1e-7)
