"""Compiled programs with unstable formulas give stable values and gradients (Note [stability
rewrites]): vs float64 stable references at extreme arguments, at least as accurate as eager
where eager is finite, and eager still gives PyTorch's (naive) answers."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pytest
import torch

import adjit

WIDE = [-1000.0, -200.0, -100.0, -30.0, -1.0, -1e-3, -1e-8, 0.0, 1e-8, 1e-3, 1.0, 30.0, 100.0]
ABOVE_MINUS_ONE = [-0.999, -0.5, -1e-3, -1e-8, -1e-30, 0.0, 1e-30, 1e-8, 1e-3, 1.0, 1e10]
MODERATE = [-100.0, -80.0, -30.0, -1.0, -1e-3, -1e-8, -1e-30, 0.0, 1e-30, 1e-8, 1e-3, 1.0, 30.0]
ROWS = [[1000.0, 0.0, -5.0, 999.0], [-1000.0, -1001.0, -1002.0, -2000.0], [1.0, 2.0, 3.0, 4.0]]
TARGETS = [0, 2, 3]


def _expm1(x: Any) -> Any:
    """expm1 with the exact gradient e^x (torch's backward, (expm1(x) + 1) * g, cancels)."""
    return torch.expm1(x.detach()) + (x.exp() - x.exp().detach())


def _pick(T: Any, p: Any) -> Any:  # noqa: N803 (T: the adjit or torch module)
    return p.gather(1, T.tensor(TARGETS)[:, None])


def _softmax_by_hand(T: Any, x: Any) -> Any:  # noqa: N803
    e = x.exp()
    return e / e.sum(-1, keepdim=True)


# (name, the naive program in module T, the stable torch float64 reference, arguments)
CASES: list[tuple[str, Callable[..., Any], Callable[..., Any], list]] = [
    ("softplus", lambda T, x: (1 + x.exp()).log(), lambda x: torch.logaddexp(x, 0 * x), WIDE),
    ("log1p_exp", lambda T, x: T.log1p(x.exp()), lambda x: torch.logaddexp(x, 0 * x), WIDE),
    ("log_sigmoid", lambda T, x: x.sigmoid().log(), torch.nn.functional.logsigmoid, WIDE),
    (
        "log_one_minus_sigmoid",
        lambda T, x: (1 - x.sigmoid()).log(),
        lambda x: torch.nn.functional.logsigmoid(-x),
        WIDE,
    ),
    ("log1p", lambda T, x: (1 + x).log(), torch.log1p, ABOVE_MINUS_ONE),
    ("expm1", lambda T, x: x.exp() - 1, _expm1, MODERATE),
    ("one_minus_exp", lambda T, x: 1 - x.exp(), lambda x: -_expm1(x), MODERATE),
    ("log_exp", lambda T, x: x.exp().log(), lambda x: x * 1, WIDE),
    ("sqrt_square", lambda T, x: (x * x).sqrt(), torch.abs, WIDE),
    ("x_exp_over_exp", lambda T, x: x * x.exp() / x.exp(), lambda x: x * 1, WIDE),
    (
        "logsumexp",
        lambda T, x: x.exp().sum(-1).log(),
        lambda x: torch.logsumexp(x, -1),
        ROWS,
    ),
    (
        "log_softmax",
        lambda T, x: _softmax_by_hand(T, x).log(),
        lambda x: torch.log_softmax(x, -1),
        ROWS,
    ),
    (
        "log_of_F_softmax",
        lambda T, x: T.softmax(x, -1).log(),
        lambda x: torch.log_softmax(x, -1),
        ROWS,
    ),
    (
        "cross_entropy_index",
        lambda T, x: -_softmax_by_hand(T, x)[T.arange(3), T.tensor(TARGETS)].log().mean(),
        lambda x: torch.nn.functional.cross_entropy(x, torch.tensor(TARGETS)),
        ROWS,
    ),
    (
        "cross_entropy",
        lambda T, x: -_pick(T, _softmax_by_hand(T, x)).log().mean(),
        lambda x: torch.nn.functional.cross_entropy(x, torch.tensor(TARGETS)),
        ROWS,
    ),
]
# compiled vs the float64 reference rounded to the dtype: a few roundings of each result
TOL = {"float32": (1e-5, 1e-44), "float64": (1e-12, 1e-300)}


def _value_and_grad(fn: Callable[..., Any], x: np.ndarray, dtype: Any) -> tuple[np.ndarray, ...]:
    t = adjit.tensor(x, dtype=dtype, requires_grad=True)
    with np.errstate(all="ignore"):
        y = fn(t)
        (g,) = adjit.autograd.grad(y.sum(), [t])
    return y.detach().numpy().astype(np.float64), g.numpy().astype(np.float64)


def _reference(ref: Callable[..., Any], x: np.ndarray, dtype: Any) -> tuple[np.ndarray, ...]:
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = ref(t)
    (g,) = torch.autograd.grad(y.sum(), [t])
    np_dtype = np.float32 if dtype is adjit.float32 else np.float64
    with np.errstate(over="ignore"):
        return tuple(a.detach().numpy().astype(np_dtype).astype(np.float64) for a in (y, g))


def _torch_naive(fn: Callable[..., Any], x: np.ndarray, dtype: Any) -> tuple[np.ndarray, ...]:
    t = torch.tensor(x, dtype=torch.float32 if dtype is adjit.float32 else torch.float64)
    t.requires_grad_(True)
    y = fn(torch, t)
    (g,) = torch.autograd.grad(y.sum(), [t])
    return y.detach().numpy().astype(np.float64), g.numpy().astype(np.float64)


@pytest.mark.parametrize(
    ("backend", "dtype"),
    [("llvm", adjit.float32), ("llvm", adjit.float64), ("interpreter", adjit.float32)],
)
@pytest.mark.parametrize(("name", "fn", "ref", "values"), CASES, ids=[c[0] for c in CASES])
def test_compiled_is_stable(name: str, fn: Any, ref: Any, values: list, backend: str, dtype: Any):
    # the arguments as the dtype has them, for the float64 reference too
    x = np.array(values, dtype=np.float32 if dtype is adjit.float32 else np.float64)
    x = x.astype(np.float64)
    program = lambda v: fn(adjit, v)  # noqa: E731
    compiled = adjit.compile(program, backend=backend)
    got = _value_and_grad(compiled, x, dtype)
    want = _reference(ref, x, dtype)
    eager = _value_and_grad(program, x, dtype)
    naive = _torch_naive(fn, x, dtype)
    rtol, atol = TOL[dtype.name]
    for what, g, w, e, n in zip(("value", "gradient"), got, want, eager, naive, strict=True):
        # compiled: the stable answer, finite wherever the reference is
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{name} {what}")
        # eager keeps PyTorch's answers (cancellation included) where both are finite (eager's
        # sigmoid(-100) in float32 is the subnormal 3.7e-44, PyTorch's 0: not this test's)
        both = np.isfinite(e) & np.isfinite(n)
        tiny = float(np.finfo(np.float32 if dtype is adjit.float32 else np.float64).tiny)
        np.testing.assert_allclose(e[both], n[both], rtol=rtol, atol=tiny, err_msg=name)
        # where eager is finite, compiled is at least as accurate
        fin = np.isfinite(e)
        slack = atol + rtol * np.abs(w[fin])
        assert np.all(np.abs(g - w)[fin] <= np.abs(e - w)[fin] + slack), (name, what)
    assert adjit.explain(program, adjit.tensor(x, dtype=dtype, requires_grad=True)).rewrites


def test_the_issue_examples():
    """The gradient of log(1 + exp(x)) at 100 is 1, of log(sigmoid(x)) at -200 is 1, of a
    hand-written log(softmax(x)) with a logit of 1000 finite and right; eager gives NaN."""
    for fn, at in (
        (lambda x: (1 + x.exp()).log(), 100.0),
        (lambda x: x.sigmoid().log(), -200.0),
    ):
        x = adjit.tensor([at], requires_grad=True)
        (g,) = adjit.autograd.grad(adjit.compile(fn)(x).sum(), [x])
        assert g.tolist() == [1.0]
        (ge,) = adjit.autograd.grad(fn(x).sum(), [x])
        assert np.isnan(ge.tolist()[0])
    x = adjit.tensor([[1000.0, 0.0, 1.0]], requires_grad=True)
    f = adjit.compile(lambda v: _softmax_by_hand(adjit, v).log()[0, 1])
    (g,) = adjit.autograd.grad(f(x), [x])
    np.testing.assert_allclose(g.numpy(), [[-1.0, 1.0, 0.0]], atol=1e-30)


def test_explain_names_the_rule_and_the_line():
    def f(x):
        return (1 + x.exp()).log()  # the softplus line

    e = adjit.explain(f, adjit.randn(3, requires_grad=True))
    ((rule, loc, where),) = e.rewrites
    assert rule == "log(1 + exp(x)) -> softplus(x)" and where == "forward"
    line = f.__code__.co_firstlineno + 1
    assert loc.endswith(f"test_stability_compiled.py:{line}")
    assert "== stability rewrites" in str(e) and f":{line} (forward)" in str(e)


def test_assert_grads_match_accepts_only_confirmed_differences():
    # eager's gradient is NaN at 100 (inf / inf); compiled 1, which finite differences confirm
    adjit.testing.assert_grads_match(
        lambda x: (1 + x.exp()).log().sum(), adjit.tensor([100.0, 1.0])
    )
    # a genuinely wrong compiled gradient (a rule made wrong) still fails
    from adjit.passes import stability

    old = stability.softplus
    stability.softplus = lambda x: stability._t(  # type: ignore[assignment]
        adjit.ir.ops.Op.MUL, old(x), stability._lit(1.001)
    )
    try:
        with pytest.raises(AssertionError, match="gradient mismatch"):
            adjit.testing.assert_grads_match(
                lambda x: (1 + x.exp()).log().sum() * 1.0, adjit.tensor([100.0, 1.0])
            )
    finally:
        stability.softplus = old


class _SoftplusGrad(adjit.autograd.Function):
    """A backward with log(1 + exp(x)) in it: the pipeline rewrites it in the joint graph."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x * 2

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (x,) = ctx.saved_tensors
        return g * (1 + x.exp()).log()


def test_backward_patterns_are_rewritten_too():
    def f(x):
        return _SoftplusGrad.apply(x).sum()

    x = adjit.tensor([100.0, 1.0, -100.0], requires_grad=True)
    ((rule, _, where),) = adjit.explain(f, x).rewrites
    assert (rule, where) == ("log(1 + exp(x)) -> softplus(x)", "gradient")
    (g,) = adjit.autograd.grad(adjit.compile(f)(x), [x])
    want = np.logaddexp(0.0, np.array([100.0, 1.0, -100.0]))
    np.testing.assert_allclose(g.numpy(), want.astype(np.float32), rtol=1e-6, atol=1e-44)
    (ge,) = adjit.autograd.grad(f(x), [x])  # eager: PyTorch's inf
    assert ge.tolist()[0] == float("inf")


def test_a_dropped_operand_still_gets_a_gradient():
    """x*y/y -> x reads y no more; y.grad is still a tensor (zeros), as eagerly, not None."""
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    y = adjit.tensor([100.0, -3.0], requires_grad=True)
    adjit.compile(lambda x, y: (x * y.exp() / y.exp()).sum())(x, y).backward()
    assert x.grad.tolist() == [1.0, 1.0] and y.grad.tolist() == [0.0, 0.0]


def test_adjit_stability_0_turns_the_rewrites_off(monkeypatch):
    monkeypatch.setenv("ADJIT_STABILITY", "0")
    x = adjit.tensor([100.0], requires_grad=True)
    f = adjit.compile(lambda v: (1 + v.exp()).log())
    (g,) = adjit.autograd.grad(f(x).sum(), [x])
    assert np.isnan(g.tolist()[0])  # as eagerly
    assert adjit.explain(lambda v: (1 + v.exp()).log(), x).rewrites == []


def _softplus_by_hand(lib: Any, x: Any) -> Any:
    return (1 + x.exp()).log().sum()


def _grad_inside(lib: Any, x: Any) -> Any:
    x = x.detach().requires_grad_()
    return lib.autograd.grad(_softplus_by_hand(lib, x), x)[0]


def _backward_inside(lib: Any, x: Any) -> Any:
    x = x.detach().requires_grad_()
    _softplus_by_hand(lib, x).backward()
    return x.grad


def _func_grad(lib: Any, x: Any) -> Any:
    return lib.func.grad(partial(_softplus_by_hand, lib))(x)


def _second_inside(lib: Any, x: Any) -> Any:
    x = x.detach().requires_grad_()
    (g,) = lib.autograd.grad(_softplus_by_hand(lib, x), x, create_graph=True)
    return lib.autograd.grad(g.sum(), x)[0]


@pytest.mark.parametrize(
    "inside",
    [
        _grad_inside,
        _backward_inside,
        lambda lib, x: lib.func.grad(partial(_softplus_by_hand, lib))(x),
    ],
    ids=["autograd.grad", "backward", "func.grad"],
)
def test_gradients_taken_inside_a_compiled_function_are_stable(inside: Callable) -> None:
    """autograd.grad, backward() and func.grad called inside a compiled function differentiate
    the stable form too (Note [autograd while tracing]); eager and PyTorch give NaN at 100."""
    x = [100.0, -200.0, 0.5]
    got = adjit.compile(partial(inside, adjit))(adjit.tensor(x)).numpy()
    want = torch.sigmoid(torch.tensor(x, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(got, want, rtol=2e-7, atol=1.5e-45)  # (e**-200: 0 in float32)
    assert np.isnan(inside(torch, torch.tensor(x)).numpy()[0])
    assert np.isnan(inside(adjit, adjit.tensor(x)).numpy()[0])


def test_second_derivative_inside_a_compiled_function_is_stable() -> None:
    """softplus'' = sigmoid (1 - sigmoid): finite (e**-100) at 100 where eager divides inf by
    inf; elsewhere as PyTorch's."""
    x = [100.0, -200.0, 0.5]
    got = adjit.compile(partial(_second_inside, adjit))(adjit.tensor(x)).numpy()
    t = torch.tensor(x, dtype=torch.float64)
    exact = (torch.sigmoid(t) * torch.sigmoid(-t)).numpy()  # (1 - sigmoid(100) cancels)
    np.testing.assert_allclose(got, exact, rtol=2e-2, atol=1.5e-45)  # a float32 subnormal
    want = _second_inside(torch, torch.tensor(x)).numpy()
    np.testing.assert_allclose(got[1:], want[1:], rtol=2e-6)
