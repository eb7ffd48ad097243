"""Bad programs fail as in PyTorch: same exception type, PyTorch's text, op and shapes named."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import pytest

import adjit

torch = pytest.importorskip("torch")


def _f(T: Any, *shape: int) -> Any:
    return T.ones(shape, dtype=T.float64)


def _i(T: Any, *shape: int) -> Any:
    return T.ones(shape, dtype=T.int64)


# name -> the failing program; adjit's message must contain PyTorch's
BAD: dict[str, Callable[[Any], Any]] = {
    "add broadcast": lambda T: _f(T, 2, 3) + _f(T, 2, 4),
    "mul broadcast lead": lambda T: _f(T, 3, 1) * _f(T, 2, 1, 1).expand(2, 4, 1),
    "where broadcast": lambda T: T.where(_f(T, 3) > 0, _f(T, 3), _f(T, 4)),
    "maximum broadcast": lambda T: T.maximum(_f(T, 2), _f(T, 3)),
    "matmul 2d": lambda T: _f(T, 2, 3) @ _f(T, 4, 5),
    "mm": lambda T: T.mm(_f(T, 2, 3), _f(T, 2, 3)),
    "matmul 0-dim": lambda T: T.matmul(_f(T), _f(T, 3)),
    "matmul dtype": lambda T: _f(T, 2, 3) @ _f(T, 3, 2).float(),
    "dot 2d": lambda T: T.dot(_f(T, 2, 3), _f(T, 3)),
    "bmm 2d": lambda T: T.bmm(_f(T, 2, 3), _f(T, 3, 2)),
    "reshape": lambda T: _f(T, 2, 3).reshape(4, 2),
    "view infer": lambda T: _f(T, 2, 3).view(-1, 4),
    "reshape two -1": lambda T: _f(T, 2, 3).reshape(-1, -1),
    "expand": lambda T: _f(T, 2, 3).expand(4, 3),
    "expand fewer dims": lambda T: _f(T, 2, 3).expand(3),
    "permute": lambda T: _f(T, 2, 3).permute(0),
    "cat": lambda T: T.cat([_f(T, 2, 3), _f(T, 2, 4)]),
    "stack": lambda T: T.stack([_f(T, 2, 3), _f(T, 3, 3)]),
    "dim out of range": lambda T: _f(T, 2, 3).sum(2),
    "neg dim out of range": lambda T: _f(T, 2, 3).softmax(-3),
    "transpose dim": lambda T: _f(T, 2, 3).transpose(0, 5),
    "index out of range": lambda T: _f(T, 2, 3)[2],
    "index dim 1 out of range": lambda T: _f(T, 2, 3)[:, -4],
    "too many indices": lambda T: _f(T, 2, 3)[0, 0, 0],
    "requires_grad int": lambda T: _i(T, 3).requires_grad_(),
    "requires_grad bool": lambda T: T.ones(3, dtype=T.bool).requires_grad_(),
    "mean int": lambda T: _i(T, 3).mean(),
    "mean bool": lambda T: (_i(T, 3) > 0).mean(),
    "gather index dtype": lambda T: _f(T, 2, 3).gather(1, _f(T, 2, 3)),
    "gather index range": lambda T: _f(T, 2, 3).gather(1, _i(T, 2, 3) * 5),
    "cat ndim": lambda T: T.cat([_f(T, 2, 3), _f(T, 3)]),
    "matmul int float": lambda T: _f(T, 2, 3).float() @ _i(T, 3, 2),
    "expand int": lambda T: _i(T, 2, 3).int().expand(3),
    "argmax empty": lambda T: T.ones(0, 3).argmax(),
    "max empty": lambda T: T.ones(0, 3).max(),
    "amin empty dim": lambda T: T.ones(0, 3).amin(0),
    "gather index dims": lambda T: _f(T, 2, 3).gather(1, _i(T, 3)),
    "sub bool": lambda T: (_f(T, 3) > 0) - (_f(T, 3) > 0),
    "neg bool": lambda T: -(_f(T, 3) > 0),
    "int negative power": lambda T: _i(T, 3) ** -1,
    "amax empty": lambda T: T.ones(0, 3).amax(),
    "backward non-scalar": lambda T: (_f(T, 3).requires_grad_() * 2).backward(),
    "item of many": lambda T: _f(T, 3).item(),
    "clamp no bounds": lambda T: _f(T, 3).clamp(),
    "int floordiv by zero": lambda T: _i(T, 3) // 0,
    "var int": lambda T: _i(T, 3).var(),
    "gather negative index": lambda T: _f(T, 2, 3).gather(1, -_i(T, 2, 1)),
    "div rounding mode": lambda T: T.div(_f(T, 3), 2, rounding_mode="round"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_raises_like_torch(name: str) -> None:
    with pytest.raises(Exception) as want:
        BAD[name](torch)
    with pytest.raises(Exception) as got:
        BAD[name](adjit)
    assert issubclass(got.type, want.type) or (want.type.__name__ == got.type.__name__), (
        f"{got.type} is not a {want.type}"
    )
    assert str(want.value) in str(got.value)


# errors whose note names the op and both operands' shapes and dtypes (the message itself is
# PyTorch's: Note [shape errors print as PyTorch's])
NAMED = {
    "add broadcast": ("add", "f64[2,3]", "f64[2,4]"),
    "matmul 2d": ("matmul", "f64[2,3]", "f64[4,5]"),
    "where broadcast": ("where", "f64[3]", "f64[4]"),
    "reshape": ("reshape", "f64[2,3]"),
    "cat": ("cat", "f64[2,3]", "f64[2,4]"),
}


@pytest.mark.parametrize("name", list(NAMED))
def test_message_names_op_and_shapes(name: str) -> None:
    with pytest.raises(RuntimeError) as got:
        BAD[name](adjit)
    notes = "\n".join(getattr(got.value, "__notes__", ()))
    for part in NAMED[name]:
        assert part in notes
    assert "".join(traceback.format_exception_only(got.value)).startswith("RuntimeError: ")
    with pytest.raises(RuntimeError) as want:
        BAD[name](torch)
    assert str(got.value) == str(want.value)


def test_broadcast_message_exact_text() -> None:
    with pytest.raises(
        RuntimeError,
        match=r"The size of tensor a \(3\) must match the size of "
        r"tensor b \(4\) at non-singleton dimension 1",
    ):
        _f(adjit, 2, 3) + _f(adjit, 2, 4)


def test_amax_of_empty_dims_that_are_not_reduced() -> None:
    for T in (adjit, torch):
        assert tuple(T.ones(0, 3).amax(1).shape) == (0,)


def test_shape_error_is_runtime_error() -> None:
    assert issubclass(adjit.ShapeError, RuntimeError)
