"""torch.LongTensor & co. make tensors of their own dtype and check dtypes in isinstance;
Tensor.new and set_default_tensor_type, side by side with PyTorch (Note [legacy tensor types])."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

NAMES = ["Float", "Double", "Half", "BFloat16", "Byte", "Char", "Short", "Int", "Long", "Bool"]


def _outcome(fn: Callable[[Any], Any], lib: Any) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = fn(lib)
    except Exception as e:  # the error's type and text are compared
        return f"{type(e).__name__}: {e}"
    if isinstance(value, lib.Tensor):
        return f"{value.dtype} {tuple(value.shape)} {value.tolist()}"
    return repr(value)


def _of(name: str, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda m: fn(getattr(m, f"{name}Tensor"))


def _made(t: Any) -> tuple[Any, ...]:
    """An uninitialized tensor's dtype and shape (its values are whatever memory held)."""
    return t.dtype, tuple(t.shape)


CASES: dict[str, Callable[[Any], Any]] = {
    **{f"{n}_list": _of(n, lambda t: t([1, 0, 2])) for n in NAMES},
    **{f"{n}_repr": _of(n, repr) for n in NAMES},
    **{f"{n}_dtype": _of(n, lambda t: t.dtype) for n in NAMES},
    "sizes": lambda m: _made(m.LongTensor(2, 3)),
    "size_object": lambda m: _made(m.IntTensor(m.Size([2]))),
    "empty": lambda m: m.DoubleTensor(),
    "nested": lambda m: m.LongTensor([[1, 2], [3, 4]]),
    "tuple": lambda m: m.ShortTensor((1, 2)),
    "truncates": lambda m: m.LongTensor([1.7, -2.5]),
    "ndarray": lambda m: m.LongTensor(np.array([1.5, 2.0])),
    "same_dtype_tensor": lambda m: m.LongTensor(m.zeros(2, dtype=m.int64)),
    "other_dtype_tensor": lambda m: m.LongTensor(m.zeros(2)),
    "dtype_keyword": lambda m: m.LongTensor(2, dtype=m.float32),
    "float_data": lambda m: m.FloatTensor(2.5),
    "str_data": lambda m: m.FloatTensor("a"),
    "complex_data": lambda m: m.FloatTensor([1j]),
    "size_and_list": lambda m: m.FloatTensor(2, [1]),
    "size_and_float": lambda m: m.FloatTensor(2, 3.0),
    "overflow": lambda m: m.ByteTensor([-1, 300]),
    "negative_size": lambda m: m.IntTensor(-1),
    "issubclass": lambda m: issubclass(m.LongTensor, m.Tensor),
    "is_sparse": lambda m: m.LongTensor.is_sparse,
    "isinstance": lambda m: [
        isinstance(m.zeros(2), m.FloatTensor),
        isinstance(m.zeros(2, dtype=m.float64), m.FloatTensor),
        isinstance(m.zeros(2, dtype=m.float64), m.DoubleTensor),
        isinstance(m.zeros(2, dtype=m.bool), m.BoolTensor),
        isinstance(3, m.LongTensor),
        isinstance(m.zeros(2, dtype=m.int64), m.Tensor),
    ],
    "type_of_class": lambda m: m.zeros(2).type(m.LongTensor),
    "type_of_name": lambda m: m.zeros(2).type("torch.IntTensor"),
    "type_name": lambda m: m.zeros(2, dtype=m.int8).type(),
    "type_transposed": lambda m: m.FloatTensor([[1, 2], [3, 4]]).t().type(m.IntTensor),
    "new_sizes": lambda m: _made(m.zeros(2, dtype=m.int32).new(2, 3)),
    "new_data": lambda m: m.zeros(2, dtype=m.int32).new([1.5, 2]),
    "new_empty": lambda m: m.zeros(2, dtype=m.float64).new(),
    "new_size_object": lambda m: _made(m.zeros(2, dtype=m.int16).new(m.Size([2]))),
    "new_dtype_keyword": lambda m: m.zeros(2).new(2, dtype=m.float32),
    "new_alias": lambda m: (lambda x: (x.new(x) is x, x.new(x).tolist()))(m.ones(2)),
}


@pytest.mark.parametrize("name", CASES)
def test_matches_torch(name: str) -> None:
    assert _outcome(CASES[name], adjit) == _outcome(CASES[name], torch)


def test_new_of_tensor_is_an_alias_in_the_graph() -> None:
    x = adjit.ones(2, requires_grad=True)
    y = x.new(x)
    (y * 3).sum().backward()
    assert y is not x and y.requires_grad
    assert x.grad.tolist() == [3.0, 3.0]


@pytest.mark.parametrize("arg", ["DoubleTensor", "torch.DoubleTensor", "LongTensor",
                                 "torch.IntTensor", "torch.Foo", "foo"])  # fmt: skip
def test_set_default_tensor_type(arg: str) -> None:
    def run(m: Any) -> str:
        before = m.get_default_dtype()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (PyTorch warns once a process: tested below)
            try:
                m.set_default_tensor_type(getattr(m, arg, arg))
                made = [m.tensor([1.0]).dtype, m.Tensor([1]).dtype, m.FloatTensor([1]).dtype]
                outcome = repr(made)
            except Exception as e:  # the error's type and text are compared
                outcome = f"{type(e).__name__}: {e}"
            finally:
                m.set_default_dtype(before)
        return outcome

    assert run(adjit) == run(torch)


def test_set_default_tensor_type_warns_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from adjit.runtime import legacy_types

    monkeypatch.setattr(legacy_types, "_WARNED", [False])
    with pytest.warns(UserWarning, match=r"set_default_tensor_type\(\) is deprecated"):
        adjit.set_default_tensor_type(adjit.FloatTensor)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        adjit.set_default_tensor_type("torch.FloatTensor")
