"""Table-driven comparisons of adjit.runtime.printing against torch's own tensor repr."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from adjit.runtime import printing
from adjit.runtime.printing import format_parameter, format_tensor

_DEFAULT_DTYPES = {"float32", "int64", "bool", "complex64"}


@pytest.fixture(autouse=True)
def _restore_printoptions() -> Iterator[None]:
    saved = printing.get_printoptions()
    torch_saved = None
    try:
        import torch

        torch_saved = torch._tensor_str.get_printoptions()
    except ImportError:
        pass
    yield
    printing.set_printoptions(**saved)
    if torch_saved is not None:
        import torch

        torch.set_printoptions(**torch_saved)


@pytest.fixture
def torch() -> Any:
    return pytest.importorskip("torch")


def _fmt(arr: np.ndarray, suffixes: list[str] | None = None) -> str:
    name = arr.dtype.name
    return format_tensor(
        arr, dtype_name=name, is_default_dtype=name in _DEFAULT_DTYPES, suffixes=suffixes or []
    )


def _set_both(torch: Any, **opts: Any) -> None:
    printing.set_printoptions(**opts)
    torch.set_printoptions(**opts)


def _rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def _rand(shape: tuple[int, ...], scale: float = 1.0, dtype: Any = np.float32) -> np.ndarray:
    return (_rng().standard_normal(shape) * scale).astype(dtype)


def _cases() -> dict[str, Callable[[], np.ndarray]]:
    f32, f64 = np.float32, np.float64
    return {
        "f32_1d": lambda: _rand((5,)),
        "f32_small_values": lambda: _rand((6,), 1e-3),
        "f32_tiny_sci": lambda: _rand((4,), 1e-6),
        "f32_huge_sci": lambda: _rand((4,), 1e9),
        "f32_mixed_range_sci": lambda: np.array([1e-2, 3.5, 2e2, 1.5e3], f32),
        "f32_ratio_below_1000": lambda: np.array([0.01, 9.99], f32),
        "f32_large_no_sci": lambda: np.array([12345.678, 1.5e7], f32),
        "f64_1d": lambda: _rand((7,), 10.0, f64),
        "f64_precise": lambda: np.array([1 / 3, 2 / 3, 1e-4], f64),
        "f64_huge_int": lambda: np.array([1e20, -3e15, 7.0], f64),
        "f16": lambda: _rand((5,), 3.0, np.float16),
        "integral_floats": lambda: np.array([4.0, 6.0, -12.0, 100.0], f32),
        "integral_floats_big": lambda: np.array([1e9, 2.0], f32),
        "negative_zero": lambda: np.array([-0.0, 0.0, 1.0], f32),
        "only_negative_zero": lambda: np.array([-0.0], f32),
        "all_zeros": lambda: np.zeros((2, 3), f32),
        "nan_inf": lambda: np.array([np.nan, np.inf, -np.inf, 1.5], f32),
        "nan_inf_integral": lambda: np.array([np.nan, np.inf, -np.inf, 2.0], f32),
        "only_nonfinite": lambda: np.array([np.nan, -np.inf], f32),
        "nan_inf_sci": lambda: np.array([np.nan, 1e-7, 3.0], f64),
        "int64": lambda: np.array([1, 2, 3], np.int64),
        "int64_neg_wide": lambda: np.array([-123456789, 5, 0], np.int64),
        "int32": lambda: np.arange(-3, 4, dtype=np.int32),
        "uint8": lambda: np.array([0, 7, 255], np.uint8),
        "int8_2d": lambda: np.arange(-6, 6, dtype=np.int8).reshape(3, 4),
        "int16": lambda: np.array([300, -2], np.int16),
        "bool": lambda: np.array([True, False]),
        "bool_2d": lambda: _rand((3, 4)) > 0,
        "scalar_f32": lambda: np.array(29.0, f32),
        "scalar_frac": lambda: np.array(0.123456, f32),
        "scalar_tiny": lambda: np.array(1e-8, f32),
        "scalar_f64": lambda: np.array(-2.5, f64),
        "scalar_int": lambda: np.array(7, np.int64),
        "scalar_bool": lambda: np.array(True),
        "scalar_nan": lambda: np.array(np.nan, f32),
        "long_1d_wrap": lambda: _rand((50,)),
        "long_1d_int_wrap": lambda: np.arange(100, dtype=np.int64) * 37,
        "long_1d_sci_wrap": lambda: _rand((40,), 1e6),
        "arange_f32_wrap": lambda: np.arange(60, dtype=f32),
        "2d": lambda: _rand((3, 4)),
        "2d_wide_rows": lambda: _rand((2, 30)),
        "3d": lambda: _rand((2, 3, 4)),
        "4d": lambda: _rand((2, 2, 2, 3), 100.0),
        "4d_int": lambda: np.arange(48, dtype=np.int64).reshape(2, 3, 2, 4),
        "summ_1d": lambda: _rand((2000,)),
        "summ_1d_int": lambda: np.arange(1001, dtype=np.int64),
        "summ_2d": lambda: _rand((40, 40)),
        "summ_2d_one_dim": lambda: _rand((2, 600)),
        "summ_3d": lambda: _rand((12, 10, 11), 1e-5),
        "summ_4d_mixed": lambda: np.arange(7 * 8 * 9 * 3, dtype=f32).reshape(7, 8, 9, 3) - 100,
        "summ_bool": lambda: _rand((1200,)) > 0,
        "summ_outlier_hidden": lambda: np.concatenate(
            [np.ones(3, f32), np.full(1000, 1e-9, f32), np.ones(3, f32)]
        ),
        "empty_1d": lambda: np.zeros((0,), f32),
        "empty_2d": lambda: np.zeros((0, 3), f32),
        "empty_3d": lambda: np.zeros((2, 0, 4), f32),
        "empty_int": lambda: np.zeros((0,), np.int64),
        "empty_int_2d": lambda: np.zeros((3, 0), np.int64),
        "empty_bool": lambda: np.zeros((0,), bool),
        "empty_f64": lambda: np.zeros((0, 1), f64),
        "complex64": lambda: np.array([1 + 2j, -0.5 - 1e-3j, 3j], np.complex64),
        "complex128_2d": lambda: _rand((2, 3), 1.0, f64) + 1j * _rand((2, 3), 50.0, f64),
    }


CASES = _cases()
FLOAT_CASES = [k for k in CASES if CASES[k]().dtype.kind == "f" and CASES[k]().size > 0]


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch_repr(torch: Any, name: str) -> None:
    arr = CASES[name]()
    assert _fmt(arr) == repr(torch.from_numpy(arr))


@pytest.mark.parametrize("name", FLOAT_CASES)
def test_requires_grad_suffix(torch: Any, name: str) -> None:
    arr = CASES[name]()
    t = torch.from_numpy(arr).requires_grad_()
    assert _fmt(arr, ["requires_grad=True"]) == repr(t)


@pytest.mark.parametrize("name", FLOAT_CASES)
def test_grad_fn_suffix(torch: Any, name: str) -> None:
    x = torch.from_numpy(CASES[name]()).requires_grad_()
    y = x + 0
    expected_suffix = f"grad_fn=<{type(y.grad_fn).__name__}>"
    assert expected_suffix == "grad_fn=<AddBackward0>"
    assert _fmt(y.detach().numpy(), [expected_suffix]) == repr(y)


@pytest.mark.parametrize("n", range(1, 30))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_suffix_wrapping_at_linewidth(torch: Any, n: int, dtype: Any) -> None:
    arr = np.arange(n, dtype=dtype) * 1.25
    t = torch.from_numpy(arr).requires_grad_()
    assert _fmt(arr, ["requires_grad=True"]) == repr(t)
    y = t * 1
    assert _fmt(arr, [f"grad_fn=<{type(y.grad_fn).__name__}>"]) == repr(y)


@pytest.mark.parametrize("name", ["f32_1d", "2d", "scalar_f32", "empty_2d", "f64_1d"])
def test_parameter_repr(torch: Any, name: str) -> None:
    arr = CASES[name]()
    p = torch.nn.Parameter(torch.from_numpy(arr))
    got = format_parameter(
        arr,
        dtype_name=arr.dtype.name,
        is_default_dtype=arr.dtype.name in _DEFAULT_DTYPES,
        suffixes=["requires_grad=True"],
    )
    assert got == repr(p)


OPTION_SETS: list[dict[str, Any]] = [
    {"precision": 2},
    {"precision": 8},
    {"precision": 0},
    {"sci_mode": True},
    {"sci_mode": False},
    {"profile": "full"},
    {"profile": "short"},
    {"profile": "default"},
    {"threshold": 5},
    {"threshold": 5, "edgeitems": 1},
    {"threshold": 5, "edgeitems": 0},
    {"linewidth": 40},
    {"linewidth": 200, "precision": 3},
]


@pytest.mark.parametrize(
    "opts", OPTION_SETS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items())
)
@pytest.mark.parametrize(
    "name",
    [
        "f32_1d", "f32_tiny_sci", "f64_precise", "integral_floats", "nan_inf", "int64",
        "bool", "scalar_frac", "long_1d_wrap", "3d", "summ_2d", "summ_1d_int",
        "empty_2d", "complex64", "negative_zero",
    ],
)  # fmt: skip
def test_printoptions_match_torch(torch: Any, opts: dict[str, Any], name: str) -> None:
    _set_both(torch, **opts)
    assert printing.get_printoptions() == torch._tensor_str.get_printoptions()
    arr = CASES[name]()
    assert _fmt(arr) == repr(torch.from_numpy(arr))
    if arr.dtype.kind == "f":
        t = torch.from_numpy(arr).requires_grad_()
        assert _fmt(arr, ["requires_grad=True"]) == repr(t)


def test_full_profile_prints_everything(torch: Any) -> None:
    _set_both(torch, profile="full")
    arr = _rand((1500,))
    out = _fmt(arr)
    assert "..." not in out
    assert out == repr(torch.from_numpy(arr))


def test_random_magnitudes_fuzz(torch: Any) -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        ndim = int(rng.integers(0, 4))
        shape = tuple(int(s) for s in rng.integers(1, 6, size=ndim))
        exps = rng.uniform(-12, 12, size=shape)
        vals = rng.standard_normal(shape) * 10.0**exps
        if rng.random() < 0.3:
            vals = np.round(vals)
        dtype = np.float32 if rng.random() < 0.5 else np.float64
        arr = np.asarray(vals).astype(dtype)
        assert _fmt(arr) == repr(torch.from_numpy(arr)), arr


def test_literal_examples() -> None:
    f32 = np.float32
    assert _fmt(np.array([4.0, 6.0], f32), ["requires_grad=True"]) == (
        "tensor([4., 6.], requires_grad=True)"
    )
    assert _fmt(np.array(29.0, f32), ["grad_fn=<AddBackward0>"]) == (
        "tensor(29., grad_fn=<AddBackward0>)"
    )
    assert _fmt(np.array([1, 2, 3])) == "tensor([1, 2, 3])"
    assert _fmt(np.array([1.0, 2.0])) == "tensor([1., 2.], dtype=torch.float64)"
    # torch right-aligns bools to the widest element ("False").
    assert _fmt(np.array([True, False])) == "tensor([ True, False])"
    assert _fmt(np.zeros((0, 3), f32)) == "tensor([], size=(0, 3))"
    assert _fmt(np.zeros((0,), np.int64)) == "tensor([], dtype=torch.int64)"
    assert _fmt(np.array([[1.5, 2.0], [3.0, 4.0]], f32)) == (
        "tensor([[1.5000, 2.0000],\n        [3.0000, 4.0000]])"
    )
    assert _fmt(np.array([1.0, 2.0], np.float64), ["requires_grad=True"]) == (
        "tensor([1., 2.], dtype=torch.float64, requires_grad=True)"
    )


def test_printoptions_defaults_and_context() -> None:
    assert printing.get_printoptions() == {
        "precision": 4,
        "threshold": 1000,
        "edgeitems": 3,
        "linewidth": 80,
        "sci_mode": None,
    }
    with printing.printoptions(precision=2, sci_mode=True):
        assert printing.get_printoptions()["precision"] == 2
        assert _fmt(np.array([1.0], np.float32)) == "tensor([1.00e+00])"
    assert printing.get_printoptions()["precision"] == 4
    printing.set_printoptions(profile="full")
    assert printing.get_printoptions()["threshold"] == float("inf")
