"""adjit.testing.make_tensor against torch.testing.make_tensor: under the same manual_seed the
same values (bit for bit), shape, strides and flags; the same argument errors and warnings."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

DTYPES = [
    "bool", "uint8", "int8", "int16", "int32", "int64",
    "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
]  # fmt: skip
FLOATING = {"float16", "bfloat16", "float32", "float64", "complex64", "complex128"}

OPTIONS: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "plain": ((3, 4), {}),
    "shape_tuple": (((2, 5),), {}),
    "shape_list": (([7],), {}),
    "scalar": ((), {}),
    "empty": ((0, 3), {}),
    "noncontiguous": ((3, 4), {"noncontiguous": True}),
    "noncontiguous_one_element": ((1, 1), {"noncontiguous": True}),
    "exclude_zero": ((64,), {"exclude_zero": True, "low": -2, "high": 2}),
    # draws that round to zero (float32/complex64/halves; integers: randint(0, 1)) -> tiny or 1
    "exclude_zero_many_zeros": ((200,), {"exclude_zero": True, "low": 0, "high": 1e-44}),
    "low_high": ((50,), {"low": 1, "high": 3}),
    "low_only": ((20,), {"low": 5}),
    "high_only": ((20,), {"high": -3}),
    "fractional_bounds": ((40,), {"low": -2.5, "high": 2.5}),
    "channels_last": ((2, 3, 2, 2), {"memory_format": "channels_last"}),
}


def _make(T: Any, dtype: str, args: tuple, options: dict[str, Any]) -> Any:
    options = dict(options)
    if "memory_format" in options:
        options["memory_format"] = getattr(T, options["memory_format"])
    return T.testing.make_tensor(*args, dtype=getattr(T, dtype), device="cpu", **options)


def _values(t: Any) -> np.ndarray:
    t = t.detach()
    if t.dtype.is_floating_point and t.dtype.itemsize == 2:
        t = t.float()  # (NumPy has no bfloat16): exact, every half value is a float32
    return t.numpy()


@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_same_values_under_the_same_seed(dtype: str, option: str) -> None:
    args, options = OPTIONS[option]
    bounded = "low" in options or "high" in options
    if dtype == "bool" and bounded or dtype == "uint8" and option == "high_only":
        pytest.skip("outside the dtype's range: an error (test_errors_are_pytorchs)")
    made = []
    for T in (torch, adjit):
        T.manual_seed(1234)
        made.append(_make(T, dtype, args, options))
    want, got = made
    assert str(got.dtype) == str(want.dtype) and tuple(got.shape) == tuple(want.shape)
    if want.numel():  # (adjit.empty(0, 3).stride() is (0, 0): NumPy's, not PyTorch's (3, 1))
        assert got.stride() == want.stride()
    assert got.is_contiguous() == want.is_contiguous()
    assert got.requires_grad is want.requires_grad is False
    np.testing.assert_array_equal(_values(got), _values(want), strict=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_draws_are_not_degenerate(dtype: str) -> None:
    """The value tests can tell streams apart: a default draw holds every value it may."""
    adjit.manual_seed(0)
    values = _values(_make(adjit, dtype, (400,), {}))
    distinct = len(np.unique(values))
    if dtype in FLOATING:  # (bfloat16 has 8 bits of mantissa: repeats in 400 draws)
        assert distinct > 200
    else:
        assert distinct == {"bool": 2, "uint8": 10}.get(dtype, 19)


@pytest.mark.parametrize("dtype", sorted(FLOATING))
def test_requires_grad_and_the_full_range(dtype: str) -> None:
    made = []
    for T in (torch, adjit):
        T.manual_seed(7)
        info = T.finfo(getattr(T, dtype))  # high - low overflows: halved, drawn, doubled
        full = _make(T, dtype, (16,), {"low": info.min, "high": info.max, "requires_grad": True})
        made.append((full, _make(T, dtype, (5,), {"requires_grad": True})))
    for want, got in zip(*made, strict=True):
        assert got.requires_grad and got.is_leaf and want.requires_grad
        np.testing.assert_array_equal(_values(got), _values(want), strict=True)


def _outcome(T: Any, fn: Any) -> tuple[str, str, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fn(T)
            result = ("pass", "")
        except Exception as e:  # noqa: BLE001 - the outcome is the exception
            result = (type(e).__name__, str(e))
    return (*result, [f"{w.category.__name__}: {w.message}" for w in caught])


ERRORS = {
    "requires_grad_int": lambda T: T.testing.make_tensor(
        2, dtype=T.int64, device="cpu", requires_grad=True
    ),
    "requires_grad_bool": lambda T: T.testing.make_tensor(
        2, dtype=T.bool, device="cpu", requires_grad=True
    ),
    "low_ge_high": lambda T: T.testing.make_tensor(2, dtype=T.float32, device="cpu", low=3, high=1),
    "low_ge_high_int": lambda T: T.testing.make_tensor(
        2, dtype=T.int32, device="cpu", low=3, high=3
    ),
    "low_eq_high_float": lambda T: T.testing.make_tensor(
        2, dtype=T.float64, device="cpu", low=2, high=2
    ),
    "nan_bound": lambda T: T.testing.make_tensor(
        2, dtype=T.float32, device="cpu", low=float("nan")
    ),
    "interval_outside_uint8": lambda T: T.testing.make_tensor(
        2, dtype=T.uint8, device="cpu", low=-9, high=-1
    ),
    "interval_outside_bool": lambda T: T.testing.make_tensor(
        2, dtype=T.bool, device="cpu", low=2, high=5
    ),
    "interval_outside_int8": lambda T: T.testing.make_tensor(
        2, dtype=T.int8, device="cpu", low=200, high=300
    ),
    "noncontiguous_and_memory_format": lambda T: T.testing.make_tensor(
        2, 2, dtype=T.float32, device="cpu", noncontiguous=True, memory_format=T.channels_last
    ),
    "unsupported_dtype": lambda T: T.testing.make_tensor(2, dtype=float, device="cpu"),
    "clamped_int8": lambda T: T.testing.make_tensor(
        2, dtype=T.int8, device="cpu", low=-1000, high=1000
    ),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_are_pytorchs(name: str) -> None:
    assert _outcome(adjit, ERRORS[name]) == _outcome(torch, ERRORS[name])


@pytest.mark.parametrize("dtype", ["uint16", "uint32", "uint64", "complex32"])
def test_dtypes_adjit_cannot_store_are_refused_by_name(dtype: str) -> None:
    torch.testing.make_tensor(2, dtype=getattr(torch, dtype), device="cpu")
    with pytest.raises(TypeError, match=rf"^adjit does not support torch.{dtype} yet"):
        adjit.testing.make_tensor(2, dtype=getattr(adjit, dtype), device="cpu")


def _user_test(torch: Any) -> Any:
    """A test written for PyTorch, run unchanged as ``import adjit as torch``."""
    torch.manual_seed(0)
    make = torch.testing.make_tensor
    x = make(4, 5, dtype=torch.float64, device="cpu", low=-3, high=3, requires_grad=True)
    w = make((5, 3), dtype=torch.float64, device="cpu", noncontiguous=True)
    i = make(4, dtype=torch.int64, device="cpu", low=0, high=3)
    out = torch.nn.functional.log_softmax(x @ w, dim=-1)
    loss = torch.nn.functional.nll_loss(out, i)
    loss.backward()
    torch.testing.assert_close(out.exp().sum(-1), torch.ones(4, dtype=torch.float64))
    torch.testing.assert_close({"loss": loss, "n": [out.shape[0]]}, {"loss": loss * 1, "n": [4]})
    return x.grad


def test_a_pytorch_test_runs_unchanged() -> None:
    np.testing.assert_allclose(_user_test(adjit).numpy(), _user_test(torch).numpy(), rtol=1e-12)


def test_exclude_zero_draws_hit_the_replacement() -> None:
    """The many-zeros option really draws zeros: they become finfo.tiny, never 0."""
    adjit.manual_seed(1234)
    x = _make(adjit, "float32", *OPTIONS["exclude_zero_many_zeros"])
    assert int((x == adjit.finfo(adjit.float32).tiny).sum()) > 10 and bool((x != 0).all())
