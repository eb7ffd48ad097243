"""PyTorch's 8-bit (and packed 4-bit) float dtypes: named as PyTorch names them, never another
dtype, refused by name wherever a tensor would need one (adjit stores none of them yet)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import adjit

NAMES = [n for n in dir(torch) if n.startswith(("float8_", "float4_"))]


def test_every_float8_name_of_pytorch() -> None:
    assert NAMES  # (this torch has them: the check is not vacuous)
    assert all(hasattr(adjit, n) for n in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_float8_dtype_is_itself_and_refused(name: str) -> None:
    d = getattr(adjit, name)
    assert repr(d) == repr(getattr(torch, name)) and isinstance(d, adjit.dtype)
    others = [getattr(adjit, n) for n in NAMES if n != name]
    assert all(d != o for o in others) and d not in {adjit.float16, adjit.bfloat16, adjit.uint8}
    with pytest.raises(TypeError, match=f"adjit does not support torch.{name} yet"):
        adjit.ones(2).to(d)


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("float8_")])
def test_an_ml_dtypes_array_is_refused_by_name(name: str) -> None:
    ml_dtypes = pytest.importorskip("ml_dtypes")
    if not hasattr(ml_dtypes, name):
        pytest.skip(f"ml_dtypes has no {name}")
    a = np.zeros(3, getattr(ml_dtypes, name))
    for make in (adjit.from_numpy, adjit.tensor, adjit.as_tensor):
        with pytest.raises(TypeError, match=f"adjit does not support torch.{name} yet"):
            make(a)
