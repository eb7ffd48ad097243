"""Bugs found by the differential fuzzer (tests/test_fuzz.py), each kept as a regression test."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit


def test_compiled_float64_scalar_constant_keeps_its_precision() -> None:
    # found with the NumPy-interpreter backend (constants were rounded to float32); passes
    # since the LLVM backend landed, kept so it stays that way
    x = adjit.zeros(2, dtype=adjit.float64)
    eager = (x + 0.0137).numpy()
    compiled = adjit.compile(lambda x: x + 0.0137)(x).numpy()
    assert eager[0] == 0.0137
    assert compiled[0] == 0.0137  # got 0.013700000010430813 == float(np.float32(0.0137))


def test_tensor_from_list_float64_is_exact() -> None:
    assert adjit.tensor([0.3], dtype=adjit.float64).numpy()[0] == 0.3  # got 0.30000001192092896
    assert adjit.tensor(0.3, dtype=adjit.float64).item() == 0.3
    assert adjit.as_tensor([0.3], dtype=adjit.float64).numpy()[0] == 0.3


def test_compiled_zero_gradient_through_where_is_zeros_not_none() -> None:
    def f(x: adjit.Tensor, y: adjit.Tensor) -> adjit.Tensor:
        v = adjit.where(x > 0, y, 0.25)
        return v - v

    x = adjit.tensor([1.0, -2.0])
    y = adjit.tensor([3.0, 4.0], requires_grad=True)
    f(x, y).sum().backward()
    assert y.grad is not None  # eager (and PyTorch): tensor([0., 0.])
    y.grad = None
    adjit.compile(f)(x, y).sum().backward()
    assert y.grad is not None  # compiled: None
    np.testing.assert_array_equal(y.grad.numpy(), [0.0, 0.0])


def _where_in_comparison(a: adjit.Tensor, x: adjit.Tensor, y: adjit.Tensor) -> adjit.Tensor:
    return x >= adjit.where(x <= y, a, 0.25)


def _where_then_mul_in_comparison(
    a: adjit.Tensor, x: adjit.Tensor, y: adjit.Tensor
) -> adjit.Tensor:
    return adjit.where(x <= y, a, 0.25) * 2.0 > x


@pytest.mark.parametrize("cond", [_where_in_comparison, _where_then_mul_in_comparison])
def test_compiled_forward_keeps_where_inside_comparison(cond: Any) -> None:
    def f(a: adjit.Tensor, x: adjit.Tensor, y: adjit.Tensor, w: adjit.Tensor) -> adjit.Tensor:
        return adjit.where(cond(a, x, y), w, 0.25)

    a, x, y = adjit.tensor([-1.0, -1.0]), adjit.tensor([1.0, -0.5]), adjit.tensor([0.0, -1.0])
    w = adjit.tensor([2.0, 3.0], requires_grad=True)  # without requires_grad both agree
    eager = f(a, x, y, w).detach().numpy()
    np.testing.assert_array_equal(adjit.compile(f)(a, x, y, w).detach().numpy(), eager)
