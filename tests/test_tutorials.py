"""The autograd tutorials' examples print exactly what PyTorch prints, and the known values."""

from __future__ import annotations

import contextlib
import io

import pytest

import adjit
from adjit.tutorials import EXAMPLES


def run(example, module) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        example(module)
    return buf.getvalue()


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_prints_like_torch(name, torch_mod):
    assert run(EXAMPLES[name], adjit) == run(EXAMPLES[name], torch_mod)


def test_sum_of_squares_values():
    out = run(EXAMPLES["sum_of_squares"], adjit).splitlines()
    assert out == ["tensor(29., grad_fn=<AddBackward0>)", "tensor(4.) tensor(6.) tensor(8.)"]


def test_external_gradient_values():
    out = run(EXAMPLES["external_gradient"], adjit).splitlines()
    assert out[1:3] == ["tensor([True, True])", "tensor([True, True])"]
    assert out[3] == "tensor([36., 81.]) tensor([-12.,  -8.])"


def test_requires_grad_propagation_values():
    out = run(EXAMPLES["requires_grad_propagation"], adjit).splitlines()
    assert out == ["Does `a` require gradients?: False", "Does `b` require gradients?: True"]
