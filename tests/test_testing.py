"""adjit.testing.assert_grads_match and autograd.gradcheck catch wrong derivatives."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.ir.derivatives import DERIVATIVES
from adjit.ir.ops import Op

import adjit


@pytest.fixture
def wrong_sin_rule():
    old = DERIVATIVES[Op.SIN]
    DERIVATIVES[Op.SIN] = lambda g, x: (g * x.cos() * 1.01,)  # 1% off: a plausible typo
    yield
    DERIVATIVES[Op.SIN] = old


def test_passes_on_correct_programs():
    adjit.testing.assert_grads_match(
        lambda a, b: (a.sin() @ b).tanh().log_softmax(-1).sum(),
        adjit.randn(3, 4),
        adjit.randn(4, 2),
    )


def test_catches_a_wrong_rule_and_names_the_equation(wrong_sin_rule):
    def f(a):
        return (a.sin() * 2).sum()  # the line to blame

    with pytest.raises(AssertionError) as info:
        adjit.testing.assert_grads_match(f, adjit.randn(3))
    msg = str(info.value)
    assert "input 0" in msg and "finite differences" in msg
    assert "produced by backward IR mul" in msg and "test_testing.py" in msg
    assert "in backward kernel k0: " in msg and "cos" in msg  # the fused kernel and its formula


def test_where_untaken_branch_compiled_finite_eager_nan():
    # eager (like PyTorch) gives NaN at x = -1: 0 * inf from the untaken sqrt branch; the
    # compiled gradient is 0, and float64 finite differences confirm it, so this passes
    x = adjit.tensor([-1.0, 4.0])
    f = lambda v: adjit.where(v > 0, v.sqrt(), 0.0).sum()  # noqa: E731
    xe = x.clone().requires_grad_()
    f(xe).backward()
    assert xe.grad.isnan().tolist() == [True, False]
    adjit.testing.assert_grads_match(f, x)


def test_gradcheck_and_gradgradcheck(wrong_sin_rule):
    x = adjit.randn(3, dtype=adjit.float64, requires_grad=True)
    assert adjit.autograd.gradcheck(lambda a: a.exp() * a, (x,))
    assert adjit.autograd.gradgradcheck(lambda a: a.exp() * a, (x,))
    with pytest.raises(adjit.autograd.GradcheckError, match="Jacobian mismatch"):
        adjit.autograd.gradcheck(lambda a: a.sin(), (x,))
    assert not adjit.autograd.gradcheck(lambda a: a.sin(), (x,), raise_exception=False)


def test_gradgradcheck_draws_from_the_global_generator_as_torch():
    """PyTorch's gradgradcheck draws its cotangents with make_tensor: the numbers a program
    draws after it are the same in adjit (they differed: adjit drew from a private generator)."""
    torch = pytest.importorskip("torch")
    after = []
    for lib in (torch, adjit):
        lib.manual_seed(0)
        x = lib.tensor([0.5, 1.0], dtype=lib.float64, requires_grad=True)
        assert lib.autograd.gradgradcheck(lambda a: a.exp() * a, (x,))
        after.append(lib.randn(3).numpy())
    np.testing.assert_array_equal(after[1], after[0])
