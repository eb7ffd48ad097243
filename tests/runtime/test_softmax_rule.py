"""softmax and log_softmax carry PyTorch's own derivative formulas (Note [softmax's gradient]):
gradients and second derivatives against PyTorch and finite differences, forward mode, vmap,
compiled on both backends, and a compiled step that saves only the output."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from adjit.frontend.jvp import jvp

import adjit

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(18)
X = RNG.standard_normal((3, 5))
X3 = RNG.standard_normal((2, 3, 4))

# name -> (program over a module and a float64 tensor, input)
CASES: dict[str, tuple[Any, np.ndarray]] = {
    "softmax-1": (lambda T, x: T.softmax(x, 1), X),
    "softmax-0": (lambda T, x: x.softmax(0), X),
    "softmax-3d-neg": (lambda T, x: T.nn.functional.softmax(x, dim=-2), X3),
    "softmax-0d": (lambda T, x: T.softmax(x, 0), np.array(0.7)),
    "softmax-dtype": (lambda T, x: T.softmax(x.float(), 1, dtype=T.float64), X),
    "log_softmax-1": (lambda T, x: T.log_softmax(x, 1), X),
    "log_softmax-0": (lambda T, x: x.log_softmax(0), X),
    "log_softmax-3d": (lambda T, x: T.nn.functional.log_softmax(x, dim=1), X3),
    "log_softmax-0d": (lambda T, x: T.log_softmax(x, -1), np.array(-1.5)),
    "log_softmax-dtype": (lambda T, x: T.log_softmax(x.float(), 0, dtype=T.float64), X),
    "cross_entropy": (
        lambda T, x: T.nn.functional.cross_entropy(x, T.tensor([1, 4, 0])),
        X,
    ),
}


def _grads(T: Any, name: str) -> tuple[Any, Any, Any, Any]:
    """The value, its and its gradient's grad_fn names, the gradient for a fixed cotangent,
    and the gradient of the gradient's squared norm (a second derivative through the
    backward)."""
    fn, x0 = CASES[name]
    x = T.tensor(x0, requires_grad=True)
    y = fn(T, x)
    ct = T.tensor(np.random.default_rng(0).standard_normal(tuple(y.shape)))
    (g,) = T.autograd.grad(y, x, ct, create_graph=True)
    (gg,) = T.autograd.grad((g * g).sum(), x)
    names = (y.grad_fn.name(), g.grad_fn.name())  # (SoftmaxBackwardDataBackward0 & co.)
    return y.detach().numpy(), names, g.detach().numpy(), gg.numpy()


@pytest.mark.parametrize("name", CASES)
def test_gradients_and_second_derivatives_match_torch(name: str) -> None:
    got, want = _grads(adjit, name), _grads(torch, name)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-15)
    assert got[1] == want[1]
    np.testing.assert_allclose(got[2], want[2], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(got[3], want[3], rtol=1e-9, atol=1e-13)


# (the dtype= rows read a float32 copy: a float64 difference quotient cannot see through it)
@pytest.mark.parametrize("name", [n for n in CASES if "0d" not in n and "dtype" not in n])
def test_gradients_match_finite_differences(name: str) -> None:
    fn, x0 = CASES[name]
    w = np.random.default_rng(2).standard_normal(np.shape(fn(adjit, adjit.tensor(x0))))

    def f(v: np.ndarray) -> float:
        return float((fn(adjit, adjit.tensor(v)) * adjit.tensor(w)).sum())

    x = adjit.tensor(x0, requires_grad=True)
    (g,) = adjit.autograd.grad((fn(adjit, x) * adjit.tensor(w)).sum(), x)
    eps, fd = 1e-6, np.zeros_like(x0)
    for i in np.ndindex(x0.shape):
        up, down = x0.copy(), x0.copy()
        up[i] += eps
        down[i] -= eps
        fd[i] = (f(up) - f(down)) / (2 * eps)
    np.testing.assert_allclose(g.numpy(), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
@pytest.mark.parametrize("name", CASES)
def test_compiled_gradients_match_eager(name: str, backend: str) -> None:
    fn, x0 = CASES[name]
    w = adjit.tensor(
        np.random.default_rng(3).standard_normal(np.shape(fn(adjit, adjit.tensor(x0))))
    )

    def loss(v: Any) -> Any:
        return (fn(adjit, v) * w).sum()

    x = adjit.tensor(x0, requires_grad=True)
    (want,) = adjit.autograd.grad(loss(x), x)
    got = adjit.grad(loss, backend=backend)(adjit.tensor(x0))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-14)
    value = adjit.compile(lambda v: fn(adjit, v), backend=backend)(adjit.tensor(x0))
    np.testing.assert_allclose(value.numpy(), fn(adjit, adjit.tensor(x0)).numpy(), rtol=1e-14)


@pytest.mark.parametrize("name", ["softmax-1", "log_softmax-0", "softmax-3d-neg"])
def test_forward_mode_matches_torch(name: str) -> None:
    fn, x0 = CASES[name]
    t0 = np.random.default_rng(4).standard_normal(x0.shape)
    _, got = jvp(lambda v: fn(adjit, v), (adjit.tensor(x0),), (adjit.tensor(t0),))
    _, want = torch.func.jvp(lambda v: fn(torch, v), (torch.tensor(x0),), (torch.tensor(t0),))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-14)
    fa, ft = adjit.autograd.forward_ad, torch.autograd.forward_ad
    with fa.dual_level():
        eager = fa.unpack_dual(fn(adjit, fa.make_dual(adjit.tensor(x0), adjit.tensor(t0)))).tangent
    with ft.dual_level():
        ref = ft.unpack_dual(fn(torch, ft.make_dual(torch.tensor(x0), torch.tensor(t0)))).tangent
    np.testing.assert_allclose(eager.numpy(), ref.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("dim", "in_dims"), [(-1, 0), (0, 1)])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_vmap_of_gradients_matches_torch(fn: str, dim: int, in_dims: int) -> None:
    """The rule's dim is the example's: batched at another position, it still names it."""
    x0 = np.moveaxis(RNG.standard_normal((4, 3, 5)), 0, in_dims)

    def per_example(T: Any) -> Any:
        weights = T.arange(15.0, dtype=T.float64).reshape(3, 5)
        return lambda v: (getattr(T, fn)(v, dim) * weights).sum()

    for transform in ("grad", "hessian"):
        got = adjit.func.vmap(getattr(adjit.func, transform)(per_example(adjit)), in_dims=in_dims)
        want = torch.func.vmap(getattr(torch.func, transform)(per_example(torch)), in_dims=in_dims)
        np.testing.assert_allclose(
            got(adjit.tensor(x0)).numpy(), want(torch.tensor(x0)).numpy(), rtol=1e-10, atol=1e-13
        )


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_reduced_precision_softmax_gradient_is_torchs(dtype: str) -> None:
    """PyTorch's softmax_backward computes in float32 and rounds once: bit for bit."""
    x0 = RNG.standard_normal((4, 33)).astype(np.float32)
    ct = RNG.standard_normal((4, 33)).astype(np.float32)

    def grad(T: Any) -> np.ndarray:
        x = T.tensor(x0).to(getattr(T, dtype)).requires_grad_()
        (g,) = T.autograd.grad(T.softmax(x, -1), x, T.tensor(ct).to(getattr(T, dtype)))
        assert str(g.dtype) == f"torch.{dtype}"
        return g.float().numpy()

    np.testing.assert_array_equal(grad(adjit), grad(torch))


def test_empty_rows() -> None:
    for fn in ("softmax", "log_softmax"):
        x = adjit.zeros((2, 0), dtype=adjit.float64, requires_grad=True)
        y = getattr(adjit, fn)(x, 1)
        (g,) = adjit.autograd.grad(y.sum(), x)
        assert tuple(g.shape) == (2, 0)


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_compiled_step_saves_only_the_output(fn: str, backend: str) -> None:
    """The residual held from forward to backward is the [64, 128] result alone (no
    exp(x - max) beside it), and the forward is still one row kernel."""
    w = adjit.randn(64, 128, requires_grad=True)

    def step(x: Any) -> Any:
        y = getattr(adjit, fn)(x @ w, -1)
        loss = (y * y).sum()
        loss.backward()
        return loss

    e = adjit.explain(adjit.compile(step, backend=backend), adjit.randn(64, 64))
    assert [(r.op, r.shape, r.bytes) for r in e.saved] == [
        ("div" if fn == "softmax" else "sub", (64, 128), 64 * 128 * 4)
    ]
    if backend == "llvm":
        rows = [k for k in str(e).splitlines() if k.startswith("forward/r")]
        assert len(rows) == 1 and "exp" in rows[0] and "amax" in rows[0]


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_compiled_second_derivatives_match_torch(fn: str, backend: str) -> None:
    """A compiled create_graph double backward and a compiled hessian, against PyTorch."""

    def f(T: Any) -> Any:
        weights = T.arange(15.0, dtype=T.float64).reshape(3, 5)
        return lambda v: (getattr(T, fn)(v, 0) * weights).sum()

    def grad_of_grad(T: Any) -> Any:
        def run(v: Any) -> Any:
            v = v.detach().requires_grad_()
            (g,) = T.autograd.grad(f(T)(v), v, create_graph=True)
            return T.autograd.grad((g * g).sum(), v)[0]

        return run

    got = adjit.compile(grad_of_grad(adjit), backend=backend)(adjit.tensor(X))
    want = grad_of_grad(torch)(torch.tensor(X))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10, atol=1e-13)
    hess = adjit.compile(adjit.func.hessian(f(adjit)), backend=backend)(adjit.tensor(X))
    ref = torch.func.hessian(f(torch))(torch.tensor(X))
    np.testing.assert_allclose(hess.numpy(), ref.numpy(), rtol=1e-10, atol=1e-13)
