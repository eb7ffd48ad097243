"""A training step's column steps at its peak get smaller chunks (Note [chunks fitted to the
peak]): a smaller arena, the same gradients as eager."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from adjit.runtime import chunk_fit, column_grads, joint_arena

import adjit
import adjit.nn.functional as F


def _unfitted(steps: Any, plan_of: Any) -> Any:
    return list(steps), plan_of(list(steps))


def _one_image(steps: Any, plan_of: Any) -> Any:
    """Every column step with chunks of one image (or channel)."""
    steps = [column_grads.rechunked(s, 1) if column_grads.chunked(s) > 1 else s for s in steps]
    return steps, plan_of(steps)


def _two_convs(dtype: type) -> tuple[Any, list[Any]]:
    rng = np.random.default_rng(0)
    args = [
        adjit.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
        for s in ((8, 4, 8, 8), (16, 4, 3, 3), (4, 16, 3, 3))
    ]

    def f(x: Any, w: Any, w2: Any) -> Any:
        return (F.conv2d(F.conv2d(x, w, padding=1).relu(), w2, padding=1).tanh() ** 2).sum()

    return f, args


def _compiled_grads(f: Any, args: list[Any]) -> tuple[list[np.ndarray], Any]:
    cf = adjit.compile(f)
    for _ in range(2):  # the second call reuses the planned chunk buffers
        for a in args:
            a.grad = None
        cf(*args).backward()
    runs = adjit.explain(cf, *args)._executables()
    return [a.grad.numpy().copy() for a in args], runs


def _check(got: list[np.ndarray], want: list[np.ndarray], dtype: type) -> None:
    tol = 1e-12 if dtype == np.float64 else 2e-5  # (sums over a batch of 8 in another order)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.abs(b).max())


def _eager(f: Any, args: list[Any]) -> list[np.ndarray]:
    for a in args:
        a.grad = None
    f(*args).backward()
    return [a.grad.numpy().copy() for a in args]


def _arena(runs: Any) -> int:
    (joint,) = {id(ex.joint): ex.joint for _, ex in runs if ex.joint is not None}.values()
    return int(joint.plan.arena_bytes)


def _chunks(runs: Any) -> list[int]:
    return [c for _, ex in runs for s in ex.steps if (c := column_grads.chunked(s))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fitted_chunks_take_a_smaller_arena(monkeypatch: pytest.MonkeyPatch, dtype: type) -> None:
    # chunks of 4 images of the second conv's 16-channel columns (8x8 maps): the backward's
    # peak comes at its column steps, whose chunks the fit makes smaller
    monkeypatch.setattr(column_grads, "CHUNK_BYTES", 4 * 36 * 64 * np.dtype(dtype).itemsize)
    f, args = _two_convs(dtype)
    want = _eager(f, args)
    monkeypatch.setattr(joint_arena, "fit", _unfitted)
    plain, runs = _compiled_grads(f, args)
    before, chunks_before = _arena(runs), _chunks(runs)
    monkeypatch.setattr(joint_arena, "fit", chunk_fit.fit)
    got, runs = _compiled_grads(f, args)
    after, chunks_after = _arena(runs), _chunks(runs)
    assert after < before, (before, after)
    assert len(chunks_after) == len(chunks_before)
    assert all(a <= b for a, b in zip(chunks_after, chunks_before, strict=True))
    assert sum(chunks_after) < sum(chunks_before)
    _check(plain, want, dtype)
    _check(got, want, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("n", "weight_grad"), [(5, "ChannelColumnsProduct"), (4, "ColumnsProduct")]
)
def test_rechunked_steps_match_eager(
    monkeypatch: pytest.MonkeyPatch, dtype: type, n: int, weight_grad: str
) -> None:
    # test_column_grads' geometries (stride 1 / 2), every column step then in one-image (or
    # one-channel) chunks: the same values as eager's one GEMM
    stride = 1 if weight_grad == "ChannelColumnsProduct" else 2
    cells = ((10 + 2 - 3) // stride + 1) ** 2
    monkeypatch.setattr(column_grads, "CHUNK_BYTES", 2 * 36 * cells * np.dtype(dtype).itemsize)
    monkeypatch.setattr(joint_arena, "fit", _one_image)
    rng = np.random.default_rng(n)
    args = [
        adjit.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
        for s in ((n, 4, 10, 10), (3, 4, 3, 3))
    ]

    def f(x: Any, w: Any) -> Any:
        return (F.conv2d(x, w, stride=stride, padding=1).tanh() ** 2).sum()

    want = _eager(f, args)
    got, runs = _compiled_grads(f, args)
    _check(got, want, dtype)
    kinds = {type(s).__name__: column_grads.chunked(s) for _, ex in runs for s in ex.steps}
    assert kinds.get(weight_grad) == 1 and kinds.get("FoldProduct") == 1, kinds
