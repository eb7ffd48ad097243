"""Guards written out (Note [guards written out]): a compiled module call's prepared trampoline
checks the lifted tensors, modules and bindings itself, answers as the general path does, and
steps aside (MISS) on every change the general path would trace again for."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.runtime.trampoline import MISS

import adjit

nn, F = adjit.nn, adjit.nn.functional


def _mlp() -> nn.Module:
    adjit.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))


def _batch() -> tuple[adjit.Tensor, adjit.Tensor]:
    g = np.random.default_rng(0)
    return adjit.tensor(g.standard_normal((4, 6)).astype(np.float32)), adjit.tensor([0, 2, 1, 2])


def _hot(model: nn.Module) -> tuple:
    """A compiled loss of ``model``, called until its trampoline is written."""
    cf = adjit.compile(lambda a, b: F.cross_entropy(model(a), b))
    x, y = _batch()
    for _ in range(2):
        cf(x, y).backward()
    assert cf._hot is not None
    return cf, x, y


def _eager(model: nn.Module, x: adjit.Tensor, y: adjit.Tensor) -> tuple[float, list]:
    model.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    grads = [None if p.grad is None else p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    return loss.item(), grads


def _same_as_eager(cf, model: nn.Module, x: adjit.Tensor, y: adjit.Tensor) -> None:
    want, want_grads = _eager(model, x, y)
    loss = cf(x, y)
    if loss.requires_grad:
        loss.backward()
    # the same float32 operations in another order (GEMM blocking): a few ulps of the loss
    assert loss.item() == pytest.approx(want, rel=1e-5)
    for p, g in zip(model.parameters(), want_grads, strict=True):
        if g is None:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-4, atol=1e-6)
    model.zero_grad()


def test_module_call_guards_are_written_out() -> None:
    model = _mlp()
    cf, x, y = _hot(model)
    source = cf._hot.source
    assert "def compiled_call_with_grad_fn(args):" in source
    assert "_global_forward_pre_hooks" in source and "MG" not in source  # all four inline
    assert source.count("type(m) is not") == 4 and "e3 = l3._data" in source
    model.zero_grad()
    hits = []
    hot = cf._hot
    for _ in range(3):
        hits.append(hot((x, y)) is not MISS)
    assert all(hits)
    _same_as_eager(cf, model, x, y)
    assert cf.trace_count == 1


def test_the_trampoline_sees_in_place_updates_and_versions() -> None:
    model = _mlp()
    cf, x, y = _hot(model)
    model.zero_grad()
    with adjit.no_grad():
        for p in model.parameters():
            p.mul_(0.5)  # an optimizer's step: same tensors, new values and versions
    assert cf._hot((x, y)) is not MISS
    _same_as_eager(cf, model, x, y)
    loss = cf(x, y)
    with adjit.no_grad():
        model[2].weight.add_(1.0)  # a saved input modified before backward
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    assert cf.trace_count == 1


def _swap_weight(model: nn.Module) -> None:
    model[0].weight = nn.Parameter(adjit.ones(5, 6))


def _reshape_weight(model: nn.Module) -> None:  # a new shape: the next layer follows
    model[0].weight.data = adjit.ones(5, 6)[:, :6].contiguous()
    model[2].weight.data = adjit.full((3, 5), 0.1)
    model[0].weight.data = adjit.ones(5, 6)


def _strided_weight(model: nn.Module) -> None:  # same shape and dtype: not a guard
    model[0].weight.data = adjit.ones(6, 5).t()


# change -> whether the trampoline must step aside (True) or still answer (False)
CHANGES = {
    "eval": (lambda m: m.eval(), True),
    "frozen": (lambda m: m[0].weight.requires_grad_(False), True),
    "hook": (lambda m: m[2].register_forward_hook(lambda mod, i, o: o * 2), True),
    "pre_hook": (lambda m: m[1].register_forward_pre_hook(lambda mod, i: (i[0] + 1,)), True),
    "global_hook": (
        lambda m: nn.modules.module.register_module_forward_hook(lambda mod, i, o: None),
        True,
    ),
    "swapped": (_swap_weight, True),
    "buffer": (lambda m: m[1].register_buffer("extra", adjit.ones(1)), True),
    "float64": (lambda m: m.double(), True),
    "strided": (_strided_weight, False),
    "values": (lambda m: m[0].bias.data.fill_(0.25), False),
}


@pytest.mark.parametrize("name", list(CHANGES))
def test_a_change_steps_aside_and_the_general_path_answers(name: str) -> None:
    change, misses = CHANGES[name]
    model = _mlp()
    cf, x, y = _hot(model)
    hot = cf._hot
    model.zero_grad()
    handle = change(model)
    try:
        if name == "float64":
            x = x.double()
        assert (hot((x, y)) is MISS) is misses
        model.zero_grad()
        for _ in range(3):  # the general path, then the new signature's own trampoline
            _same_as_eager(cf, model, x, y)
    finally:
        if hasattr(handle, "remove"):
            handle.remove()


def test_new_shape_of_a_lifted_tensor_traces_again() -> None:
    w = adjit.ones(3, requires_grad=True)
    cf = adjit.compile(lambda a: (a * w).sum())
    x = adjit.arange(3.0)
    for _ in range(2):
        cf(x).backward()
    hot = cf._hot
    assert hot((x,)) is not MISS
    w.data = adjit.ones(1)  # broadcasts: a new specialization
    assert hot((x,)) is MISS
    assert cf(x).item() == 3.0 and cf.trace_count == 2
    w.data = adjit.ones(3, dtype=adjit.float64)
    assert cf._hot((x,)) is MISS
    out = cf(x)
    assert out.dtype == adjit.float64 and out.item() == 3.0 and cf.trace_count == 3


def test_rebound_names_step_aside() -> None:
    scale = adjit.tensor(2.0)

    def f(a):
        return (a * scale * GLOBAL_W).sum()

    cf = adjit.compile(f)
    x = adjit.ones(3)
    for _ in range(2):
        assert cf(x).item() == 6.0
    hot = cf._hot
    assert hot is not None and hot((x,)) is not MISS
    globals()["GLOBAL_W"] = adjit.full((3,), 2.0)
    try:
        assert hot((x,)) is MISS and cf(x).item() == 12.0
        scale = adjit.tensor(3.0)  # noqa: F841 (the closure's cell, rebound)
        assert cf(x).item() == 18.0
    finally:
        globals()["GLOBAL_W"] = adjit.ones(3)


GLOBAL_W = adjit.ones(3)


def test_grad_mode_and_tracing_step_aside() -> None:
    model = _mlp()
    cf, x, y = _hot(model)
    hot = cf._hot
    want = _eager(model, x, y)[0]
    with adjit.no_grad():
        assert hot((x, y)) is MISS
        out = cf(x, y)
        assert not out.requires_grad and out.item() == pytest.approx(want, rel=1e-5)

    @adjit.compile
    def outer(a, b):
        assert hot((a, b)) is MISS  # tracers, inside a trace
        return cf(a, b) * 2

    assert outer(x, y).item() == pytest.approx(2 * want, rel=1e-5)


def test_a_custom_module_guard_is_called() -> None:
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.k = 2.0
            self.lin = nn.Linear(3, 1)

        def forward(self, a):
            return self.lin(a) * self.k

        def _compile_guard(self) -> tuple:
            return (super()._compile_guard(), self.k)

    m = Scaled()
    cf = adjit.compile(lambda a: m(a).sum())
    x = adjit.ones(2, 3)
    for _ in range(2):
        cf(x)
    assert "MG" in cf._hot.source  # Scaled's own guard; its Linear's written out
    m.k = 3.0
    assert cf._hot((x,)) is MISS
    with adjit.no_grad():
        want = (m.lin(x) * 3.0).sum().item()
    assert cf(x).item() == pytest.approx(want)
