"""NumPy's keyword names (``axis=``, ``keepdims=``), ``dim`` as a tuple and tuple/list/tensor
advanced indexing, side by side with PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

X = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7
CALLS = [
    "x.sum(axis=1)",
    "x.sum(axis=(0, 2), keepdims=True)",
    "x.sum(dim=(0, 2), keepdim=True)",
    "x.mean(axis=1, keepdims=True)",
    "x.mean((0, 1))",
    "T.mean(x, axis=(0, 1))",
    "x.std(axis=0)",
    "x.var(dim=(0, 1), unbiased=False)",
    "x.var(axis=(0, 1), correction=0)",
    "x.max(axis=1)",
    "x.min(axis=1, keepdims=True)",
    "x.argmax(axis=1)",
    "x.argmin(axis=2, keepdims=True)",
    "x.amax(axis=(0, 1))",
    "x.amin(dim=(0, 2))",
    "x.any(axis=1)",
    "x.all(dim=(0, 1))",
    "(x > 0.5).any(dim=(0, 1))",
    "x.prod(axis=1)",
    "x.cumsum(axis=1)",
    "x.cumprod(axis=0)",
    "x.logsumexp(axis=(0, 1))",
    "x.norm(dim=(1, 2))",
    "x.nansum(axis=(0, 1))",
    "x.nanmean(axis=1, keepdims=True)",
    "x.median(axis=1)",
    "x.count_nonzero(dim=(0, 1))",
    "x.aminmax(dim=1)",
    "x.squeeze(axis=0)",
    "T.squeeze(x[:1], dim=(0,))",
    "x[:1].squeeze((0,))",
    "x.unsqueeze(axis=0).shape",
    "x.flip(dims=(0, 2))",
    "x.softmax(axis=1)",
    "x.log_softmax(dim=1)",
    "T.cat([x, x], axis=1)",
    "T.stack([x, x], axis=0)",
    "T.concat([x, x], dim=-1)",
    "x.sort(axis=1)",
    "x.argsort(axis=1)",
    "x.topk(2, axis=1)",
    "x.quantile(0.5, axis=1)",
    "x.sum(1, True)",
    "x.sum(dtype=T.float64)",
    "x.mean(dtype=T.float64)",
    "x.var(1, keepdim=True)",
    "x.std(1, True, True)",
    "x[(1, 0, -1), :1]",
    "x[[1, 0], (0, 2)]",
    "x[(0, 1), T.tensor([0, 2])]",
    "x[T.tensor([[0], [1]]), [1, 2]]",
    "x[..., (0, 3)]",
    "x[None, 1, ..., 2]",
    "x[x > 0.5]",
    "x[[True, False]]",
    "x[1, [True, False, True]]",
]


def _run(call: str, T: Any) -> list[Any]:
    x = T.tensor(X)
    r = eval(call, {"T": T, "x": x})  # noqa: S307 - the calls above
    return list(r) if isinstance(r, tuple | list) else [r]


@pytest.mark.parametrize("call", CALLS)
def test_same_as_torch(call: str) -> None:
    want, got = _run(call, torch), _run(call, adjit)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        if hasattr(w, "dtype"):
            assert str(g.dtype) == str(w.dtype) and tuple(g.shape) == tuple(w.shape)
            np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-6)
        else:
            assert tuple(g) == tuple(w) if isinstance(w, torch.Size) else g == w
