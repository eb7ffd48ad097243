"""logspace gives PyTorch's values bit for bit, and its errors (Note [range values])."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch

import adjit

DTYPES = ["float32", "float64", "float16", "bfloat16", "int8", "uint8", "int16", "int32", "int64"]
STARTS = [0, -3, -1.5, 0.3, 2.7, 7]
ENDS = [1, -2.5, 10.25, 40, 0.001]
STEPS = [1, 2, 3, 10, 33, 1001]
BASES = [10.0, 2.0, math.e, 0.5, -2.0, 3.7]


def _outcome(lib: object, args: tuple, base: float, dtype: str | None) -> object:
    kwargs = {} if dtype is None else {"dtype": getattr(lib, dtype)}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (NumPy's overflow/invalid warnings of a reference)
            out = lib.logspace(*args, base=base, **kwargs)  # type: ignore[attr-defined]
    except (RuntimeError, ValueError, NotImplementedError) as e:
        return type(e).__name__, str(e)
    raw = out.view(lib.int16) if dtype in ("float16", "bfloat16") else out  # type: ignore[attr-defined]
    data = np.asarray(raw.numpy())
    if data.dtype.kind == "f":
        data = data.view(f"u{data.itemsize}")  # (bits: NaNs compare too)
    return str(out.dtype), data.tolist()


@pytest.mark.parametrize("dtype", DTYPES)
def test_logspace_bits(dtype: str) -> None:
    """Every (start, end, steps, base): negative and fractional ends, one point, bases 2, 10,
    e, below one and negative (NaN points), integer dtypes overflowing and wrapping."""
    wrong = [
        case
        for case in itertools.product(STARTS, ENDS, STEPS, BASES)
        if _outcome(adjit, case[:3], case[3], dtype) != _outcome(torch, case[:3], case[3], dtype)
    ]
    assert not wrong


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_long_logspace_bits(dtype: str) -> None:
    """Longer than PyTorch's parallel grain (its threads split the loop, not the formula)."""
    for args in [(0, 3, 40000), (-3.3, 7.1, 70001)]:
        assert _outcome(adjit, args, 10.0, dtype) == _outcome(torch, args, 10.0, dtype)


def test_logspace_default_dtype_and_tensor_ends() -> None:
    assert _outcome(adjit, (0.1, 2.3, 17), 2.0, None) == _outcome(torch, (0.1, 2.3, 17), 2.0, None)
    for lib in (adjit, torch):
        ends = (lib.tensor(1), lib.tensor(3))  # type: ignore[attr-defined]
        assert _outcome(lib, (*ends, 4), 10.0, "int32")[1] == [10, 46, 215, 1000]


@pytest.mark.parametrize(
    "args, base, dtype",
    [
        ((1, 2, -1), 10.0, "float32"),  # negative steps
        ((0, 2, 3), 10.0, "bool"),  # not implemented for the type
        ((1e10, 1, 3), 10.0, "int32"),  # start beyond int
        ((1e5, 1, 3), 10.0, "float16"),  # start beyond Half
        ((1e39, 1, 3), 10.0, "bfloat16"),
        ((40, 1, 1), 10.0, "float32"),  # one point beyond float
        ((39, 1, 1), 10.0, "float16"),  # (the half types: inf, unchecked)
        ((0.5, 1, 1), -2.0, "int32"),  # one NaN point as an integer
        ((5, 1, 1), 10.0, "int8"),
        ((-400, 1, 1), 10.0, "int32"),
        ((3, 1, 2), 10.0, "int8"),
        ((-5, 40, 2), 10.0, "uint8"),  # a negative start wraps
        ((1, 2, 0), 10.0, "float64"),
    ],
    ids=str,
)
def test_logspace_edges(args: tuple, base: float, dtype: str) -> None:
    assert _outcome(adjit, args, base, dtype) == _outcome(torch, args, base, dtype)


def test_linspace_negative_steps() -> None:
    for lib in (adjit, torch):
        with pytest.raises(RuntimeError, match="^number of steps must be non-negative$"):
            lib.linspace(0, 1, -1)  # type: ignore[attr-defined]
