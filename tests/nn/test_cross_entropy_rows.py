"""Compiled cross_entropy with class targets as one row kernel each way, side by side with
eager and torch (Note [cross entropy rows] in adjit/nn/_onehot_nll.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from adjit.runtime import kernels

import adjit
from tests.runtime.test_threads import _runners

TOL = {"float32": (2e-5, 1e-6), "float64": (1e-12, 1e-14)}


def _data(n: int, c: int, dtype: str, ignore_index: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, c)) * 3).astype(dtype)
    y = rng.integers(0, c, n)
    y[::5] = ignore_index  # every fifth row ignored
    w = rng.uniform(0.5, 2.0, c).astype(dtype)
    return x, y, w


def _three(x, y, w, kw):
    """(loss, grad) of compiled adjit, eager adjit, torch."""
    out = []
    fn = lambda a, b, *weight: adjit.nn.functional.cross_entropy(a, b, *weight, **kw)  # noqa: E731
    for run in (adjit.compile(fn), fn):
        a = adjit.tensor(x, requires_grad=True)
        loss = run(a, adjit.tensor(y), *([adjit.tensor(w)] if w is not None else []))
        loss.sum().backward()
        out.append((loss.detach().numpy(), a.grad.numpy()))
    t = torch.tensor(x, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(
        t, torch.tensor(y), *([torch.tensor(w)] if w is not None else []), **kw
    )
    loss.sum().backward()
    out.append((loss.detach().numpy(), t.grad.numpy()))
    return out


def _same(out, dtype: str) -> None:
    rtol, atol = TOL[dtype]
    for loss, grad in out[1:]:
        np.testing.assert_allclose(out[0][0], loss, rtol=rtol, atol=atol)
        np.testing.assert_allclose(out[0][1], grad, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("c", "ignore_index"), [(7, -100), (10, 2), (3, -1)])
def test_values_and_gradients_equal_eager_and_torch(dtype, reduction, weighted, c, ignore_index):
    x, y, w = _data(33, c, dtype, ignore_index)
    kw = {"reduction": reduction, "ignore_index": ignore_index}
    _same(_three(x, y, w if weighted else None, kw), dtype)


def test_forward_and_backward_are_one_row_kernel_each() -> None:
    x = adjit.randn(128, 10, requires_grad=True)
    y = adjit.randint(0, 10, (128,))
    e = adjit.explain(lambda a, b: adjit.nn.functional.cross_entropy(a, b), x, y)
    for name, ex in e._executables():
        rows = [s for s in ex.program.steps if type(s).__name__ == "RowKernel"]
        ops = {q.op.name for s in ex.program.steps for q in getattr(s, "eqns", ())}
        assert len(rows) == 1, name
        assert not ops & {"GATHER", "SCATTER_ADD"}, name
    steps = e._executables()[0][1].program.steps
    fwd = [s for s in steps if type(s).__name__ == "RowKernel"]
    # the targets' bound check joined the row kernel (Note [leading row kernels]); the mean's
    # division of two kernel-wide sums is the only other kernel
    assert [s.shape for s in steps if type(s).__name__ == "Kernel"] == [()]
    backward = e._executables()[1][1].program.steps  # the cotangent's scale joined it too
    assert not [s for s in backward if type(s).__name__ == "Kernel"]
    assert {"AMAX", "EXP", "LOG", "WHERE", "SUM"} <= {q.op.name for q in fwd[0].eqns}


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_two_threads_split_rows(monkeypatch, reduction) -> None:
    monkeypatch.setattr(kernels, "split_pays", lambda serial, split: True)
    monkeypatch.setattr(kernels, "PARALLEL_THRESHOLD", 1 << 8)
    before = adjit.get_num_threads()
    seen = {id(r) for r in _runners()}
    adjit.set_num_threads(2)
    try:
        x, y, w = _data(1001, 37, "float64", -100, seed=1)
        kw = {"reduction": reduction}
        fn = lambda a, b, v: adjit.nn.functional.cross_entropy(a, b, v, **kw)  # noqa: E731
        compiled = adjit.compile(fn)
        for _ in range(kernels.PROBES + 2):  # past the probing calls, into the split ones
            out = _three(x, y, w, kw)
            a = adjit.tensor(x, requires_grad=True)
            loss = compiled(a, adjit.tensor(y), adjit.tensor(w))
            loss.sum().backward()
            out[0] = (loss.detach().numpy(), a.grad.numpy())
            _same(out, "float64")
    finally:
        adjit.set_num_threads(before)
    rows = [r for r in _runners() if id(r) not in seen and r.lowered.name.startswith("adjit_r")]
    assert len(rows) >= 2 and all(len(r.ranges) > 1 for r in rows)  # (forward and backward)


def test_float64_finite_differences() -> None:
    x, y, w = _data(9, 5, "float64", 3, seed=2)
    fn = adjit.compile(
        lambda a, b, v: adjit.nn.functional.cross_entropy(a, b, v, ignore_index=3, reduction="mean")
    )
    a = adjit.tensor(x, requires_grad=True)
    fn(a, adjit.tensor(y), adjit.tensor(w)).backward()
    h, fd = 1e-6, np.zeros_like(x)
    for i in np.ndindex(x.shape):
        p, m = x.copy(), x.copy()
        p[i] += h
        m[i] -= h
        up = float(fn(adjit.tensor(p), adjit.tensor(y), adjit.tensor(w)))
        down = float(fn(adjit.tensor(m), adjit.tensor(y), adjit.tensor(w)))
        fd[i] = (up - down) / (2 * h)
    np.testing.assert_allclose(a.grad.numpy(), fd, rtol=1e-6, atol=1e-9)
    assert np.all(a.grad.numpy()[y == 3] == 0)  # ignored rows get no gradient


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_all_targets_ignored_gives_nan_loss_and_zero_gradient(smoothing) -> None:
    x, y, _ = _data(6, 4, "float32", -100)
    y[:] = -100
    out = _three(x, y, None, {"label_smoothing": smoothing})
    assert np.isnan(out[0][0]) and np.isnan(out[2][0])
    np.testing.assert_array_equal(out[0][1], out[2][1])
    np.testing.assert_array_equal(out[0][1], 0)


def test_out_of_range_target_raises_as_torch() -> None:
    fn = adjit.compile(lambda a, b: adjit.nn.functional.cross_entropy(a, b))
    x = adjit.randn(4, 10)
    fn(x, adjit.tensor([1, 2, 3, 4]))
    with pytest.raises(IndexError, match=r"^Target 12 is out of bounds\."):
        fn(x, adjit.tensor([1, 12, 3, 4]))
    with pytest.raises(IndexError, match=r"^Target -3 is out of bounds\."):
        fn(x, adjit.tensor([1, 2, -3, 4]))


def test_weight_of_the_wrong_size_raises_as_torch() -> None:
    x, y = torch.randn(4, 10), torch.randint(0, 10, (4,))
    with pytest.raises(RuntimeError) as want:
        torch.nn.functional.cross_entropy(x, y, torch.ones(5))
    fn = adjit.compile(lambda a, b, v: adjit.nn.functional.cross_entropy(a, b, v))
    with pytest.raises(RuntimeError, match="weight tensor should be defined") as got:
        fn(adjit.tensor(x.numpy()), adjit.tensor(y.numpy()), adjit.ones(5))
    assert str(want.value) in str(got.value)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(("weighted", "c", "ignore_index"), [(False, 7, 2), (True, 10, -100)])
def test_label_smoothing_equals_eager_and_torch(dtype, reduction, weighted, c, ignore_index):
    x, y, w = _data(21, c, dtype, ignore_index, seed=3)
    kw = {"reduction": reduction, "ignore_index": ignore_index, "label_smoothing": 0.15}
    _same(_three(x, y, w if weighted else None, kw), dtype)
