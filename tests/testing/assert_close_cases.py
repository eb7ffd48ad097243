"""Inputs for assert_close side by side with PyTorch: name -> T -> (actual, expected, options),
where T is the module (``torch`` or ``adjit``) that builds the tensors."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

Case = Callable[[Any], tuple[Any, Any, dict[str, Any]]]
NAN, INF = math.nan, math.inf


def _pair(values_a: list, values_b: list, dtype: str, **options: Any) -> Case:
    return lambda T: (
        T.tensor(values_a, dtype=getattr(T, dtype)),
        T.tensor(values_b, dtype=getattr(T, dtype)),
        options,
    )


def _both(fn: Callable[[Any], Any], fn_b: Callable[[Any], Any], **options: Any) -> Case:
    return lambda T: (fn(T), fn_b(T), options)


FLOATS = ["float16", "bfloat16", "float32", "float64"]
INTS = ["uint8", "int8", "int16", "int32", "int64"]
COMPLEX = ["complex64", "complex128"]

CASES: dict[str, Case] = {}
for dt in FLOATS:
    CASES[f"{dt}_equal"] = _pair([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], dt)
    CASES[f"{dt}_within_default_tol"] = _pair([1.0, 2.0, 3.0], [1.0, 2.0 + 1.5e-7, 3.0], dt)
    CASES[f"{dt}_near_tol"] = _pair([1.0, 2.0, 3.0], [1.0, 2.0 + 3e-6, 3.0 + 4e-3], dt)
    CASES[f"{dt}_not_close"] = _pair([1.0, 4.0, 5.0], [1.0, 2.0, 3.0], dt)
    CASES[f"{dt}_2d_not_close"] = _pair(
        [[1.0, 2.5, 3.0], [0.0, -1.0, 7.0]], [[1.0, 2.0, 3.0], [0.0, 1.0, 7.0]], dt
    )
    CASES[f"{dt}_zero_expected"] = _pair([0.5, 0.0], [0.0, 0.0], dt)
    CASES[f"{dt}_nan_nan"] = _pair([NAN, 1.0], [NAN, 1.0], dt)
    CASES[f"{dt}_nan_nan_equal_nan"] = _pair([NAN, 1.0], [NAN, 1.0], dt, equal_nan=True)
    CASES[f"{dt}_nan_number"] = _pair([NAN, 1.0, 2.0], [1.0, 1.0, 3.0], dt, equal_nan=True)
    CASES[f"{dt}_inf_inf"] = _pair([INF, -INF], [INF, -INF], dt)
    CASES[f"{dt}_inf_minus_inf"] = _pair([INF, 1.0], [-INF, 1.0], dt)
    CASES[f"{dt}_inf_number"] = _pair([INF, 1.0], [1.0e3, 1.0], dt)
    CASES[f"{dt}_0d_close"] = _pair(1.0, 1.0, dt)
    CASES[f"{dt}_0d_not_close"] = _pair(1.5, 1.0, dt)
    CASES[f"{dt}_0d_zero"] = _pair(1.5, 0.0, dt)
    CASES[f"{dt}_explicit_tol_pass"] = _pair([1.0, 2.0], [1.0, 2.1], dt, rtol=0.1, atol=0.0)
    CASES[f"{dt}_explicit_tol_fail"] = _pair([1.0, 2.0], [1.0, 2.5], dt, rtol=0.1, atol=0.01)
    CASES[f"{dt}_zero_tol"] = _pair([1.0, 2.0], [1.0, 2.001], dt, rtol=0, atol=0)
for dt in INTS:
    CASES[f"{dt}_equal"] = _pair([1, 2, 3], [1, 2, 3], dt)
    CASES[f"{dt}_not_equal"] = _pair([1, 5, 3], [1, 2, 0], dt)
    CASES[f"{dt}_0d"] = _pair(4, 7, dt)
    CASES[f"{dt}_with_tol"] = _pair([1, 5, 3], [1, 2, 3], dt, rtol=0.0, atol=1.0)
CASES["int8_overflow"] = _pair([127, -128], [-128, 127], "int8")
CASES["uint8_wrap"] = _pair([0, 255], [255, 0], "uint8")
CASES["bool_equal"] = _pair([True, False], [True, False], "bool")
CASES["bool_not_equal"] = _pair([True, False, True], [False, False, False], "bool")
CASES["bool_0d"] = _pair(True, False, "bool")
for dt in COMPLEX:
    CASES[f"{dt}_equal"] = _pair([1 + 2j, 3 - 1j], [1 + 2j, 3 - 1j], dt)
    CASES[f"{dt}_not_close"] = _pair([1 + 2j, 3 - 1j], [1 + 2j, 3 + 1j], dt)
    CASES[f"{dt}_0d"] = _pair(1 + 2j, 1 + 2.5j, dt)
    CASES[f"{dt}_nan"] = _pair([complex(NAN, 0), 1j], [complex(NAN, 0), 1j], dt, equal_nan=True)
    CASES[f"{dt}_nan_unequal"] = _pair([complex(NAN, 0), 1j], [complex(NAN, 0), 1j], dt)

CASES |= {
    "empty": _both(lambda T: T.zeros(0), lambda T: T.zeros(0)),
    "empty_2d_shape": _both(lambda T: T.zeros(0, 3), lambda T: T.zeros(3, 0)),
    "shape": _both(lambda T: T.zeros(2), lambda T: T.zeros(3)),
    "shape_0d_1d": _both(lambda T: T.tensor(1.0), lambda T: T.tensor([1.0])),
    "dtype": _both(lambda T: T.zeros(2), lambda T: T.zeros(2, dtype=T.float64)),
    "dtype_int_float": _both(lambda T: T.zeros(2, dtype=T.int64), lambda T: T.zeros(2)),
    "dtype_unchecked": _both(
        lambda T: T.tensor([1.0, 2.0]),
        lambda T: T.tensor([1.0, 2.0000001], dtype=T.float64),
        check_dtype=False,
    ),
    "dtype_unchecked_fail": _both(
        lambda T: T.tensor([1.0, 2.0]),
        lambda T: T.tensor([1.0, 2.001], dtype=T.float64),
        check_dtype=False,
    ),
    "dtype_unchecked_int_float": _both(
        lambda T: T.tensor([1, 2]), lambda T: T.tensor([1.0, 2.5]), check_dtype=False
    ),
    "dtype_unchecked_bool_int": _both(
        lambda T: T.tensor([True, False]), lambda T: T.tensor([1, 1]), check_dtype=False
    ),
    "stride_unchecked": _both(
        lambda T: T.arange(6.0).reshape(2, 3).t(),
        lambda T: T.arange(6.0).reshape(2, 3).t().contiguous(),
    ),
    "stride_checked": _both(
        lambda T: T.arange(6.0).reshape(2, 3).t(),
        lambda T: T.arange(6.0).reshape(2, 3).t().contiguous(),
        check_stride=True,
    ),
    "stride_checked_same": _both(
        lambda T: T.arange(6.0).reshape(2, 3),
        lambda T: T.arange(6.0).reshape(2, 3),
        check_stride=True,
    ),
    "device_same": _both(lambda T: T.zeros(2, device="cpu"), lambda T: T.zeros(2)),
    "device_unchecked": _both(lambda T: T.zeros(2), lambda T: T.zeros(2), check_device=False),
    "layout_unchecked": _both(lambda T: T.ones(2), lambda T: T.ones(2), check_layout=False),
    "requires_grad": _both(
        lambda T: T.tensor([1.0, 2.0], requires_grad=True) * 2, lambda T: T.tensor([2.0, 4.5])
    ),
    "requires_grad_close": _both(
        lambda T: T.tensor([1.0, 2.0], requires_grad=True), lambda T: T.tensor([1.0, 2.0])
    ),
    "parameter": _both(lambda T: T.nn.Parameter(T.ones(2)), lambda T: T.ones(2)),
    "parameter_strict": _both(
        lambda T: T.nn.Parameter(T.ones(2)), lambda T: T.ones(2), allow_subclasses=False
    ),
    "tensor_vs_numpy": _both(lambda T: T.ones(2), lambda T: np.ones(2)),
    "tensor_vs_float": _both(lambda T: T.tensor(1.0), lambda T: 1.0),
    "tensor_vs_list": _both(lambda T: T.ones(2), lambda T: [1.0, 1.0]),
    "numpy_arrays": _both(lambda T: np.array([1.0, 2.0]), lambda T: np.array([1.0, 2.5])),
    "numpy_arrays_close": _both(
        lambda T: np.arccos(np.cos(np.array([1e0, 1e-1, 1e-2]))), lambda T: np.array([1, 0.1, 0.01])
    ),
    "numpy_int_arrays": _both(lambda T: np.array([[1, 2]]), lambda T: np.array([[1, 3]])),
    "numpy_0d": _both(lambda T: np.array(3.0), lambda T: np.array(3.5)),
    "numpy_float32_scalar": _both(lambda T: np.float32(1.0), lambda T: np.float32(1.5)),
    "numpy_scalar_vs_float": _both(lambda T: np.float64(1.0), lambda T: 1.0),
    "numpy_bool": _both(lambda T: np.bool_(True), lambda T: False),
    "int_int": _both(lambda T: 1, lambda T: 1),
    "int_int_fail": _both(lambda T: 1, lambda T: 2),
    "int_float": _both(lambda T: 1, lambda T: 1.0),
    "int_float_unchecked": _both(lambda T: 1.0, lambda T: 1, check_dtype=False),
    "float_close": _both(lambda T: 2.0 / math.sqrt(2.0), lambda T: math.sqrt(2.0)),
    "float_fail": _both(lambda T: 1.0, lambda T: 1.1),
    "float_zero": _both(lambda T: 1e-3, lambda T: 0.0),
    "float_tiny_equal": _both(lambda T: 1e-9, lambda T: 1e-10, rtol=0, atol=0),
    "float_nan": _both(lambda T: NAN, lambda T: NAN),
    "float_nan_equal_nan": _both(lambda T: NAN, lambda T: NAN, equal_nan=True),
    "float_inf": _both(lambda T: INF, lambda T: INF),
    "float_inf_minus_inf": _both(lambda T: INF, lambda T: -INF),
    "complex_scalars": _both(lambda T: 1 + 1j, lambda T: 1 + 1.1j),
    "bool_scalars": _both(lambda T: True, lambda T: True),
    "bool_scalars_fail": _both(lambda T: True, lambda T: False),
    "none_none": _both(lambda T: None, lambda T: None),
    "none_value": _both(lambda T: None, lambda T: 1),
    "value_none": _both(lambda T: T.ones(1), lambda T: None),
    "strings": _both(lambda T: "a", lambda T: "a"),
    "objects": _both(lambda T: object, lambda T: object),
    "list_tuple": _both(
        lambda T: [T.tensor([1.0]), 2.0, np.array(3.0)],
        lambda T: (T.tensor([1.0]), 2.0, np.array(3.0)),
    ),
    "list_length": _both(lambda T: [1, 2, 3], lambda T: [1, 2]),
    "nested_list_fail": _both(
        lambda T: [T.ones(2), [T.ones(1), T.tensor([2.0, 3.0])]],
        lambda T: [T.ones(2), [T.ones(1), T.tensor([2.0, 3.5])]],
    ),
    "dicts": _both(
        lambda T: {"baz": np.array(3.0), "bar": 2.0, "foo": T.tensor(1.0)},
        lambda T: OrderedDict([("foo", T.tensor(1.0)), ("bar", 2.0), ("baz", np.array(3.0))]),
    ),
    "dict_keys": _both(lambda T: {"a": 1, "b": 2, "d": 0}, lambda T: {"a": 1, "c": 2, "e": 0}),
    "dict_nested_fail": _both(
        lambda T: {"w": [T.zeros(2), {"b": T.ones(3)}], "a": 1},
        lambda T: {"w": [T.zeros(2), {"b": T.zeros(3)}], "a": 1},
    ),
    "dict_nested_dtype": _both(
        lambda T: {"x": (T.zeros(2),)}, lambda T: {"x": (T.zeros(2, dtype=T.int64),)}
    ),
    "dict_int_keys": _both(lambda T: {2: 1.0, 1: 2.0}, lambda T: {1: 2.0, 2: 1.5}),
    "sequence_vs_tensor": _both(lambda T: [1.0], lambda T: T.ones(1)),
    "size_size": _both(lambda T: T.zeros(2, 3).shape, lambda T: T.Size([2, 4])),
    "msg_str": _both(
        lambda T: T.tensor([1.0, 4.0, 5.0]),
        lambda T: T.tensor([1.0, 2.0, 3.0]),
        msg="Argh, the tensors are not close!",
    ),
    "msg_callable": _both(
        lambda T: T.tensor([1.0, 4.0, 5.0]),
        lambda T: T.tensor([1.0, 2.0, 3.0]),
        msg=lambda m: f"Header\n\n{m}\n\nFooter",
    ),
    "msg_callable_nested": _both(
        lambda T: [1, {"k": T.zeros(2)}],
        lambda T: [1, {"k": T.ones(2)}],
        msg=lambda m: m.upper(),
    ),
    "msg_str_nested_shape": _both(lambda T: [T.zeros(2)], lambda T: [T.zeros(3)], msg="custom"),
    "msg_ignored_for_structure": _both(lambda T: [1, 2], lambda T: [1], msg="custom"),
    "rtol_only": _both(lambda T: T.ones(1), lambda T: T.ones(1), rtol=1e-3),
    "atol_only": _both(lambda T: T.ones(1), lambda T: T.ones(1), atol=1e-3),
    "atol_only_nested": _both(lambda T: [1.0, [T.ones(1)]], lambda T: [1.0, [T.ones(1)]], atol=1),
    "atol_only_scalars": _both(lambda T: 1.0, lambda T: 1.0, atol=1e-3),
    "atol_only_none": _both(lambda T: None, lambda T: None, atol=1e-3),
    "max_index_tie": _pair([1.0, 3.0, 1.0, 3.0], [0.0, 1.0, 0.0, 1.0], "float32"),
    "many_mismatches": lambda T: (
        T.arange(24.0).reshape(2, 3, 4) * 1.001,
        T.arange(24.0).reshape(2, 3, 4),
        {},
    ),
    "rel_inf": _pair([1.0, 0.5], [1.0, 0.0], "float64"),
    "mixed_float_tol_max": _both(
        lambda T: T.tensor([1.0], dtype=T.float16),
        lambda T: T.tensor([1.0005]),
        check_dtype=False,
    ),
}
