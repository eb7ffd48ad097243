"""Errors PyTorch gives for ragged data, broadcast clashes and backward of outputs that do not
require grad, side by side: same type, same text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import adjit

torch = pytest.importorskip("torch")

DATA: list[Any] = [
    [[1, 2], [3]],
    [[1, 2], 3],
    [1, [2, 3]],
    [1.0, [2, 3]],
    [[[1], [2]], [[3], [4, 5]]],
    [[1, 2], [3, 4, 5]],
    [[], [1]],
    [(1, 2), [3, 4]],
    [[1, 2], "ab"],
    "ab",
    ["a", "b"],
    [1, "a"],
]


def _outcome(fn: Callable[[], Any]) -> tuple[str, str]:
    try:
        out = fn()
    except Exception as e:  # noqa: BLE001 - the outcome compared is the exception itself
        return type(e).__name__, str(e)
    return "ok", repr((tuple(out.shape), str(out.dtype).split(".")[-1], out.tolist()))


@pytest.mark.parametrize("case", range(len(DATA)))
def test_tensor_of_ragged_data(case: int) -> None:
    assert _outcome(lambda: adjit.tensor(DATA[case])) == _outcome(lambda: torch.tensor(DATA[case]))


SHAPES = [((2, 3), (3, 2)), ((4, 1, 3), (2, 5)), ((2, 3), (2,)), ((0,), (1,)), ((3,), (0,))]


@pytest.mark.parametrize("a, b", SHAPES)
@pytest.mark.parametrize("op", ["add", "broadcast_tensors", "where", "masked_fill"])
def test_broadcast_clash_names_the_last_mismatch(a: tuple, b: tuple, op: str) -> None:
    def run(lib: Any) -> Any:
        x, y = lib.zeros(a), lib.zeros(b)
        fns = {
            "add": lambda: x + y,
            "broadcast_tensors": lambda: lib.broadcast_tensors(x, y)[0],
            "where": lambda: lib.where(y > 0, x, 1.0),
            "masked_fill": lambda: x.masked_fill(y > 0, 1.0),
        }
        return fns[op]()

    got, want = _outcome(lambda: run(adjit)), _outcome(lambda: run(torch))
    assert got == want  # (Note [shape errors print as PyTorch's])


BACKWARDS: list[Callable[[Any], Any]] = [
    lambda lib: lib.zeros(2).backward(),
    lambda lib: lib.zeros(2, dtype=lib.long).backward(),
    lambda lib: lib.randn(2, 3).max(dim=1).values.backward(),
    lambda lib: lib.autograd.grad(lib.zeros(2), [lib.zeros(1, requires_grad=True)]),
    lambda lib: lib.zeros(2, requires_grad=True).backward(),
    lambda lib: lib.zeros(2, requires_grad=True).long().backward(),
    lambda lib: (lib.zeros(1, requires_grad=True) * 2).long().backward(),
]


@pytest.mark.parametrize("case", range(len(BACKWARDS)))
def test_backward_checks_requires_grad_first(case: int) -> None:
    got = _outcome(lambda: BACKWARDS[case](adjit))
    want = _outcome(lambda: BACKWARDS[case](torch))
    assert got == want


@pytest.mark.parametrize("order", [(0, 1), (1, 0), (1, 2, 0)])
def test_grad_names_the_first_unused_input_as_torch(order: tuple[int, ...]) -> None:
    texts = []
    for lib in (adjit, torch):
        xs = [lib.ones(3, requires_grad=True) for _ in range(3)]
        y = (xs[0] * 2).sum()
        with pytest.raises(RuntimeError) as info:
            lib.autograd.grad(y, [xs[i] for i in order])
        texts.append(str(info.value))
    assert texts[0] == texts[1]
