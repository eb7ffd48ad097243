"""Trampolines (Note [trampolines]): a prepared call written out as Python must answer exactly
what the general path answers, and step aside (MISS) whenever a guard does not hold."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from adjit.runtime.trampoline import MISS, program_call

import adjit


def f(x, y, z):
    return x**2 + y * z


def _args(dtype=adjit.float32, shape=()):
    return [adjit.full(shape, v, dtype=dtype) for v in (1.5, 2.0, -3.0)]


def _expected(x, y, z):
    xs, ys, zs = (t.detach().numpy().astype(np.float64) for t in (x, y, z))
    return (xs**2 + ys * zs).sum(), (2 * xs, zs, ys)


def _check(result, args) -> None:
    value, grads = result
    want, want_grads = _expected(*args)
    # x² + y·z in float32: each of the three roundings is at most half an ulp of its operands
    xs, ys, zs = (t.numpy().astype(np.float64) for t in args)
    bound = 2 * np.finfo(np.float32).eps * (xs**2 + np.abs(ys * zs)).sum()
    np.testing.assert_allclose(value.numpy().sum(), want, rtol=0, atol=bound)
    for g, w, a in zip(grads, want_grads, args, strict=True):
        assert g.dtype == a.dtype and g.shape == a.shape
        np.testing.assert_allclose(g.numpy(), w, rtol=np.finfo(np.float32).eps)


def test_value_and_grad_is_written_out_and_matches() -> None:
    vg = adjit.value_and_grad(f, argnums=(0, 1, 2))
    args = _args()
    _check(vg(*args), args)
    assert vg._hot is None  # a signature's first call takes the general path
    _check(vg(*args), args)  # and its second writes the trampoline
    source = vg._hot.source
    assert "def value_and_grad(args):" in source and "return MISS" in source
    _check(vg(*args), args)  # answered by the trampoline
    assert vg._hot(tuple(args)) is not MISS


@pytest.mark.parametrize(
    "other",
    [
        lambda: _args(shape=(3,)),  # shape
        lambda: _args(dtype=adjit.float64),  # dtype
        lambda: [adjit.tensor(1.5), adjit.tensor(2.0), 3.0],  # not a tensor
        lambda: _args()[:2],  # arity
    ],
    ids=["shape", "dtype", "number", "arity"],
)
def test_guards_miss_and_the_general_path_answers(other) -> None:
    vg = adjit.value_and_grad(lambda x, y, z=1.0: (x**2 + y * z).sum(), argnums=(0, 1))
    vg(*_args())
    vg(*_args())
    hot = vg._hot
    args = other()
    assert hot(tuple(args)) is MISS
    value, grads = vg(*args)  # a new specialization, and its own trampoline
    xs, ys = args[0].numpy(), args[1].numpy()
    zs = (
        args[2].numpy()
        if len(args) > 2 and isinstance(args[2], adjit.Tensor)
        else args[2]
        if len(args) > 2
        else 1.0
    )
    np.testing.assert_allclose(grads[0].numpy(), 2 * xs, rtol=1e-6)
    np.testing.assert_allclose(grads[1].numpy(), np.broadcast_to(zs, ys.shape), rtol=1e-6)


def test_guard_misses_on_requires_grad_grad_mode_and_tracing() -> None:
    vg = adjit.value_and_grad(f, argnums=(0, 1, 2))
    args = _args()
    vg(*args)
    vg(*args)
    hot = vg._hot
    leaf = adjit.tensor(1.5, requires_grad=True)
    assert hot((leaf, *args[1:])) is MISS
    with adjit.no_grad():
        assert hot(tuple(args)) is MISS
        _check(vg(*args), args)

    @adjit.compile
    def outer(x, y, z):
        assert hot((x, y, z)) is MISS  # tracers, inside a trace
        return vg(x, y, z)[0]

    assert outer(*args).item() == pytest.approx(1.5**2 - 6.0)


def test_results_belong_to_the_caller() -> None:
    vg = adjit.value_and_grad(f, argnums=(0, 1, 2))
    args = _args()
    first = vg(*args)
    second = vg(*args)
    first[0].add_(100.0)
    for g in first[1]:
        g.mul_(0.0)
    _check(second, args)
    _check(vg(*args), args)
    assert not np.shares_memory(first[0].numpy(), second[0].numpy())


def test_threads_calling_one_trampoline_get_their_own_answers() -> None:
    vg = adjit.value_and_grad(f, argnums=(0, 1, 2))
    vg(*_args())
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for _ in range(300):
                args = [adjit.tensor(np.float32(v)) for v in rng.normal(size=3)]
                _check(vg(*args), args)
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_program_call_writes_out_kernel_only_programs() -> None:
    from adjit.frontend.compile import Entry  # noqa: F401  (the frontend is loaded)
    from adjit.ir.graph import Graph  # noqa: F401

    cf = adjit.compile(lambda x, y: (x * y).sum())
    x, y = adjit.ones(5, requires_grad=True), adjit.full((5,), 2.0)
    cf(x, y).backward()
    entry = next(iter(cf._entries.values()))
    plan = entry.training((0,))
    run = entry.runner(plan.split.backward)
    fast = program_call(run)
    assert fast is not run and "def program(arrays):" in fast.source
    arrays = [np.full(5, 2.0, np.float32), np.ones((), np.float32)][
        : len(plan.split.backward.inputs)
    ]
    for a, b in zip(fast(arrays), run(arrays), strict=True):
        np.testing.assert_array_equal(a, b)
