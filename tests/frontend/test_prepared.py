"""Prepared compiled calls (frontend/prepared.py) and what the runtime hands back: the same
answers and autograd semantics as the general path, and results that alias nothing."""

from __future__ import annotations

import numpy as np
import pytest

import adjit

BACKENDS = ["llvm", "interpreter"]


def _leaves(*values: float) -> list[adjit.Tensor]:
    return [adjit.tensor(v, requires_grad=True) for v in values]


def test_inference_call_is_written_out() -> None:
    cf = adjit.compile(lambda x, y: (x * y + 1).sum())
    x, y = adjit.ones(3), adjit.full((3,), 2.0)
    assert cf(x, y).item() == 9.0 and cf._hot is None  # the first call: the general path
    assert cf(x, y).item() == 9.0
    assert "def compiled_call(args):" in cf._hot.source
    assert cf(x, y).item() == 9.0 and not cf(x, y).requires_grad
    x2 = adjit.full((3,), 3.0)
    assert cf(x2, y).item() == 21.0


def test_training_call_attaches_a_compiled_grad_fn_and_accumulates() -> None:
    cf = adjit.compile(lambda x, y: x * x * y)
    x, y = _leaves(3.0, 2.0)
    for k in (1, 2, 3):
        out = cf(x, y)
        assert type(out.grad_fn).__name__ == "CompiledFunctionBackward"
        assert out.requires_grad and out.item() == 18.0
        out.backward()
        assert x.grad.item() == k * 12.0 and y.grad.item() == k * 9.0
    assert "def compiled_call_with_grad_fn(args):" in cf._hot.source


def test_training_call_with_the_same_leaf_twice() -> None:
    cf = adjit.compile(lambda a, b: a * a * b)
    (x,) = _leaves(3.0)
    for k in (1, 2):
        cf(x, x).backward()
        assert x.grad.item() == pytest.approx(k * 27.0)


def test_freed_graph_and_retain_graph() -> None:
    cf = adjit.compile(lambda a, b: a * b)
    x, y = _leaves(3.0, 2.0)
    out = cf(x, y)
    out.backward(retain_graph=True)
    out.backward()
    assert x.grad.item() == 4.0
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        out.backward()


def test_modified_saved_input_is_an_error() -> None:
    cf = adjit.compile(lambda a, b: a * b)
    x, y = _leaves(3.0, 2.0)
    out = cf(x, y)
    with adjit.no_grad():
        y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.backward()


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_alias_neither_inputs_nor_each_other(backend: str) -> None:
    cf = adjit.compile(lambda a, b, c: (a * b + c * b).sum(), backend=backend)
    x, y, z = (adjit.full((4,), v, requires_grad=True) for v in (1.0, 2.0, 3.0))
    cf(x, y, z).backward()  # grad x = y and grad z = y: the optimized program returns y
    x.grad.mul_(10.0)
    z.grad.add_(1.0)
    np.testing.assert_array_equal(y.detach().numpy(), 2.0)
    np.testing.assert_array_equal(x.grad.numpy(), 20.0)
    np.testing.assert_array_equal(z.grad.numpy(), 3.0)
    cf(x, y, z).backward()
    np.testing.assert_array_equal(x.grad.numpy(), 22.0)
    np.testing.assert_array_equal(y.grad.numpy(), 8.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_results_do_not_alias_arguments(backend: str) -> None:
    cf = adjit.compile(lambda a: a * 1.0, backend=backend)  # optimized to ``a``
    x = adjit.ones(3)
    out = cf(x)
    out.add_(1.0)
    np.testing.assert_array_equal(x.numpy(), 1.0)
    vg = adjit.value_and_grad(lambda a, b: (a * b).sum(), argnums=(0, 1), backend=backend)
    a, b = adjit.ones(3), adjit.full((3,), 2.0)
    _, (ga, gb) = vg(a, b)
    ga.zero_()
    gb.zero_()
    np.testing.assert_array_equal(a.numpy(), 1.0)
    np.testing.assert_array_equal(b.numpy(), 2.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_constant_outputs_are_the_callers_to_change(backend: str) -> None:
    @adjit.compile(backend=backend)
    def consts(x):
        return adjit.ones(3)

    @adjit.compile(backend=backend)
    def with_extern(x, w):
        return adjit.ones(3), x @ w, adjit.arange(6.0).reshape(2, 3)

    x = adjit.ones(2, 2)
    consts(x).add_(1.0)
    np.testing.assert_array_equal(consts(x).numpy(), 1.0)
    ones, _, ramp = with_extern(x, x)
    ones.add_(1.0)
    ramp.mul_(0.0)
    ones, _, ramp = with_extern(x, x)
    np.testing.assert_array_equal(ones.numpy(), 1.0)
    np.testing.assert_array_equal(ramp.numpy(), np.arange(6.0).reshape(2, 3))


def test_explain_shows_the_prepared_call() -> None:
    x = adjit.ones(3, requires_grad=True)
    ex = adjit.explain(lambda a: (a.sin() * 2).sum(), x)
    call = ex.prepared_call
    assert call is not None and "def compiled_call_with_grad_fn(args):" in call
    assert "# kernel k0" in call and "._grad_fn = " in call
    assert "== prepared call" in str(ex)
    with adjit.no_grad():
        assert "def compiled_call(args):" in adjit.explain(lambda a: a.sin(), x).prepared_call
    # keyword arguments take the general path: nothing is written out for them
    assert adjit.explain(lambda a, *, b: a * b, x, b=2.0).prepared_call is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_outputs_that_are_inputs_or_their_views_alias_them_as_in_eager(backend: str) -> None:
    # torch.compile keeps eager's aliasing: ``f(x) is x`` for the identity, views share memory
    ident = adjit.compile(lambda a: a, backend=backend)
    views = adjit.compile(lambda a: (a.view(-1), a.t(), a[1:], a * 1), backend=backend)
    x = adjit.ones(2, 3)
    assert ident(x) is x
    flat, t, rows, scaled = views(x)
    flat.add_(1.0)  # writes x
    rows.mul_(10.0)  # writes x's second row
    scaled.add_(100.0)  # a new tensor: x is untouched
    np.testing.assert_array_equal(x.numpy(), [[2.0] * 3, [20.0] * 3])
    np.testing.assert_array_equal(t.numpy(), x.numpy().T)
    assert flat._view_base is x and t._version == x._version


def test_aliased_outputs_carry_eager_grad_fns() -> None:
    cf = adjit.compile(lambda a: (a.view(-1), (a * a).sum()))
    x = adjit.ones(2, 3, requires_grad=True)
    flat, total = cf(x)
    assert type(flat.grad_fn).__name__ == "ViewBackward0"
    assert type(total.grad_fn).__name__ == "CompiledFunctionBackward"
    (flat * adjit.arange(6.0)).sum().backward()
    total.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(6.0).reshape(2, 3) + 2.0)


def test_a_lifted_parameter_view_is_a_view_of_the_parameter() -> None:
    lin = adjit.nn.Linear(3, 2)
    weight_t = adjit.compile(lambda: lin.weight.t())()
    assert weight_t._view_base is lin.weight
    assert type(weight_t.grad_fn).__name__ == "TBackward0"


def _record_ownership(monkeypatch) -> list[bool]:
    from adjit.runtime import autograd

    seen: list[bool] = []
    real = autograd.accumulate_array
    monkeypatch.setattr(
        autograd, "accumulate_array", lambda t, g, owned: seen.append(owned) or real(t, g, owned)
    )
    return seen


def test_engine_path_takes_fresh_gradients_uncopied(monkeypatch) -> None:
    seen = _record_ownership(monkeypatch)
    cf = adjit.compile(lambda a, w: (a @ w).relu())
    x, w = adjit.randn(4, 3), adjit.randn(3, 2, requires_grad=True)
    (cf(x, w) * 2).sum().backward()  # eager ops after the node: the engine's walk
    assert seen == [True]
    mask = (x.numpy() @ w.detach().numpy()) > 0
    np.testing.assert_allclose(w.grad.numpy(), x.numpy().T @ (2.0 * mask), rtol=1e-6, atol=1e-6)


def test_gradients_a_hook_has_seen_are_copied(monkeypatch) -> None:
    seen = _record_ownership(monkeypatch)
    cf = adjit.compile(lambda a, w: (a @ w).relu())
    x, w = adjit.randn(4, 3), adjit.randn(3, 2, requires_grad=True)
    kept: list = []
    out = cf(x, w)
    out.grad_fn.register_hook(lambda grad_inputs, grad_outputs: kept.append(grad_inputs))
    (out * 2).sum().backward()
    assert seen == [False]
    kept_grad = kept[0][0]
    assert not np.shares_memory(w.grad.numpy(), kept_grad.numpy())
    before = kept_grad.numpy().copy()
    w.grad.add_(1.0)  # changing .grad leaves what the hook kept alone
    np.testing.assert_array_equal(kept_grad.numpy(), before)


def test_residuals_may_share_the_inputs_memory_but_results_never_do() -> None:
    cf = adjit.compile(lambda a, w: (a @ w[:6].reshape(3, 2)).sum())
    x, w = adjit.randn(4, 3, requires_grad=True), adjit.randn(7, requires_grad=True)
    cf(x, w).backward()
    entry = next(iter(cf._entries.values()))
    plan = entry.training((0, 1))
    forward = entry.forward_runner(plan)
    values = forward([x.detach().numpy(), w.detach().numpy()])
    n = plan.joint.n_outputs
    assert forward.public == n
    assert not any(np.shares_memory(v, w.numpy(force=True)) for v in values[:n])
    # the weight's slice the backward reads is a view of w, not a copy (Note [internal outputs];
    # the reshape of it is recomputed, Note [cheap recompute])
    assert any(np.shares_memory(v, w.numpy(force=True)) for v in values[n:])
