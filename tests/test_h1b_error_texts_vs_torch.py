"""Refusals side by side with PyTorch (type and text): outer/ger of non-vectors (were a
silent broadcast product), negative sizes in the factories and in view/reshape, full's
fill_value type, cosine_similarity's broadcast, layer_norm's shape."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

CASES = [
    "T.zeros(-1)", "T.zeros((2, -3))", "T.zeros(-1, dtype=T.int64)", "T.ones(-1)",
    "T.ones(2, -3)", "T.empty(3, -1, 2)", "T.full((-1,), 2.0)", "x.new_empty((-2,))",
    "x.new_zeros(-2)", "x.new_ones((2, -1))", "x.new_full((-1,), 1.0)", "x.view(-2, 3)",
    "x.reshape(-2, -3)", "x.reshape(3, -4)", "T.outer(x, x)", "T.outer(T.ones(2), x)",
    "T.ger(x, T.ones(2))", "x.outer(T.ones(2))", "T.outer(T.tensor(1.0), T.ones(2))",
    "T.addr(T.ones(2, 2), x, T.ones(2))", "T.full((2,), 'a')", "T.full((2,), None)",
    "T.full((2,), [1])", "T.nn.functional.cosine_similarity(T.ones(2, 3), T.ones(2, 4))",
    "T.nn.functional.cosine_similarity(T.ones(3, 3), T.ones(2, 3))",
    "T.nn.functional.cosine_similarity(T.ones(2, 3), T.ones(3), dim=0)",
    "T.nn.functional.layer_norm(x, (4,))", "T.nn.functional.layer_norm(x, (2, 4))",
    "T.outer(T.arange(3.0), T.arange(2.0))", "T.full((2,), T.tensor(3))", "T.full((1,), True)",
]  # fmt: skip


def _outcome(T: Any, expr: str) -> Any:
    x = T.ones(2, 3)
    try:
        out = eval(expr, {"T": T, "x": x})
    except Exception as e:  # noqa: BLE001  (the exception is compared)
        return f"{type(e).__name__}: {e}"
    return (str(out.dtype), out.tolist())


@pytest.mark.parametrize("expr", CASES)
def test_refusal_as_pytorch(expr: str) -> None:
    assert _outcome(adjit, expr) == _outcome(torch, expr)


@pytest.mark.parametrize("shape", [(2,), (4, 2, 3), (1, 2, 3), (3, 1), (2, 1), (3,), ()], ids=str)
def test_copy_broadcast_as_pytorch(shape: tuple[int, ...]) -> None:
    def run(T: Any) -> Any:
        try:
            return T.zeros(2, 3).copy_(T.arange(float(np.prod(shape))).reshape(shape)).tolist()
        except RuntimeError as e:
            return str(e)

    assert run(adjit) == run(torch)


BROADCAST_OPS = [
    "x.lerp_(y, 0.5)", "x.lerp(y, 0.5)", "y.lerp(x, 0.5)", "T.lerp(x, x, y)", "x.lerp(x, y)",
    "x.masked_fill_(y.bool(), 0.0)", "x.masked_fill(y.bool(), 0.0)", "x.addcmul_(y, y)",
    "x.addcmul(y, y)", "x.addcmul(x, y)", "x.addcdiv_(y, y)", "x.addcdiv(x, y)", "x.add_(y)",
    "x.clamp_(min=y)", "x.where(y.bool(), 0.0)",
]  # fmt: skip


@pytest.mark.parametrize("shape", [(2,), (3, 1), (4, 2, 3), (3,)], ids=str)
@pytest.mark.parametrize("expr", BROADCAST_OPS)
def test_broadcast_refusal_order_as_pytorch(expr: str, shape: tuple[int, ...]) -> None:
    """TensorIterator's order (self first): the refusal names the same tensors a and b."""

    def run(T: Any) -> Any:
        env = {"T": T, "x": T.ones(2, 3), "y": T.arange(1.0, np.prod(shape) + 1).reshape(shape)}
        try:
            return eval(expr, env).tolist()
        except RuntimeError as e:
            return str(e)

    assert run(adjit) == run(torch)


THREE_SHAPES = [((2, 3), (2,), (3, 1)), ((2,), (2, 3), (3, 1)), ((2, 3), (3, 1), (4, 1, 1))]


@pytest.mark.parametrize("shapes", THREE_SHAPES, ids=str)
def test_masked_scatter_and_kl_div_as_pytorch(shapes: tuple) -> None:
    """masked_scatter broadcasts the mask first; kl_div warns before its broadcast check."""

    def run(T: Any) -> Any:
        a, b = T.ones(shapes[0]) * 0.5, T.ones(shapes[1]) * 0.5
        out = []
        for fn in (lambda: a.masked_scatter(b.bool(), T.ones(30)),
                   lambda: T.nn.functional.kl_div(a, b)):  # fmt: skip
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    out.append(fn().tolist())
                except RuntimeError as e:
                    out.append(str(e))
            out.append([str(w.message) for w in caught])
        return out

    assert run(adjit) == run(torch)
