"""arange and linspace give PyTorch's values bit for bit (Note [range values])."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import adjit

DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "uint8"]
ARANGES = [
    (0, 5, 0.1),
    (0, 1, 0.013),
    (-3.3, 7.1, 0.07),
    (1.0, 1000.0, 0.37),
    (5, 0, -0.3),
    (0, 17),
    (7,),
    (2, 9, 3),
    (0, 10, 1.5),
    (0.5, 10, 1.5),
    (0, 5, 0.5),
    (-3.7, 4.2, 1),
    (10, 0.5, -2.5),
]
LINSPACES = [
    (0, 1, 7),
    (0, 1, 100),
    (-2.5, 3.3, 1000),
    (0, 10, 50000),
    (3, -1, 33),
    (0, 1, 1),
    (0, 1, 0),
    (-7.9, 300.2, 77),
    (0, 255, 1000),
    (3, -1, 5),
    (3, -2.5, 5),
    (3, -129, 3),
]


def _outcome(lib: object, name: str, args: tuple, dtype: str) -> object:
    try:
        out = getattr(lib, name)(*args, dtype=getattr(lib, dtype))
    except (RuntimeError, ValueError) as e:
        return type(e).__name__, str(e)
    raw = out.view(lib.int16) if dtype == "bfloat16" else out
    return np.asarray(raw.numpy()).tolist(), tuple(out.shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("args", ARANGES, ids=str)
def test_arange_bits(args: tuple, dtype: str) -> None:
    assert _outcome(adjit, "arange", args, dtype) == _outcome(torch, "arange", args, dtype)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_long_arange_bits_at_each_thread_count(threads: int) -> None:
    """Longer than the grain, arange is cut into one range a thread: at the same thread count
    the same bits."""
    before = (adjit.get_num_threads(), torch.get_num_threads())
    try:
        adjit.set_num_threads(threads)
        torch.set_num_threads(threads)
        for dtype in ("float32", "float64", "bfloat16"):
            args = (0, 40000, 0.3)
            assert _outcome(adjit, "arange", args, dtype) == _outcome(torch, "arange", args, dtype)
    finally:
        adjit.set_num_threads(before[0])
        torch.set_num_threads(before[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("args", LINSPACES, ids=str)
def test_linspace_bits(args: tuple, dtype: str) -> None:
    assert _outcome(adjit, "linspace", args, dtype) == _outcome(torch, "linspace", args, dtype)


def test_default_dtypes_and_tolist() -> None:
    assert adjit.arange(0, 5, 0.1).tolist() == torch.arange(0, 5, 0.1).tolist()
    assert adjit.linspace(0, 1, 7).tolist() == torch.linspace(0, 1, 7).tolist()
    assert adjit.arange(0.0, 3).dtype == adjit.float32 and adjit.arange(3).dtype == adjit.int64
