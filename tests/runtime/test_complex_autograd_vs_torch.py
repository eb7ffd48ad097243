"""Autograd through complex tensors side by side with PyTorch: every row's gradients (PyTorch's
conjugate Wirtinger convention, Note [complex gradients] in runtime/complex_autograd.py) vs
torch.autograd on the same values and vs central finite differences in float64 (the real and
the imaginary part of each input perturbed apart), with real/complex mixing and broadcasting;
grad_fn names, second derivatives and the errors of backward() on complex outputs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

# input kinds: (complex?, shape, how values are drawn)
KINDS: dict[str, tuple[bool, tuple[int, ...], str]] = {
    "c": (True, (3, 4), "normal"),
    "cv": (True, (4,), "normal"),
    "c0": (True, (), "normal"),
    "r": (False, (3, 4), "normal"),
    "rv": (False, (4,), "normal"),
    "rpos": (False, (3, 4), "positive"),
    "pair": (False, (3, 4, 2), "normal"),
    "cm": (True, (2, 3, 3), "normal"),
    "cm2": (True, (3, 2), "normal"),
    "cm42": (True, (4, 2), "normal"),
    "cm24": (True, (2, 4), "normal"),
}

# name -> (function of (library, *inputs), input kinds); each is differentiable at the drawn
# values (finite differences hold), so both references apply
CASES: dict[str, tuple[Callable[..., Any], tuple[str, ...]]] = {
    "add": (lambda m, a, b: a + b, ("c", "c")),
    "add_real_bcast": (lambda m, a, b: a + b, ("c", "rv")),
    "sub_real_first": (lambda m, a, b: a - b, ("r", "cv")),
    "mul": (lambda m, a, b: a * b, ("c", "c")),
    "mul_real": (lambda m, a, b: a * b, ("r", "c")),
    "mul_bcast": (lambda m, a, b: a * b, ("cv", "c")),
    "mul_scalar_complex": (lambda m, a: a * (1.5 - 2j), ("c",)),
    "real_times_j": (lambda m, a: a * 1j + 2, ("r",)),
    "div": (lambda m, a, b: a / b, ("c", "c")),
    "div_real_num": (lambda m, a, b: a / b, ("r", "c")),
    "div_real_den": (lambda m, a, b: a / b, ("c", "rpos")),
    "rdiv_scalar": (lambda m, a: (2 - 1j) / a, ("c",)),
    "neg": (lambda m, a: -a, ("c",)),
    "exp": (lambda m, a: a.exp(), ("c",)),
    "log": (lambda m, a: a.log(), ("c",)),
    "sqrt": (lambda m, a: a.sqrt(), ("c",)),
    "sin": (lambda m, a: a.sin(), ("c",)),
    "cos": (lambda m, a: m.cos(a), ("c",)),
    "tanh": (lambda m, a: a.tanh(), ("c",)),
    "log1p": (lambda m, a: a.log1p(), ("c",)),
    "reciprocal": (lambda m, a: a.reciprocal(), ("c",)),
    "rsqrt": (lambda m, a: a.rsqrt(), ("c",)),
    "square": (lambda m, a: a.square(), ("c",)),
    "pow_int": (lambda m, a: a**3, ("c",)),
    "pow_frac": (lambda m, a: a**2.5, ("c",)),
    "pow_neg": (lambda m, a: a**-1.5, ("c",)),
    "pow_zero": (lambda m, a: a**0, ("c",)),
    "pow_complex_scalar": (lambda m, a: a ** (0.5 + 1j), ("c",)),
    "pow_tensors": (lambda m, a, b: a**b, ("c", "c")),
    "pow_real_base": (lambda m, a, b: a**b, ("r", "c")),
    "pow_real_exponent": (lambda m, a, b: a**b, ("c", "r")),
    "rpow_scalar": (lambda m, a: 2**a, ("c",)),
    "rpow_negative_scalar": (lambda m, a: (-2.0) ** a, ("c",)),
    "abs": (lambda m, a: a.abs(), ("c",)),
    "angle": (lambda m, a: a.angle(), ("c",)),
    "angle_real": (lambda m, a: m.angle(a), ("r",)),
    "sgn": (lambda m, a: a.sgn(), ("c",)),
    "conj": (lambda m, a: a.conj() * a, ("c",)),
    "conj_physical": (lambda m, a: m.conj_physical(a).exp(), ("c",)),
    "real": (lambda m, a: a.real * 2, ("c",)),
    "imag": (lambda m, a: a.imag.exp(), ("c",)),
    "real_fn": (lambda m, a: m.real(a.exp()), ("c",)),
    "view_as_real": (lambda m, a: m.view_as_real(a.sin()), ("c",)),
    "view_as_complex": (lambda m, a: m.view_as_complex(a).exp(), ("pair",)),
    "complex": (lambda m, a, b: m.complex(a, b), ("r", "r")),
    "complex_bcast": (lambda m, a, b: m.complex(a, b).exp(), ("r", "rv")),
    "polar": (lambda m, a, b: m.polar(a, b), ("rpos", "r")),
    "polar_bcast": (lambda m, a, b: m.polar(a, b).log(), ("rpos", "rv")),
    "cast_from_real": (lambda m, a: a.to(m.complex128) * (1 + 1j), ("r",)),
    "cast_c64_c128": (lambda m, a: a.to(m.complex128).exp(), ("c",)),
    "sum": (lambda m, a: a.sum(), ("c",)),
    "sum_dim": (lambda m, a: a.sum(1, keepdim=True) * a, ("c",)),
    "mean": (lambda m, a: a.mean(0), ("c",)),
    "var": (lambda m, a: a.var(1), ("c",)),
    "std": (lambda m, a: a.std(), ("c",)),
    "reshape_permute": (lambda m, a: a.reshape(4, 3).t() * a, ("c",)),
    "index": (lambda m, a: a[1:, m.tensor([0, 2, 2])], ("c",)),
    "cat_stack": (lambda m, a, b: m.cat([a, m.stack([b, b])]), ("c", "cv")),
    "where": (lambda m, a, b: m.where(b > 0, a, a * 2), ("c", "r")),
    "expand": (lambda m, a: a.expand(3, 4) * 1j, ("cv",)),
    "gather": (lambda m, a: a.gather(1, m.tensor([[0, 0], [3, 1], [2, 2]])), ("c",)),
    "scalar_0d": (lambda m, a, b: (a * b).exp(), ("c0", "c")),
    "vector_norm": (lambda m, a: m.linalg.vector_norm(a), ("c",)),
    "norm_dim_p3": (lambda m, a: m.linalg.vector_norm(a, 3, dim=0), ("c",)),
    "norm_method": (lambda m, a: a.norm(dim=1), ("c",)),
    "dist": (lambda m, a, b: m.dist(a, b), ("c", "c")),
    "addcmul": (lambda m, a, b: m.addcmul(a, b, a, value=0.5), ("c", "c")),
    "addcdiv": (lambda m, a, b: m.addcdiv(a, b, a + 3, value=0.5), ("c", "c")),
    "flip_roll": (lambda m, a, b: a.flip(0) * b.roll(1, 1), ("c", "c")),
    "mH": (lambda m, a, b: a.mH @ b, ("c", "c")),
    "H": (lambda m, a: a.H, ("c",)),
    "adjoint": (lambda m, a: a.adjoint(), ("c",)),
    "masked_fill": (lambda m, a: a.masked_fill(m.tensor([True, False, True, False]), 0), ("c",)),
    "index_select": (lambda m, a: a.index_select(1, m.tensor([0, 0, 3])), ("c",)),
    "take": (lambda m, a: m.take(a, m.tensor([0, 5, 5])), ("c",)),
    "diag": (lambda m, a: m.diag(a[:, :3]), ("c",)),
    "block_diag": (lambda m, a, b: m.block_diag(a, b), ("c", "cv")),
    "index_add": (
        lambda m, a: m.zeros(3, 4, dtype=a.dtype).index_add(0, m.tensor([2, 0, 1]), a),
        ("c",),
    ),
    "normalize": (lambda m, a: m.nn.functional.normalize(a), ("c",)),
    "cross": (lambda m, a, b: m.linalg.cross(a[:, :3], b[:, :3]), ("c", "c")),
    "outer": (lambda m, a, b: m.outer(a, b), ("cv", "cv")),
    "diff": (lambda m, a: m.diff(a), ("c",)),
    "pad": (lambda m, a: m.nn.functional.pad(a, (1, 2)), ("c",)),
    "matmul": (lambda m, a, b: a @ b, ("c", "cm42")),
    "matmul_batched": (lambda m, a, b: m.matmul(a, b), ("cm", "cm2")),
    "mv": (lambda m, a, b: m.mv(a, b), ("c", "cv")),
    "vec_mat": (lambda m, a, b: b @ a, ("cm42", "cv")),
    "dot": (lambda m, a, b: m.dot(a, b * 1j), ("cv", "cv")),
    "vdot": (lambda m, a, b: m.vdot(a, b), ("cv", "cv")),
    "addmm": (lambda m, a, b, c: m.addmm(c, a, b, beta=0.5 - 1j, alpha=2), ("c", "cm42", "cm2")),
    "einsum": (lambda m, a, b: m.einsum("bij,jk->bik", a, b), ("cm", "cm2")),
    "linear": (lambda m, a, b: m.nn.functional.linear(a, b), ("c", "cm24")),
    "chain_mixed": (lambda m, a, b: ((a * b).sin() / (b + 3)).abs() * b, ("c", "r")),
}


def _draw(kind: str, dtype: str, seed: int) -> np.ndarray:
    is_complex, shape, how = KINDS[kind]
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(shape)
    if how == "positive":
        v = np.abs(v) + 0.5
    if is_complex:
        v = v + 1j * rng.standard_normal(shape)
    real = "float64" if dtype == "complex128" else "float32"
    return np.asarray(v.astype(dtype if is_complex else real))


def _run(m: Any, name: str, arrays: list[np.ndarray], cot: Any) -> tuple[Any, list[Any]]:
    fn, _ = CASES[name]
    xs = [m.tensor(a, requires_grad=True) for a in arrays]
    out = fn(m, *xs)
    out.backward(m.tensor(cot(out.shape, "complex" in str(out.dtype), str(out.dtype))))
    return out, [x.grad for x in xs]


def _cotangent(seed: int) -> Callable[..., np.ndarray]:
    def make(shape: Any, is_complex: bool, dtype: str) -> np.ndarray:
        rng = np.random.default_rng(seed)
        v = rng.standard_normal(tuple(shape))
        if is_complex:
            v = v + 1j * rng.standard_normal(tuple(shape))
        return v.astype(dtype.replace("torch.", ""))

    return make


def _inputs(name: str, dtype: str) -> list[np.ndarray]:
    return [_draw(k, dtype, 10 + i) for i, k in enumerate(CASES[name][1])]


def _assert_close(got: Any, want: np.ndarray, rtol: float, what: str) -> None:
    g = np.asarray(got, np.complex128)
    w = np.asarray(want, np.complex128)
    scale = max(float(np.abs(w).max(initial=0.0)), 1.0)
    err = np.abs(g - w)
    assert (err <= rtol * scale).all(), (what, g, w)


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("name", list(CASES))
def test_gradients_as_pytorch(name: str, dtype: str) -> None:
    arrays = _inputs(name, dtype)
    cot = _cotangent(99)
    out_a, grads_a = _run(adjit, name, arrays, cot)
    out_t, grads_t = _run(torch, name, arrays, cot)
    assert type(out_a.grad_fn).__name__ == type(out_t.grad_fn).__name__
    rtol = 1e-12 if dtype == "complex128" else 2e-5  # a few ulps of the largest gradient
    for i, (a, t) in enumerate(zip(grads_a, grads_t, strict=True)):
        if t is None:  # (where's condition)
            assert a is None
            continue
        assert str(a.dtype) == str(t.dtype)
        _assert_close(a.numpy(), t.resolve_conj().numpy(), rtol, f"input {i}")


def _loss(name: str, arrays: list[np.ndarray], cot: np.ndarray) -> float:
    """Re(sum(conj(v) * f)): the real loss whose gradients backward(v) gives."""
    fn, _ = CASES[name]
    with adjit.no_grad():
        out = fn(adjit, *[adjit.tensor(a) for a in arrays]).numpy()
    return float(np.real(np.sum(np.conj(cot) * out)))


@pytest.mark.parametrize("name", list(CASES))
def test_gradients_vs_finite_differences(name: str) -> None:
    arrays = _inputs(name, "complex128")
    cot_of = _cotangent(99)
    out, grads = _run(adjit, name, arrays, cot_of)
    cot = cot_of(out.shape, "complex" in str(out.dtype), str(out.dtype))
    h = 1e-6
    for i, a in enumerate(arrays):
        fd = np.zeros(a.shape, np.complex128)
        for idx in np.ndindex(*a.shape):
            for unit in (1, 1j) if np.iscomplexobj(a) else (1,):
                hi, lo = [x.copy() for x in arrays], [x.copy() for x in arrays]
                hi[i][idx] += h * unit
                lo[i][idx] -= h * unit
                d = (_loss(name, hi, cot) - _loss(name, lo, cot)) / (2 * h)
                fd[idx] += d * unit
        if grads[i] is None:  # (where's condition)
            assert name == "where" and i == 1
            continue
        assert np.iscomplexobj(grads[i].numpy()) == np.iscomplexobj(a)
        _assert_close(grads[i].numpy(), fd, 1e-6, f"input {i}")  # O(h^2) and eps/h


EDGES: dict[str, tuple[Callable[..., Any], list[Any]]] = {
    # nondifferentiable points: PyTorch's chosen values (0 for abs, angle and sgn at 0; polar's
    # gradient for abs is Re(conj(g) sgn(out)): 0 at abs 0, of the other sign for abs < 0)
    "abs_at_0": (lambda m, a: a.abs(), [[0j, 1 + 1j, -2j]]),
    "angle_at_0": (lambda m, a: a.angle(), [[0j, 1 + 1j, -2j]]),
    "sgn_at_0": (lambda m, a: a.sgn(), [[0j, 1 + 1j, -2j]]),
    "sqrt_at_0": (lambda m, a: a.sqrt(), [[0j, 4 + 0j, -4 + 0j]]),
    "pow_at_0": (lambda m, a, b: a**b, [[0j, 0j, 1j], [2 + 0j, 0.5j, 0j]]),
    "polar_abs_0_neg": (lambda m, a, b: m.polar(a, b), [[0.0, -1.5, 2.0], [0.3, 0.7, -1.0]]),
    "log_at_0": (lambda m, a: a.log(), [[0j, 1j]]),
    "inf_nan": (lambda m, a: a * (2 + 1j), [[complex("inf"), complex("nan"), 1j]]),
}


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("name", list(EDGES))
def test_edge_values_as_pytorch(name: str, dtype: str) -> None:
    fn, values = EDGES[name]
    real = "float32" if dtype == "complex64" else "float64"

    def run(m: Any) -> list[Any]:
        xs = [
            m.tensor(v, dtype=getattr(m, dtype if isinstance(v[0], complex) else real))
            for v in values
        ]
        for x in xs:
            x.requires_grad_()
        out = fn(m, *xs)
        g = m.ones(out.shape, dtype=out.dtype) * (1 if not out.dtype.is_complex else 1 - 2j)
        out.backward(g)
        return [x.grad.numpy() for x in xs]

    for a, t in zip(run(adjit), run(torch), strict=True):
        np.testing.assert_allclose(a, t, rtol=1e-5, atol=1e-6, equal_nan=True)


def test_second_derivative_as_pytorch() -> None:
    def run(m: Any) -> tuple[Any, Any]:
        z = m.tensor([1 + 2j, -0.5 + 0.25j, 2 - 1j], dtype=m.complex128, requires_grad=True)
        x = m.tensor([0.5, -1.5, 2.0], dtype=m.float64, requires_grad=True)
        y = ((z * x).exp() / z).abs().sum() + (z**2.5).angle().sum()
        gz, gx = m.autograd.grad(y, (z, x), create_graph=True)
        ((gz.abs() ** 2).sum() + (gx * gx * gz.real).sum()).backward()
        return z.grad.numpy(), x.grad.numpy()

    for a, t in zip(run(adjit), run(torch), strict=True):
        np.testing.assert_allclose(a, t, rtol=1e-12)


def test_leaf_grad_is_complex_and_accumulates() -> None:
    z = adjit.tensor([1 + 1j, 2 - 1j], requires_grad=True)
    (z * 2j).real.sum().backward()
    (z.conj() * 1).imag.sum().backward()
    assert z.grad.dtype is adjit.complex64
    # Re(2j z) = -2 Im z: -2j; Im(conj z) = -Im z: -1j
    assert z.grad.tolist() == [-3j, -3j]


ERRORS: dict[str, Callable[[Any], Any]] = {
    "implicit_complex_scalar": lambda m: m.tensor([1 + 1j], requires_grad=True).sum().backward(),
    "implicit_complex_vector": lambda m: (
        m.tensor([1 + 1j, 2j], requires_grad=True) * 2
    ).backward(),
    "real_grad_for_complex": lambda m: (m.tensor([1 + 1j], requires_grad=True) * 2).backward(
        m.ones(1)
    ),
    "complex_grad_for_real": lambda m: (m.tensor([1.0], requires_grad=True) * 2).backward(
        m.ones(1, dtype=m.complex64)
    ),
    "autograd_grad_complex_scalar": lambda m: m.autograd.grad(
        m.tensor(1j, requires_grad=True) * 2, m.tensor(1j, requires_grad=True)
    ),
}


def _error(fn: Callable[[Any], Any], m: Any) -> tuple[type, str]:
    try:
        fn(m)
    except Exception as e:  # noqa: BLE001 - compared with PyTorch's
        return type(e), str(e)
    return type(None), ""


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_as_pytorch(name: str) -> None:
    got, want = _error(ERRORS[name], adjit), _error(ERRORS[name], torch)
    assert want[0] is not type(None)
    assert issubclass(got[0], want[0]) and got[1] == want[1]


REFUSED = {  # PyTorch differentiates these; adjit refuses by name rather than answer wrongly
    "nan_to_num": lambda: adjit.tensor([1j], requires_grad=True).nan_to_num(),
    "compile": lambda: adjit.compile(lambda z: z * 2, fullgraph=True)(  # (else a graph break)
        adjit.tensor([1j], requires_grad=True)
    ),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_clearly(name: str) -> None:
    with pytest.raises(NotImplementedError) as info:
        REFUSED[name]()
    assert "complex" in str(info.value)


def test_inplace_and_index_assignment_as_pytorch() -> None:
    def run(m: Any) -> tuple[Any, Any]:
        z = m.tensor([1 + 2j, 3 - 1j, 0.5j], requires_grad=True)
        x = m.tensor([1.0, 2, 3], requires_grad=True)
        w = z * 1
        w.mul_(1j)
        w.add_(z * x)
        w = w.exp() * 1
        w[0] = 7j * z[1]
        w = w.sqrt() - x
        w.div_(z + 1)
        (w.abs() ** 2).sum().backward()
        return z.grad.numpy(), x.grad.numpy()

    for a, t in zip(run(adjit), run(torch), strict=True):
        np.testing.assert_allclose(a, t, rtol=2e-5)


_RNG = np.random.default_rng(7)
_M = {
    k: np.asarray(_RNG.standard_normal(s) + 1j * _RNG.standard_normal(s))
    for k, s in {"a": (3, 4), "b": (4, 2), "v": (4,), "w": (4,), "s": (3, 3)}.items()
}
_M |= {"p": _M["b"][None].repeat(2, 0), "q": _M["a"][None].repeat(2, 0), "o": _M["s"][:, :2]}
_M |= {"k": _M["b"].T.copy(), "u": _M["o"][:2]}

# products over complex matmul (forward values; the gradients are rows of CASES above)
PRODUCTS: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "matmul": lambda m, t: t["a"] @ t["b"],
    "mm": lambda m, t: m.mm(t["a"], t["b"]),
    "bmm": lambda m, t: m.bmm(t["q"], t["p"]),
    "mv": lambda m, t: m.mv(t["a"], t["v"]),
    "dot": lambda m, t: m.dot(t["v"], t["w"]),
    "vdot": lambda m, t: m.vdot(t["v"], t["w"]),
    "inner": lambda m, t: m.inner(t["a"], t["a"]),
    "outer": lambda m, t: m.outer(t["v"], t["w"]),
    "einsum": lambda m, t: m.einsum("ij,jk->ik", t["a"], t["b"]),
    "tensordot": lambda m, t: m.tensordot(t["a"], t["b"], dims=1),
    "addmm": lambda m, t: m.addmm(t["o"], t["a"], t["b"], beta=0.5, alpha=2 - 1j),
    "addmv": lambda m, t: m.addmv(t["s"][:, 0], t["a"], t["v"], beta=0.25),
    "addr": lambda m, t: m.addr(t["a"], t["s"][0], t["w"], alpha=0.5),
    "baddbmm": lambda m, t: m.baddbmm(t["o"], t["q"], t["p"], beta=0.5),
    "addbmm": lambda m, t: m.addbmm(t["o"], t["q"], t["p"], alpha=1.5),
    "kron": lambda m, t: m.kron(t["s"], t["s"]),
    "multi_dot": lambda m, t: m.linalg.multi_dot([t["a"], t["b"], t["u"]]),
    "vecdot": lambda m, t: m.linalg.vecdot(t["a"], t["a"]),
    "linear": lambda m, t: m.nn.functional.linear(t["a"], t["k"]),
    "matrix_power": lambda m, t: m.linalg.matrix_power(t["s"], 3),
}


@pytest.mark.parametrize("name", list(PRODUCTS))
def test_complex_products_as_pytorch(name: str) -> None:
    got = PRODUCTS[name](adjit, {k: adjit.tensor(v) for k, v in _M.items()})
    want = PRODUCTS[name](torch, {k: torch.tensor(v) for k, v in _M.items()})
    assert str(got.dtype) == str(want.dtype) and tuple(got.shape) == tuple(want.shape)
    w = want.resolve_conj().numpy()
    scale = max(1.0, float(np.abs(w).max(initial=0.0)))
    np.testing.assert_allclose(got.numpy(), w, rtol=0, atol=64 * np.finfo(float).eps * scale)


def test_chalf_refuses_by_dtype_name() -> None:
    # PyTorch's CPU kernels do + - * on complex32; adjit does not store it
    with pytest.raises(TypeError, match="complex32"):
        adjit.ones(2).chalf()


def _square(m: Any, conjugate: bool) -> Any:
    """z * z as an autograd.Function; without the conjugate its backward is wrong (gradcheck
    must catch it, as PyTorch's)."""

    class Square(m.autograd.Function):
        @staticmethod
        def forward(ctx: Any, z: Any) -> Any:
            ctx.save_for_backward(z)
            return z * z

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (z,) = ctx.saved_tensors
            return g * 2 * (z.conj() if conjugate else z)

    return Square.apply


GRADCHECKS: dict[str, tuple[Callable[..., Any], bool]] = {
    "holomorphic": (lambda m, z, x: (z * z * x).exp(), True),
    "real_out": (lambda m, z, x: (z * z.conj()).real + z.angle() * x, True),
    "polar": (lambda m, z, x: m.polar(x.abs() + 1, x) * z.sgn(), True),
    "function": (lambda m, z, x: _square(m, True)(z) * x, True),
    "missing_conj": (lambda m, z, x: _square(m, False)(z) * x, False),
}


@pytest.mark.parametrize("name", list(GRADCHECKS))
def test_gradcheck_with_complex_as_pytorch(name: str) -> None:
    fn, ok = GRADCHECKS[name]
    for m in (adjit, torch):
        z = m.tensor([1 + 2j, 0.5 - 1j], dtype=m.complex128, requires_grad=True)
        x = m.tensor([0.3, -0.7], dtype=m.float64, requires_grad=True)
        f = functools.partial(fn, m)
        fast = m is torch  # (PyTorch's slow complex mode takes seconds)
        assert m.autograd.gradcheck(f, (z, x), raise_exception=False, fast_mode=fast) is ok
        if ok and m is adjit:
            assert m.autograd.gradgradcheck(f, (z, x))


FUNCTIONAL: dict[str, Callable[[Any, Any, Any, Any], Any]] = {
    "jvp_holomorphic": lambda m, z, v, x: m.autograd.functional.jvp(lambda z: z * z, z, v)[1],
    "jvp_abs": lambda m, z, v, x: m.autograd.functional.jvp(lambda z: (z * z).abs(), z, v)[1],
    "jvp_real_in": lambda m, z, v, x: m.autograd.functional.jvp(lambda x: x * (1 + 1j), x, x)[1],
    "vjp": lambda m, z, v, x: m.autograd.functional.vjp(lambda z: z.exp(), z, v)[1],
    "vhp": lambda m, z, v, x: m.autograd.functional.vhp(
        lambda z: (z * z.conj() * z.exp()).real.sum(), z, v
    )[1],
    "jacobian_real_out": lambda m, z, v, x: m.autograd.functional.jacobian(
        lambda z: (z * z).abs(), z
    ),
    "jacobian_complex_out": lambda m, z, v, x: m.autograd.functional.jacobian(lambda z: z * z, z),
    "hessian": lambda m, z, v, x: m.autograd.functional.hessian(
        lambda z: (z * z.conj()).real.sum(), z
    ),
}


@pytest.mark.parametrize("name", list(FUNCTIONAL))
def test_autograd_functional_as_pytorch(name: str) -> None:
    def run(m: Any) -> Any:
        z = m.tensor([1 + 2j, 0.5 - 1j], dtype=m.complex128)
        v = m.tensor([1j, 2 - 1j], dtype=m.complex128)
        x = m.tensor([0.3, -0.7], dtype=m.float64)
        try:
            return FUNCTIONAL[name](m, z, v, x).resolve_conj().numpy()
        except RuntimeError as e:  # (PyTorch refuses complex outputs in jacobian/hessian)
            return str(e)

    got, want = run(adjit), run(torch)
    if isinstance(want, str):
        assert got == want
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12)
