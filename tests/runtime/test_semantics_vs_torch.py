"""Issue 12's gradient and semantics cases, each run eagerly, compiled and under adjit.grad,
side by side with PyTorch: values, dtypes, shapes and gradients, NaN and inf included."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

nan, inf = float("nan"), float("inf")
Fn = Callable[..., Any]


def _np(t: Any) -> np.ndarray:
    return np.asarray(t.detach().numpy())


def _same(got: Any, want: Any, what: str, rtol: float = 0.0) -> None:
    assert tuple(got.shape) == tuple(want.shape), f"{what}: shape {got.shape} != {want.shape}"
    assert str(got.dtype) == str(want.dtype), f"{what}: dtype {got.dtype} != {want.dtype}"
    g, w = _np(got), _np(want)
    if rtol == 0.0:
        np.testing.assert_array_equal(g, w, err_msg=what)  # NaN matches NaN
    else:
        np.testing.assert_allclose(g, w, rtol=rtol, atol=0.0, err_msg=what)


def _torch_run(fn: Fn, arrays: list[np.ndarray], wrt: tuple[int, ...]) -> tuple[Any, list]:
    ts = [torch.tensor(a, requires_grad=i in wrt) for i, a in enumerate(arrays)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (std of one element warns)
        out = fn(torch, *ts)
        grads = torch.autograd.grad(out.sum(), [ts[i] for i in wrt], allow_unused=True)
    return out, [
        torch.zeros_like(ts[i]) if g is None else g for i, g in zip(wrt, grads, strict=True)
    ]


def check(fn: Fn, *arrays: Any, wrt: tuple[int, ...] = (0,), rtol: float = 0.0) -> None:
    """``fn(lib, *tensors)`` in PyTorch, adjit eager, adjit.compile and adjit.grad: the same
    value (dtype, shape, NaN where PyTorch has NaN) and the same gradient of ``out.sum()``."""
    arrays = [np.asarray(a) for a in arrays]
    want, want_grads = _torch_run(fn, arrays, wrt)

    xs = [adjit.tensor(a, requires_grad=i in wrt) for i, a in enumerate(arrays)]
    out = fn(adjit, *xs)
    _same(out, want, "eager value", rtol)
    grads = adjit.autograd.grad(out.sum(), [xs[i] for i in wrt], allow_unused=True)
    for k, (g, w) in enumerate(zip(grads, want_grads, strict=True)):
        _same(adjit.zeros_like(xs[wrt[k]]) if g is None else g, w, f"eager grad {k}", rtol)

    compiled = adjit.compile(lambda *a: fn(adjit, *a))
    _same(compiled(*[adjit.tensor(a) for a in arrays]), want, "compiled value", rtol)
    gfn = adjit.grad(lambda *a: fn(adjit, *a).sum(), argnums=wrt)
    cgrads = gfn(*[adjit.tensor(a) for a in arrays])
    cgrads = cgrads if isinstance(cgrads, tuple) else (cgrads,)
    for k, (g, w) in enumerate(zip(cgrads, want_grads, strict=True)):
        _same(g, w, f"adjit.grad {k}", rtol)


def fd_check(fn: Fn, *arrays: Any, wrt: int = 0, eps: float = 1e-6) -> None:
    """adjit.grad of ``fn(...).sum()`` against float64 central differences."""
    arrays = [np.asarray(a, np.float64) for a in arrays]
    got = adjit.grad(lambda *a: fn(adjit, *a).sum(), argnums=wrt)(
        *[adjit.tensor(a) for a in arrays]
    )

    def f(x: np.ndarray) -> float:
        args = [adjit.tensor(x if i == wrt else a) for i, a in enumerate(arrays)]
        return float(fn(adjit, *args).sum().item())

    x, fd = arrays[wrt], np.zeros_like(arrays[wrt])
    for i in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        hi[i] += eps
        lo[i] -= eps
        fd[i] = (f(hi) - f(lo)) / (2 * eps)
    np.testing.assert_allclose(got.numpy(), fd, rtol=1e-6, atol=1e-8)


# ---- 1. lerp with a tensor weight -------------------------------------------------------------
def test_lerp_tensor_weight_gets_gradient() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    w = np.array([-0.7, -0.5, 0.0, 0.3, 0.5, 0.9, 1.0, 1.7, 0.49, 0.51, 2.0, -2.0]).reshape(3, 4)
    # (PyTorch's vectorized lerp rounds once with an fma: a few ulp apart)
    check(lambda m, x, y, z: x.lerp(y, z), a, b, w, wrt=(0, 1, 2), rtol=1e-15)
    check(lambda m, x, y: m.lerp(x, y, 0.75), a, b, wrt=(0, 1), rtol=1e-15)  # from `end`
    check(lambda m, x, y: m.lerp(x, y, 0.25), a, b, wrt=(0, 1), rtol=1e-15)
    fd_check(lambda m, x, y, z: x.lerp(y, z), a, b, w, wrt=2)
    t = torch.tensor(a, requires_grad=True)
    x = adjit.tensor(a, requires_grad=True)
    for weight in (0.5, torch.tensor(w)):
        aw = weight if isinstance(weight, float) else adjit.tensor(w)
        assert (
            type(x.lerp(x * 2, aw).grad_fn).__name__ == type(t.lerp(t * 2, weight).grad_fn).__name__
        )


# ---- 3. compiled constant outputs keep their shape ----------------------------------------------
@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x: m.zeros([]),
        lambda m, x: m.tensor(2.0).exp(),
        lambda m, x: m.full_like(x, 2).sum(),
        lambda m, x: m.ones(()) * 3,
        lambda m, x: m.zeros(1, 0).sum(1),
    ],
)
def test_compiled_constant_outputs_keep_shape(fn: Fn) -> None:
    x = np.ones(3, np.float32)
    want = fn(torch, torch.tensor(x))
    got = adjit.compile(lambda a: fn(adjit, a))(adjit.tensor(x))
    # (exp(2) in float32 is 1 ulp from PyTorch's: NumPy's exp)
    _same(got, want, "compiled constant", rtol=1.2e-7)
    _same(fn(adjit, adjit.tensor(x)), want, "eager constant", rtol=1.2e-7)


def test_constant_gradient_keeps_0d_shape() -> None:
    g = adjit.grad(lambda x: x * 2.0)(adjit.tensor(1.5))
    assert g.shape == () and g.item() == 2.0


# ---- 4. x ** 0 ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x: x**0,
        lambda m, x: x.pow(0.0),
        lambda m, x: m.pow(x, 0),
        lambda m, x, y=None: x ** (x * 0),  # a tensor exponent that is 0
        lambda m, x: x**1,
        lambda m, x: x**2,
        lambda m, x: x**-1,
    ],
)
def test_pow_small_exponents(fn: Fn) -> None:
    check(fn, np.array([0.0, -0.0, 1.5, -2.0, inf, -inf, nan]))


def test_pow_zero_gradient_is_zero_under_inf_cotangent() -> None:
    # PyTorch's zeros_like: 0 even where the incoming gradient is inf (g * 0 would be NaN)
    check(lambda m, x: (x**0) * m.tensor([inf, 1.0, -inf]), np.array([1.0, 2.0, 3.0]))


# ---- 5. NaN gradients where PyTorch's are finite -------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_every_target_ignored(reduction: str, smoothing: float) -> None:
    logits = np.random.default_rng(1).normal(size=(3, 5))
    target = np.array([-100, -100, -100])

    def fn(m: Any, x: Any) -> Any:
        return m.nn.functional.cross_entropy(
            x, m.tensor(target), reduction=reduction, label_smoothing=smoothing
        )

    check(fn, logits, rtol=1e-12)


def test_cross_entropy_some_targets_ignored() -> None:
    logits = np.random.default_rng(2).normal(size=(4, 3))
    target = np.array([2, -100, 0, -100])
    for reduction in ("mean", "sum", "none"):
        check(
            lambda m, x, r=reduction: m.nn.functional.cross_entropy(
                x, m.tensor(target), reduction=r
            ),
            logits,
            rtol=1e-12,
        )


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
def test_normalize_zero_row(p: float) -> None:
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 3.0], [0.0, 1e-300, 0.0]])
    check(lambda m, a: m.nn.functional.normalize(a, p=p, dim=1), x, rtol=1e-12)
    fd_check(lambda m, a: m.nn.functional.normalize(a, p=p, dim=1), x[1:2])


def test_div_gradient_uses_the_quotient() -> None:
    # PyTorch: d(a/b)/db = -g * ((a / b) / b); a / b**2 underflows to 0/0 for b = 1e-30 in f32
    a = np.array([0.0, 1.0, -3.0, 1e-20], np.float32)
    b = np.array([1e-30, 1e-30, 7.0, 3e-20], np.float32)
    check(lambda m, x, y: x / y, a, b, wrt=(0, 1))
    check(lambda m, x, y: x / y, a.astype(np.float64), b.astype(np.float64) ** 11, wrt=(0, 1))
    fd_check(lambda m, x, y: x / y, np.array([1.0, -2.0]), np.array([3.0, 0.5]), wrt=1)


# ---- 6. an empty dim list reduces every dim ------------------------------------------------------
@pytest.mark.parametrize("dim", [(), []])
@pytest.mark.parametrize(
    "op",
    [
        lambda x, d: x.sum(dim=d),
        lambda x, d: x.sum(dim=d, keepdim=True),
        lambda x, d: x.mean(dim=d),
        lambda x, d: x.amax(dim=d),
        lambda x, d: x.amin(dim=d, keepdim=True),
        lambda x, d: x.norm(dim=d),
        lambda x, d: x.all(dim=d),  # (all and any reduce nothing over an empty list)
        lambda x, d: x.any(dim=d),
    ],
)
def test_empty_dim_list(op: Fn, dim: Any) -> None:
    x = np.arange(6.0).reshape(2, 3) - 2.5
    if op(torch.tensor(x), dim).dtype == torch.bool:
        _same(op(adjit.tensor(x), dim), op(torch.tensor(x), dim), "bool reduction")
        return
    check(lambda m, a: op(a, dim), x, rtol=1e-12)


@pytest.mark.parametrize("dim", [(), []])
@pytest.mark.parametrize("op", [lambda x, d: x.var(dim=d), lambda x, d: x.std(dim=d)])
def test_empty_dim_list_var_std(op: Fn, dim: Any) -> None:
    # values as PyTorch's; PyTorch 2.13's gradient here is inf (its var_backward counts the
    # elements of an empty dim list as 1): checked against finite differences instead
    x = np.arange(6.0).reshape(2, 3) - 2.5
    want = op(torch.tensor(x), dim)
    _same(op(adjit.tensor(x), dim), want, "eager value", rtol=1e-15)
    _same(adjit.compile(lambda a: op(a, dim))(adjit.tensor(x)), want, "compiled", rtol=1e-15)
    fd_check(lambda m, a: op(a, dim), x)
    eager = adjit.tensor(x, requires_grad=True)
    op(eager, dim).backward()
    np.testing.assert_allclose(
        eager.grad.numpy(), adjit.grad(lambda a: op(a, dim))(adjit.tensor(x)).numpy(), rtol=1e-14
    )


def test_logsumexp_empty_dim_list_refused() -> None:
    with pytest.raises(RuntimeError):
        torch.tensor([[1.0]]).logsumexp(dim=[])
    with pytest.raises(RuntimeError, match="logsumexp"):
        adjit.tensor([[1.0]]).logsumexp(dim=[])


# ---- 7. nan_to_num ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "kwargs", [{}, {"nan": 1.5}, {"posinf": 7.0, "neginf": -3.0}, {"posinf": 1e300}]
)
def test_nan_to_num_gradient_at_non_finite(dtype: Any, kwargs: dict) -> None:
    x = np.array([inf, -inf, nan, 1.0, -2.0, 0.0], dtype)
    if dtype is np.float32 and kwargs.get("posinf") == 1e300:
        return  # (the replacement would overflow float32: PyTorch casts it to inf)
    check(lambda m, a: a.nan_to_num(**kwargs) * 3.0, x)


# ---- 8. std of one element ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x: x.std(),
        lambda m, x: x.var(),
        lambda m, x: x.std(dim=0),
        lambda m, x: x.reshape(1, 1).std(dim=1),
        lambda m, x: x.std(correction=0),
    ],
)
def test_std_of_one_element(fn: Fn) -> None:
    check(fn, np.array([3.0]))


def test_std_gradient_finite_differences() -> None:
    x = np.array([[1.0, 2.0, 4.0], [0.5, -1.0, 3.0]])
    fd_check(lambda m, a: a.std(dim=1), x)
    check(lambda m, a: a.std(dim=1), x, rtol=1e-12)


# ---- 10. softmax family over an empty dim -------------------------------------------------------
@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x: x.logsumexp(1),
        lambda m, x: x.logsumexp(1, keepdim=True),
        lambda m, x: x.softmax(1),
        lambda m, x: x.log_softmax(1),
        lambda m, x: x.softmax(0),
        lambda m, x: x.logsumexp(0),
    ],
)
@pytest.mark.parametrize("shape", [(2, 0), (0, 3)])
def test_softmax_family_empty(fn: Fn, shape: tuple[int, ...]) -> None:
    check(fn, np.zeros(shape))


# ---- 11. gradients at NaN, +-inf, +-0 -----------------------------------------------------------
SPECIAL = np.array([nan, inf, -inf, 0.0, -0.0, 1.0, -2.0, 1.0, 5.0])
OTHER = np.array([1.0, inf, 0.0, -0.0, 0.0, nan, -2.0, 3.0, nan])


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x: x.max(),
        lambda m, x: x.min(),
        lambda m, x: x[1:].max(),  # no NaN: shared among equal elements
        lambda m, x: x.reshape(3, 3).max(1).values,
        lambda m, x: x.reshape(3, 3).min(0).values,
        lambda m, x: x.amax(),
        lambda m, x: x.reshape(3, 3).amax(1),
        lambda m, x: x.reshape(3, 3).amin(0),
        lambda m, x: x.relu(),
        lambda m, x: x.sign(),
        lambda m, x: x.abs(),
        lambda m, x: x.floor(),
        lambda m, x: x.clamp(-1.0, 0.5),
        lambda m, x: x.clamp(min=0.0),
        lambda m, x: x.clamp(max=0.0),
    ],
)
def test_unary_gradients_at_special_values(fn: Fn) -> None:
    check(fn, SPECIAL)


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x, y: m.maximum(x, y),
        lambda m, x, y: m.minimum(x, y),
        lambda m, x, y: x.max(other=y) if m is adjit else m.max(x, y),
        lambda m, x, y: m.where(x > 0, x, y),
        lambda m, x, y: x.clamp(y, y + 1.0),
        lambda m, x, y: x.clamp(y, -y),  # (max < min where y > 0: max wins)
        lambda m, x, y: x.clamp(min=y),
        lambda m, x, y: x.clamp(max=y),
    ],
)
def test_binary_gradients_at_special_values(fn: Fn) -> None:
    check(fn, SPECIAL, OTHER, wrt=(0, 1))


def test_max_integer_and_bool_tensors() -> None:
    for a in (np.array([3, -1, 7, 7]), np.array([True, False])):
        _same(adjit.tensor(a).max(), torch.tensor(a).max(), "max()")
        _same(adjit.tensor(a).min(), torch.tensor(a).min(), "min()")


# ---- 9. pow's IEEE special cases ----------------------------------------------------------------
POW_VALUES = [nan, inf, -inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0, 1e-30, 1e30]


def _assert_pow_close(got: np.ndarray, want: np.ndarray, dtype: Any, what: str) -> None:
    # the special cases exactly (NaN, inf, zeros with their sign); finite values to a few ulp
    special = ~np.isfinite(want) | (want == 0)
    np.testing.assert_array_equal(got[special], want[special], err_msg=what)
    signed = special & ~np.isnan(want)  # (a NaN's sign bit means nothing)
    np.testing.assert_array_equal(np.signbit(got[signed]), np.signbit(want[signed]), what)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(got[~special], want[~special], rtol=4 * eps, err_msg=what)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pow_special_values_tensor_exponent(dtype: Any) -> None:
    pairs = np.array([(b, e) for b in POW_VALUES for e in POW_VALUES], dtype)
    b, e = pairs[:, 0].copy(), pairs[:, 1].copy()
    want = torch.pow(torch.tensor(b), torch.tensor(e)).numpy()
    eager = adjit.pow(adjit.tensor(b), adjit.tensor(e)).numpy()
    compiled = adjit.compile(adjit.pow)(adjit.tensor(b), adjit.tensor(e)).numpy()
    _assert_pow_close(eager, want, dtype, "eager")
    _assert_pow_close(compiled, want, dtype, "compiled")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# (exponents that float32 holds exactly: adjit's float32 pow rounds the exponent to float32,
# PyTorch's keeps it double, so x ** (1/3) differs by a few ulp for |x| far from 1)
@pytest.mark.parametrize("c", [0.5, -0.5, 2.0, 3.0, -1.0, -2.0, 0.0, 0.25, -1.5, inf, -inf, nan])
def test_pow_special_values_scalar_exponent(dtype: Any, c: float) -> None:
    # PyTorch computes ** 0.5 as sqrt and ** -0.5 as rsqrt: pow(-inf, 0.5) is NaN, not inf
    b = np.array(POW_VALUES, dtype)
    want = (torch.tensor(b) ** c).numpy()
    _assert_pow_close((adjit.tensor(b) ** c).numpy(), want, dtype, "eager")
    compiled = adjit.compile(lambda x: x**c)(adjit.tensor(b)).numpy()
    _assert_pow_close(compiled, want, dtype, "compiled")


@pytest.mark.parametrize("c", [0.5, -0.5])
def test_pow_root_gradients(c: float) -> None:
    x = np.array([4.0, 0.25, 2.0, 0.0, -0.0, -1.0, inf, -inf, nan])
    if c < 0:  # (adjit's gradient there is rsqrt's: -inf at -0.0 and NaN at -inf, see pow)
        x = x[[0, 1, 2, 3, 5, 6, 8]]
    check(lambda m, a: a**c, x, rtol=1e-15)
    fd_check(lambda m, a: a**c, np.array([4.0, 0.25, 2.0]))
    t = torch.tensor(x, requires_grad=True)
    assert (
        type((adjit.tensor(x, requires_grad=True) ** c).grad_fn).__name__
        == type((t**c).grad_fn).__name__
    )
    _same(adjit.tensor([4, 9]) ** c, torch.tensor([4, 9]) ** c, "integer base", rtol=1e-7)


# ---- found by the fuzzer in the same classes (tests/regressions/test_fuzz_findings.py) ---------
ACTIVATION_VALUES = np.array([nan, -1.0, 1.0, 30.0, -30.0, inf, -inf, 0.0, -0.0, -1e-8, -1e-5])


@pytest.mark.parametrize("name", ["elu", "selu", "celu", "softplus", "logsigmoid"])
def test_activations_at_special_values(name: str) -> None:
    # NaN in, NaN gradient out (PyTorch's vectorized kernels; its scalar tail of elu gives 1)
    check(lambda m, x: getattr(m.nn.functional, name)(x), ACTIVATION_VALUES, rtol=4e-16)


@pytest.mark.parametrize("name", ["elu", "selu", "celu"])
def test_elu_negative_branch_is_expm1(name: str) -> None:
    x = -np.logspace(-12, 1.5, 200)
    check(lambda m, a: getattr(m.nn.functional, name)(a), x, rtol=8e-16)
    fd_check(lambda m, a: getattr(m.nn.functional, name)(a), -np.array([1e-3, 0.5, 3.0]))


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x, y: m.nn.functional.huber_loss(x, y, reduction="none"),
        lambda m, x, y: m.nn.functional.huber_loss(x, y, reduction="none", delta=0.25),
        lambda m, x, y: m.nn.functional.smooth_l1_loss(x, y, reduction="none"),
        lambda m, x, y: m.nn.functional.smooth_l1_loss(x, y, reduction="none", beta=0.5),
        lambda m, x, y: m.nn.functional.huber_loss(x, y),
    ],
)
def test_huber_family_at_special_values(fn: Fn) -> None:
    x = np.array([-inf, inf, nan, 0.5, -0.5, 3.0, -3.0, 1.0, -1.0, 0.25, 0.0])
    check(fn, x, np.zeros_like(x), wrt=(0, 1))


def test_compiled_lerp_of_equal_ends_keeps_nan_weight_gradient() -> None:
    # sympy would cancel end - start = x - x to 0 (Note in passes/symbolic_regions.py)
    x = np.array([nan, inf, 1.0])
    check(lambda m, a, w: a.lerp(a, w), x, np.full(3, 0.25), wrt=(1,))


def test_lerp_gradients_at_special_values() -> None:
    # PyTorch's formulas (Note [lerp's gradients]): no untaken branch's 0 * inf, no g - g * w
    a = np.array([1.0, inf, -inf, nan, 2.0, 0.0, -0.0, 1.0])
    b = np.array([inf, 1.0, -1.0, 1.0, -1.0, -0.0, 0.0, nan])
    w = np.array([0.3, 0.7, 0.25, 0.2, 1.2, 0.5, -0.5, inf])
    check(lambda m, x, y, z: x.lerp(y, z), a, b, w, wrt=(0, 1, 2), rtol=1e-15)
    check(lambda m, x, y: x.lerp(y, 0.75), a, b, wrt=(0, 1), rtol=1e-15)
    check(lambda m, x: m.log1p(x.lerp(x, 0.25)), np.array([-1.0, 0.5]))  # an infinite g


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x: x.var(correction=0),
        lambda m, x: x.var(),
        lambda m, x: x.std(),
        lambda m, x: x.reshape(2, 3).var(dim=1),
        lambda m, x: x.reshape(2, 3).std(dim=0, keepdim=True),
        lambda m, x: x.reshape(2, 3).var(dim=(0, 1)),
    ],
)
def test_var_gradient_with_infinite_elements(fn: Fn) -> None:
    # Note [var's gradient]: 2 / (n - c) * g * (x - mean), the mean not differentiated
    check(fn, np.array([inf, 1.0, 2.0, -3.0, 0.5, 4.0]), rtol=1e-15)
    check(fn, np.array([1.0, 2.0, 4.0, 0.5, -1.0, 3.0]), rtol=1e-14)


def test_var_second_derivative() -> None:
    x, v = np.array([1.0, 2.0, 4.0, 0.5]), np.array([0.3, -1.0, 2.0, 0.7])
    t = torch.tensor(x, requires_grad=True)
    (g,) = torch.autograd.grad(t.std(), t, create_graph=True)
    want = torch.autograd.grad((g * torch.tensor(v)).sum(), t)[0].numpy()
    got = adjit.grad(lambda a: (adjit.grad(lambda b: b.std())(a) * adjit.tensor(v)).sum())(
        adjit.tensor(x)
    )
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-14)


@pytest.mark.parametrize("name", ["huber_loss", "smooth_l1_loss"])
def test_huber_family_under_an_infinite_upstream_gradient(name: str) -> None:
    # Note [huber's gradient]: g * clamp(d), even for g = inf (the loss squared at an inf loss)
    x = np.array([-inf, 0.25, 3.0, nan, -0.5])
    check(lambda m, a, b: getattr(m.nn.functional, name)(a, b) ** 2, x, np.zeros(5), wrt=(0, 1))
    check(
        lambda m, a, b: getattr(m.nn.functional, name)(a, b, reduction="none") ** 2,
        x,
        np.zeros(5),
        wrt=(0, 1),
    )


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x: m.clamp(m.nan_to_num(x), -1.0, 1.0),
        lambda m, x: m.clamp(m.where(x > 1.5, -5.0, x), -1.0, 1.0),
        lambda m, x: m.relu(m.where(x > 1.5, -5.0, x)),
        lambda m, x: m.maximum(m.where(x > 1.5, -5.0, x), x * 0.5),
    ],
)
def test_compiled_piecewise_inside_a_comparison(fn: Fn) -> None:
    # sympy folded clamp(where(m, c, x)) to a constant: a zero compiled gradient
    check(fn, np.array([0.0, 0.5, 1.0, -1.0, 2.0, -3.0, 0.25]))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_underflows_to_zero_as_torch(dtype: str) -> None:
    """PyTorch's sigmoid is 1 / (1 + e**-x): 0 where e**-x overflows (below about -88.7 in
    float32, -709.8 in float64), not the subnormal e**x; eager and compiled both."""
    x = np.array([-800.0, -710.0, -103.0, -100.0, -88.8, -88.7, -50.0, -inf, inf, nan], dtype)
    want = torch.sigmoid(torch.tensor(x)).numpy()
    a = adjit.tensor(x)
    for got in (a.sigmoid(), adjit.compile(lambda t: t.sigmoid())(a)):
        np.testing.assert_array_equal(_np(got) == 0, want == 0)  # the same zeros, bit for bit
        np.testing.assert_allclose(_np(got), want, rtol=2e-7 if dtype == "float32" else 1e-15)


def test_python_numbers_beyond_float32_overflow_quietly_as_torch() -> None:
    """A Python number past float32's range becomes inf without a NumPy warning (pow's general
    path casts it), values and gradients as PyTorch's."""
    for lib in (adjit, torch):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            x = lib.tensor([1.0, 2.0], requires_grad=True)
            y = x.pow(1e300)
            (x * 1e300).sum().backward()
        np.testing.assert_array_equal(_np(y), [1.0, inf])
        np.testing.assert_array_equal(_np(x.grad), [inf, inf])
