"""Eager erf of large tensors by the compiled kernel (Note [eager erf])."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from adjit.runtime import eager_erf

import adjit

BLOCK, LEAST = eager_erf.BLOCK, eager_erf.LEAST
SPECIALS = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-30, -1e-30, 1e-8, 0.5, -3.9, 6.5, -27.0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [LEAST, BLOCK, BLOCK + 1, 3 * BLOCK + 5])
def test_within_two_units_of_math_erf_and_as_torch_at_the_edges(dtype: str, n: int) -> None:
    a = (np.random.default_rng(n).standard_normal(n) * 3).astype(dtype)
    a[: len(SPECIALS)] = SPECIALS
    got = adjit.erf(adjit.tensor(a)).numpy()
    assert got.dtype == a.dtype and got.shape == a.shape
    exact = np.array([math.erf(v) for v in a.astype(np.float64)]).astype(dtype)  # rounded once
    ulp = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    finite = np.isfinite(a)
    assert np.all(np.abs(got[finite] - exact[finite].astype(np.float64)) <= 2 * ulp[finite])
    want = torch.erf(torch.from_numpy(a)).numpy()
    specials = slice(0, 5)  # NaN, +-inf, signed zeros: as PyTorch, bit for bit
    np.testing.assert_array_equal(got[specials], want[specials])  # (NaN, +-1, signed zeros)
    assert np.array_equal(np.signbit(got[specials]), np.signbit(want[specials]))


def test_strided_and_shaped_inputs() -> None:
    a = np.random.default_rng(1).standard_normal((300, 400)).astype(np.float32)
    t = adjit.tensor(a).t()  # a transposed view
    np.testing.assert_array_equal(adjit.erf(t).numpy(), adjit.erf(t.contiguous()).numpy())
    np.testing.assert_allclose(adjit.erf(t).numpy(), torch.erf(torch.tensor(a).t()).numpy(),
                               rtol=3e-7, atol=1e-7)  # fmt: skip


def test_small_tensors_keep_the_reference_rule() -> None:
    a = np.random.default_rng(2).standard_normal(LEAST - 1).astype(np.float32)
    exact = np.array([math.erf(v) for v in a.astype(np.float64)]).astype(np.float32)
    np.testing.assert_array_equal(adjit.erf(adjit.tensor(a)).numpy(), exact)


def test_gelu_and_its_gradient_match_torch() -> None:
    a = np.random.default_rng(3).standard_normal((64, 1024)).astype(np.float32)
    found = []
    for lib in (adjit, torch):
        x = lib.tensor(a, requires_grad=True)
        y = lib.nn.functional.gelu(x)
        y.sum().backward()
        found.append((y.detach().numpy(), x.grad.numpy()))
    for got, want in zip(*found, strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)


def test_integer_and_half_inputs_keep_the_reference_rule() -> None:
    for dt in (adjit.int64, adjit.float16):
        x = adjit.arange(LEAST + 10).to(dt)
        want = torch.erf(torch.arange(LEAST + 10).to(getattr(torch, str(dt).split(".")[-1])))
        np.testing.assert_array_equal(adjit.erf(x).float().numpy(), want.float().numpy())
