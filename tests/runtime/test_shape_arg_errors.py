"""arange, eye, from_numpy, split and matmul refuse bad arguments with PyTorch's texts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import adjit

CASES: dict[str, Callable[[Any], Any]] = {
    "arange_zero_step": lambda t: t.arange(0, 10, 0),
    "arange_wrong_sign": lambda t: t.arange(0, 10, -1),
    "arange_backwards": lambda t: t.arange(5, 0),
    "arange_nan": lambda t: t.arange(0, float("nan")),
    "arange_inf_start": lambda t: t.arange(float("-inf"), 3),
    "arange_inf_end": lambda t: t.arange(0.5, float("inf")),
    "arange_tensor_nan": lambda t: t.arange(t.tensor(0.0), float("nan")),
    "arange_empty": lambda t: t.arange(3, 3),
    "arange_down": lambda t: t.arange(0, -3, -1),
    "arange_float_down": lambda t: t.arange(1.0, 0.0, -0.25),
    "eye_n": lambda t: t.eye(-1),
    "eye_m": lambda t: t.eye(2, -1),
    "eye_ok": lambda t: t.eye(2, 0),
    "from_numpy_int": lambda t: t.from_numpy(3),
    "from_numpy_list": lambda t: t.from_numpy([1, 2]),
    "split_list_sum": lambda t: t.ones(2, 3).split([2, 2], 1),
    "split_list_short": lambda t: t.ones(2, 3).split([1, 1], dim=-1),
    "split_fn_sum": lambda t: t.split(t.ones(4), [1, 2]),
    "dot": lambda t: t.ones(3) @ t.ones(4),
    "mv": lambda t: t.ones(3, 1) @ t.ones(3),
    "batch_mv": lambda t: t.ones(2, 3, 4) @ t.ones(5),
    "vec_mm": lambda t: t.ones(3) @ t.ones(4, 2),
    "mm": lambda t: t.ones(2, 3) @ t.ones(4, 5),
    "batch_mm_folds": lambda t: t.ones(2, 3, 4) @ t.ones(5, 6),
    "bmm": lambda t: t.ones(2, 3, 4) @ t.ones(2, 5, 6),
    "vec_bmm": lambda t: t.ones(3) @ t.ones(2, 4, 5),
    "mat_bmm": lambda t: t.ones(3, 4) @ t.ones(2, 5, 6),
    "broadcast_first": lambda t: t.ones(2, 3, 4) @ t.ones(3, 4, 6),
    "bmm_broadcast": lambda t: t.ones(2, 1, 3, 4) @ t.ones(3, 5, 6),
}


def _outcome(lib: Any, fn: Callable[[Any], Any]) -> Any:
    try:
        out = fn(lib)
    except Exception as e:  # noqa: BLE001 - the error is the result compared
        return type(e).__name__, str(e)
    outs = out if isinstance(out, tuple) else (out,)
    return [np.asarray(o.tolist()).tolist() for o in outs]


@pytest.mark.parametrize("name", sorted(CASES))
def test_as_torch(name: str) -> None:
    assert _outcome(adjit, CASES[name]) == _outcome(torch, CASES[name])
