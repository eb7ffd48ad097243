"""Setting requires_grad on a traced tensor: PyTorch's errors, no-ops, and a clear refusal."""

from __future__ import annotations

import numpy as np
import pytest

import adjit


def _error(fn, module, x):
    with pytest.raises(RuntimeError) as info:
        fn(module, x)
    return type(info.value), str(info.value)


def _set_on_computed(value):
    def f(lib, x):
        y = x * 2
        y.requires_grad = value
        return y.sum()

    return f


@pytest.mark.parametrize("value", [True, False])
def test_computed_tensor_is_refused_as_pytorch(value):
    torch = pytest.importorskip("torch")
    f = _set_on_computed(value)
    _, expected = _error(f, torch, torch.ones(3, requires_grad=True))
    x = adjit.ones(3, requires_grad=True)
    for run in (adjit.compile(lambda x: f(adjit, x)), lambda x: f(adjit, x)):
        with pytest.raises(RuntimeError) as info:
            run(x)
        assert str(info.value).endswith(expected)


def test_integer_tensor_is_refused_as_pytorch():
    torch = pytest.importorskip("torch")

    def f(lib, i):
        i.requires_grad = True
        return i

    _, expected = _error(f, torch, torch.ones(2, dtype=torch.int64))
    with pytest.raises(RuntimeError) as info:
        adjit.compile(lambda i: f(adjit, i))(adjit.ones(2, dtype=adjit.int64))
    assert str(info.value) == expected


def test_setting_the_current_value_is_a_no_op():
    torch = pytest.importorskip("torch")

    def f(lib, x):
        x.requires_grad_()  # already requires grad
        x.requires_grad = True
        y = x.detach()
        y.requires_grad = False  # already does not
        return (x * 3 + y).sum()

    t = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    expected = f(torch, t)
    expected.backward()
    x = adjit.tensor([1.0, 2.0, 3.0], dtype=adjit.float64, requires_grad=True)
    out = adjit.compile(lambda x: f(adjit, x))(x)
    out.backward()
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_a_new_leaf_inside_the_function_compiles():
    torch = pytest.importorskip("torch")

    def f(lib, x):
        y = x * 2
        y.requires_grad_()  # a new leaf inside the function
        z = (y * y).sum()
        (g,) = lib.autograd.grad(z, y)
        return z, g

    expected = f(torch, torch.ones(3))
    out = adjit.compile(lambda x: f(adjit, x))(adjit.ones(3))
    assert out[0].item() == expected[0].item()
    np.testing.assert_array_equal(out[1].numpy(), expected[1].numpy())
