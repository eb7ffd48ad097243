"""Optimizers step a 0-d parameter as PyTorch does (the array path's lerp once made a NumPy
scalar of a 0-d difference and could not write into it)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import adjit

CASES = [
    ("Adam", {}),
    ("Adam", {"amsgrad": True}),
    ("AdamW", {"maximize": True}),
    ("Adamax", {}),
    ("NAdam", {}),
    ("RAdam", {}),
    ("RMSprop", {"centered": True}),
]


@pytest.mark.parametrize(("name", "kw"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_zero_dim_parameter_matches_torch(name: str, kw: dict) -> None:
    pa = adjit.tensor(np.float32(1.5), requires_grad=True)
    pt = torch.tensor(1.5, requires_grad=True)
    oa = getattr(adjit.optim, name)([pa], lr=0.1, **kw)
    ot = getattr(torch.optim, name)([pt], lr=0.1, **kw)
    for g in (0.5, -2.0, 0.25):
        pa.grad, pt.grad = adjit.tensor(np.float32(g)), torch.tensor(g)
        oa.step()
        ot.step()
    assert pa.shape == () and pa.item() == pt.item()
