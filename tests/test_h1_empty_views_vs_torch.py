"""Empty views keep the storage offset, version counter and view checks PyTorch gives them
(NumPy forgets where an empty slice starts: Note [empty views keep their offset])."""

from __future__ import annotations

from typing import Any

import pytest

import adjit

torch = pytest.importorskip("torch")

VIEWS = [
    "x[5:5]",
    "x[10:]",
    "x[12:]",
    "x[7:2]",
    "x[-3:-3]",
    "x[3:8][2:2]",
    "x[5:5][0:0]",
    "x[::2][2:2]",
    "x.narrow(0, 4, 0)",
    "m[1:1]",
    "m[:, 2:2]",
    "m[2:, 1:1]",
    "m[1:1, 3:]",
    "m[3:]",
    "m[-1, 2:2]",
    "m[..., 3:3]",
    "m[None, 1:1]",
    "m.unsqueeze(0)[:, 1:1]",
    "m.t()[1:1]",
    "m[1:1].t()",
    "m.select(0, 1)[2:2]",
    "m.unbind(0)[2][4:]",
    "x[5:5].view(0, 1)",
    "x[5:5].reshape(0)",
    "x[5:5].expand(0)",
    "x[5:5].flip(0)",
    "m.diagonal(offset=5)",
    "m[0:0].diagonal()",
    "m[1:][:, 2:2]",
]


@pytest.mark.parametrize("view", VIEWS)
def test_empty_view_storage_offset_as_pytorch(view: str) -> None:
    got = []
    for T in (adjit, torch):
        v = eval(view, {"x": T.arange(10), "m": T.arange(12).view(3, 4)})
        got.append((tuple(v.shape), v.storage_offset()))
    assert got[0] == got[1]


CASES = [
    "a = T.ones(4, requires_grad=True); a[2:2].mul_(2)",
    "a = T.ones(4, requires_grad=True); y = a * 1; e = y[3:3]; e.mul_(2)\n"
    "out(type(y.grad_fn).__name__, type(e.grad_fn).__name__)",
    "a = T.ones(4, requires_grad=True); a[1:1].sum().backward(); out(a.grad)",
    "b = T.zeros(3); w = b[1:1]; b.add_(1); out(w._version, b._version)",
    "b = T.zeros(3); w = b[1:1].view(0, 1); b.add_(1); out(w._version, w.storage_offset())",
]


def _outcome(T: Any, code: str) -> list[str]:
    printed: list[str] = []
    try:
        exec(code, {"T": T, "out": lambda *v: printed.append(" ".join(map(str, v)))})
    except RuntimeError as e:
        printed.append(f"RuntimeError: {e}")
    return printed


@pytest.mark.parametrize("code", CASES)
def test_empty_views_are_views_as_pytorch(code: str) -> None:
    assert _outcome(adjit, code) == _outcome(torch, code)


BASES = ["r", "x", "x[1]", "x[1:]", "x.t()", "x[1][2:]", "x.detach()", "x.clone()", "x * 1",
         "x.reshape(12)", "x.t().reshape(12)", "x.split(2)[0]", "x.unbind(0)[1]", "x.diagonal()",
         "x.expand(2, 3, 4)", "x.flatten()", "x.contiguous()", "x.unsqueeze(0)",
         "x[T.tensor([0, 1])]", "x[x > 3]", "x.narrow(1, 1, 2)", "x.movedim(0, 1)", "x.data",
         "x.mT", "r[5:5]", "r[2:4].view(2, 1)"]  # fmt: skip


@pytest.mark.parametrize("view", BASES)
def test_base_as_pytorch(view: str) -> None:
    got = []
    for T in (adjit, torch):
        r = T.arange(12.0)
        x = r.view(3, 4) * 1
        b = eval(view, {"T": T, "r": r, "x": x})._base
        got.append(None if b is None else "x" if b is x else "r" if b is r else "other")
    assert got[0] == got[1]
