"""Index writes on a leaf that requires grad (PyTorch's view/leaf refusal texts) and the
deprecation warning for a list index read as a tuple, side by side with PyTorch."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")


def _indices(T: Any) -> list[Any]:
    mask = T.ones(3, dtype=T.bool)
    return [
        0, -1, np.int64(0), np.array(0), T.tensor(0), T.tensor(True), True, None, ...,
        (), (Ellipsis,), (slice(None),), (slice(None), slice(None)), slice(0, 1), slice(0, 3),
        slice(0, 5), slice(None, 3), slice(0, None, 1), slice(None, None, 2), slice(-3, None),
        slice(0, -1), (slice(None), None), (None, slice(None)), (Ellipsis, None), (Ellipsis, 0),
        (0, Ellipsis), (Ellipsis, slice(0, 1)), (Ellipsis, slice(0, 2)), (slice(None), [0, 1]),
        ([0, 1], slice(None)), ([0, 1], 0), (0, [0, 1]), (True, 0), (slice(None), True),
        T.tensor([0, 1]), T.tensor([0]), [0], [True, False, True], mask, (mask, slice(0, 1)),
        (mask, slice(0, 2)), T.ones(3, 2, dtype=T.bool), (T.tensor(0), 0), (False,),
        (False, slice(None)), (slice(None), False), [False], False,
        (slice(None), slice(None), None), (Ellipsis, slice(0, 2), None),
    ]  # fmt: skip


def _write(T: Any, index: Any, value: Any) -> str:
    x = T.ones(3, 2, requires_grad=True)
    try:
        x[index] = value
    except (RuntimeError, IndexError) as e:
        return f"{type(e).__name__}: {e}"
    return "written"


@pytest.mark.parametrize("k", range(len(_indices(torch))))
def test_leaf_write_refusal_as_pytorch(k: int) -> None:
    theirs_index, ours_index = _indices(torch)[k], _indices(adjit)[k]
    for value in (5.0, "ones7"):
        want = _write(torch, theirs_index, torch.ones(7) if value == "ones7" else value)
        got = _write(adjit, ours_index, adjit.ones(7) if value == "ones7" else value)
        mask_first = got.startswith("IndexError: The shape of the mask") and "leaf" in want
        if not mask_first:
            assert got == want, (theirs_index, value)
        # (a mask of the wrong length on a leaf: PyTorch's IndexError comes after its leaf
        # check, adjit's before; both refuse)


def test_no_refusal_under_no_grad_or_for_plain_tensors() -> None:
    for T in (torch, adjit):
        x = T.ones(3, requires_grad=True)
        with T.no_grad():
            x[0] = 5
        y = T.ones(3)
        y[0:2] = 4
        assert x.tolist() == [5.0, 1.0, 1.0] and y.tolist() == [4.0, 4.0, 1.0]


VALUE_CASES = [
    (0, (1, 2)), (0, (2, 2)), (0, (1, 1, 2)), ([0, 1], (1, 2, 2)), ([0, 1], (3, 2, 2)),
    (slice(None), (1, 3, 2)), (0, (1,)), (0, (1, 1)), ((0, 0), (1, 1)), ((0, 0), (2,)),
    (0, (7,)), ([0, 1], (7,)), ("mask", (1, 1, 2)), ("mask", (3, 1)), ("mask", (2, 1)),
    (True, (7,)), ("true", (7,)), ((True, 0), (7,)), ((False,), (7,)), ((False,), (1, 2)),
    ("false", (7,)), (slice(None), (2,)), (slice(None), (3, 1)), ((slice(None), 0), (1, 3)),
]  # fmt: skip


def _put(T: Any, index: Any, shape: tuple[int, ...], requires_grad: bool) -> Any:
    named = {
        "mask": T.tensor([True, False, True]),
        "true": T.tensor(True),
        "false": T.tensor(False),
    }
    x = T.arange(6.0).reshape(3, 2).requires_grad_(requires_grad) * 1
    try:
        x[named.get(index, index) if isinstance(index, str) else index] = (
            T.arange(float(np.prod(shape))).reshape(shape) + 10
        )
    except RuntimeError as e:
        return f"RuntimeError: {e}"
    return x.tolist()


@pytest.mark.parametrize("case", VALUE_CASES, ids=str)
def test_value_shapes_as_pytorch(case: tuple) -> None:
    """Leading 1s dropped, then expanded (basic indices) or broadcast (advanced ones)."""
    for requires_grad in (False, True):
        assert _put(adjit, *case, requires_grad) == _put(torch, *case, requires_grad)


def _warnings(T: Any, write: bool) -> list[tuple[str, int]]:
    x = T.arange(6.0).reshape(3, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if write:
            x[[0, slice(None)]] = 1  # the line the warning names
        else:
            x[[0, slice(None)]]  # noqa: B018
        x[[0, 1]]  # noqa: B018  (a plain list of ints is an index tensor: no warning)
        x[(0, slice(None))]  # noqa: B018
    return [(str(w.message).split(" (Triggered")[0], w.lineno) for w in caught]


@pytest.mark.parametrize("write", [False, True])
def test_sequence_index_warns_as_pytorch(write: bool) -> None:
    got, want = _warnings(adjit, write), _warnings(torch, write)
    assert got == want and len(got) == 1
    assert got[0][0].startswith("Using a non-tuple sequence for multidimensional indexing")
    assert _warnings(adjit, write)[0][1] == got[0][1]
    x, t = adjit.arange(6.0).reshape(3, 2), torch.arange(6.0).reshape(3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert x[[0, slice(None)]].tolist() == t[[0, slice(None)]].tolist()
