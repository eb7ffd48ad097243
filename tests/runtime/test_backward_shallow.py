"""``backward()`` of an output whose grad_fn feeds leaves directly takes a short path; it must
keep every PyTorch semantic of the full engine (hooks, repeated leaves, freed graphs)."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.frontend import compiled_node
from adjit.runtime import autograd

import adjit


def _leaves(*values: float) -> list[adjit.Tensor]:
    return [adjit.tensor(v, requires_grad=True) for v in values]


@pytest.fixture(params=["eager", "compiled"])
def f(request):
    fn = lambda x, y: x * x * y  # noqa: E731
    return fn if request.param == "eager" else adjit.compile(fn)


def _record(monkeypatch, owner, name: str) -> list[bool]:
    """Record what ``owner.name`` answered (whether its short path was taken)."""
    calls: list[bool] = []
    real = getattr(owner, name)
    monkeypatch.setattr(owner, name, lambda *a: calls.append(r := real(*a)) or r)
    return calls


def test_short_path_is_taken_and_accumulates(monkeypatch) -> None:
    calls = _record(monkeypatch, autograd, "_shallow")
    x, y = _leaves(3.0, 2.0)
    (x * y).backward()
    (x * y).backward()
    assert calls == [True, True]
    assert x.grad.item() == 2 * 2.0 and y.grad.item() == 2 * 3.0


def test_compiled_output_takes_the_seeded_path(monkeypatch) -> None:
    calls = _record(monkeypatch, compiled_node.CompiledFunctionBackward, "seeded_backward")
    x, y = _leaves(3.0, 2.0)
    f = adjit.compile(lambda a, b: a * a * b)
    f(x, y).backward()
    grad_x = x.grad
    f(x, y).backward()
    assert calls == [True, True]
    assert x.grad is grad_x  # accumulated in place, as PyTorch does
    assert x.grad.item() == 2 * (2 * 3.0 * 2.0) and y.grad.item() == 2 * 9.0


def test_same_leaf_twice_sums_both_contributions(f) -> None:
    (x,) = _leaves(3.0)
    f(x, x).backward()  # d(x^3)/dx
    assert x.grad.item() == pytest.approx(27.0)


def test_leaf_hooks_and_node_hooks_run(f) -> None:
    x, y = _leaves(3.0, 2.0)
    seen = []
    x.register_hook(lambda g: seen.append(("x", g.item())) or g * 10)
    out = f(x, y)
    out.grad_fn.register_hook(lambda gi, go: seen.append(("node", len(gi))))
    out.backward()
    assert ("x", 12.0) in seen and ("node", 2) in seen
    assert x.grad.item() == 120.0 and y.grad.item() == 9.0


def test_post_accumulate_hook_and_retain_grad_path(f) -> None:
    x, y = _leaves(3.0, 2.0)
    seen = []
    y.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.item()))
    f(x, y).backward()
    assert seen == [9.0]


def test_second_backward_without_retain_graph_fails(f) -> None:
    x, y = _leaves(3.0, 2.0)
    out = f(x, y)
    out.backward(retain_graph=True)
    out.backward()
    assert x.grad.item() == 24.0
    if f.__class__.__name__ == "CompiledFunction":  # eager MulBackward of x*x*y saves tensors
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            out.backward()


def test_create_graph_gives_differentiable_grads(f) -> None:
    x, y = _leaves(3.0, 2.0)
    f(x, y).backward(create_graph=True)
    assert x.grad.requires_grad
    (gx,) = adjit.autograd.grad(x.grad, x)
    assert gx.item() == pytest.approx(2 * 2.0)


def test_grad_tensor_is_not_aliased_into_dot_grad() -> None:
    x = adjit.tensor(np.ones(3, np.float32), requires_grad=True)
    seed = adjit.tensor(np.full(3, 2.0, np.float32))
    (x + 0).backward(seed)  # AddBackward0 passes the seed through unchanged
    x.grad.add_(1)
    np.testing.assert_array_equal(seed.numpy(), np.full(3, 2.0, np.float32))
