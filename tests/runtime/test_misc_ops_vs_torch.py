"""Odds and ends of issue 13 (aliases, deg2rad, fmax, gcd, frexp, diff, cov, windows, ...)
against PyTorch: values, dtypes, grad_fn names, gradients (PyTorch's and float64 finite
differences), compiled on both backends, and errors."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from misc_op_cases import CASES, DATA_DEPENDENT, EAGER_ONLY
from test_ops_gradients import _numeric_grad
from test_ops_table import Case, cotangents, make_args, outputs

import adjit

torch = pytest.importorskip("torch")

# float64 decompositions that add a few terms in another order than PyTorch's kernels (cov's
# means, trapezoid's sums): a few ulp of the terms, far below 1e-12 relative
RTOL, ATOL = 1e-12, 1e-14


def _np(t: Any) -> np.ndarray:
    return t.detach().numpy()


def _name(t: Any) -> str | None:
    return None if t.grad_fn is None else type(t.grad_fn).__name__


def _same(got: Any, want: Any, what: str) -> None:
    assert tuple(got.shape) == tuple(want.shape), f"{what}: shape {got.shape} != {want.shape}"
    assert str(got.dtype) == str(want.dtype), f"{what}: dtype {got.dtype} != {want.dtype}"
    g, w = _np(got), _np(want)
    if g.dtype.kind in "biu":
        np.testing.assert_array_equal(g, w, err_msg=what)
    else:
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL, err_msg=what)


def _live(outs: list) -> list[int]:
    return [k for k, o in enumerate(outs) if o.dtype.is_floating_point and o.requires_grad]


def _grads(case: Case, outs: list, args: list, T: Any) -> list:
    diff = [outs[k] for k in _live(outs)]
    inputs = [a for a in args if a.requires_grad]
    if not diff or not inputs:
        return []
    cts = [T.from_numpy(c).to(o.dtype) for o, c in zip(diff, cotangents(case, diff), strict=True)]
    return list(T.autograd.grad(diff, inputs, cts, allow_unused=True))


# PyTorch's heaviside, histogram and bincount (weights) have no derivative (their grad_fn
# raises, tested in ERRORS): values and names only
NO_GRAD = {"heaviside", "histogram", "histogramdd", "bincount"}
# PyTorch 2.13's own backward raises here ("modified by an inplace operation", vander writes
# its result in place): the gradient is checked against finite differences only
TORCH_BACKWARD_FAILS = {"vander"}
# PyTorch 2.13's AsStridedScatterBackward0 sends the gradient to the overwritten positions of
# self and zero to the kept ones (the reverse of slice_scatter's, and of finite differences):
# adjit's is checked against finite differences only
TORCH_GRAD_WRONG = {"as_strided_scatter"}


def _run(case: Case, T: Any, args: list) -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # range, chain_matmul, index_reduce warn (tested below)
        return outputs(case.fn(T, *args))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_eager_vs_torch(case: Case) -> None:
    arrays = case.arrays()
    a_args, t_args = make_args(case, adjit, arrays), make_args(case, torch, arrays)
    got, want = _run(case, adjit, a_args), _run(case, torch, t_args)
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        _same(g, w, f"output {k}")
        assert _name(g) == _name(w), f"output {k} grad_fn {_name(g)} != {_name(w)}"
        assert g.requires_grad == w.requires_grad
    if case.op in NO_GRAD | TORCH_BACKWARD_FAILS | TORCH_GRAD_WRONG:
        return
    for i, (g, w) in enumerate(
        zip(_grads(case, got, a_args, adjit), _grads(case, want, t_args, torch), strict=True)
    ):
        assert (g is None) == (w is None), f"input {i}"
        if w is not None:
            assert str(g.dtype) == str(w.dtype) and tuple(g.shape) == tuple(w.shape)
            np.testing.assert_allclose(_np(g), _np(w), rtol=RTOL, atol=ATOL, err_msg=f"input {i}")


# NaN results (compared with PyTorch above) and float32 outputs have no useful differences
NO_FD = {"fmax-nan", "fmin-nan", "nextafter-method"}
FD_CASES = [
    c
    for c in CASES
    if any(a.differentiable for a in c.args)
    and c.op not in NO_GRAD
    and c.name not in EAGER_ONLY | NO_FD
]


@pytest.mark.parametrize("case", FD_CASES, ids=lambda c: c.name)
def test_gradient_finite_differences(case: Case) -> None:
    arrays = case.arrays()
    args = make_args(case, adjit, arrays)
    outs = _run(case, adjit, args)
    keep = _live(outs)
    ws = cotangents(case, [outs[k] for k in keep])
    positions = [i for i, s in enumerate(case.args) if s.differentiable]
    grads = _grads(case, outs, args, adjit)

    def loss(a: list[np.ndarray]) -> float:
        with adjit.no_grad():
            res = _run(case, adjit, make_args(case, adjit, a))
        return float(sum((_np(res[k]) * w).sum() for k, w in zip(keep, ws, strict=True)))

    for i, g in zip(positions, grads or [None] * len(positions), strict=True):
        want = _numeric_grad(loss, arrays, i)
        got = np.zeros_like(want) if g is None else g.numpy()
        # central differences of smooth float64 functions: truncation ~1e-10 relative
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, err_msg=f"input {i}")


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
@pytest.mark.parametrize(
    "case", [c for c in CASES if c.name not in EAGER_ONLY], ids=lambda c: c.name
)
def test_compiled_equals_eager(case: Case, backend: str) -> None:
    eager_args, comp_args = make_args(case, adjit), make_args(case, adjit)
    fn = adjit.compile(lambda *a: case.fn(adjit, *a), backend=backend)
    if case.op in NO_GRAD and any(
        a.requires_grad for a in comp_args
    ):  # the adjoint is built at compile time: the missing derivative
        with pytest.raises(RuntimeError, match="derivative for aten::heaviside"):
            fn(*comp_args)
        eager_args, comp_args = [a.detach() for a in eager_args], [a.detach() for a in comp_args]
    if case.name in DATA_DEPENDENT:
        with pytest.raises(adjit.TracingError):
            fn(*comp_args)
        return
    expected = _run(case, adjit, eager_args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = outputs(fn(*comp_args))
    assert len(got) == len(expected)
    for k, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert g.dtype is e.dtype and g.shape == e.shape, f"output {k}"
        # compiled sums may reassociate and use fused multiply-adds: a few ulp
        np.testing.assert_allclose(_np(g), _np(e), rtol=RTOL, atol=ATOL, err_msg=f"output {k}")
    if case.op in NO_GRAD:
        return
    for i, (g, e) in enumerate(
        zip(
            _grads(case, got, comp_args, adjit),
            _grads(case, expected, eager_args, adjit),
            strict=True,
        )
    ):
        assert (g is None) == (e is None), f"input {i}"
        if e is not None:
            np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=RTOL, atol=ATOL)


# ---- errors: PyTorch's type and text -------------------------------------------------------
def _x(T: Any) -> Any:
    return T.arange(12.0).reshape(3, 4)


def _i(T: Any) -> Any:
    return T.tensor([4, -6, 0, 9])


ERRORS: list[tuple[str, Callable[[Any], Any]]] = [
    ("positive-bool", lambda T: T.positive(T.tensor([True]))),
    ("fmax-scalar", lambda T: T.fmax(_x(T), 2.5)),
    ("fmin-scalar", lambda T: T.fmin(_x(T), 1)),
    ("gcd-float", lambda T: T.gcd(_x(T), _x(T))),
    ("gcd-bool", lambda T: T.gcd(_i(T) > 0, _i(T) > 0)),
    ("gcd-scalar", lambda T: T.gcd(_i(T), 4)),
    ("lcm-float", lambda T: T.lcm(_i(T), _x(T))),
    ("heaviside-dtypes", lambda T: T.heaviside(_x(T), T.tensor([1]))),
    ("heaviside-scalar", lambda T: T.heaviside(_i(T), 7)),
    ("heaviside-backward", lambda T: T.heaviside(_x(T).requires_grad_(), _x(T)).sum().backward()),
    ("ldexp-scalar", lambda T: T.ldexp(_x(T), 3)),
    ("frexp-int", lambda T: T.frexp(_i(T))),
    ("nextafter-int", lambda T: T.nextafter(_i(T), _i(T))),
    ("diff-0d", lambda T: T.diff(T.tensor(1.0))),
    ("diff-order", lambda T: _x(T).diff(-1)),
    ("diff-prepend", lambda T: T.diff(_x(T), prepend=T.ones(4))),
    ("cov-3d", lambda T: T.cov(T.ones(2, 2, 2))),
    ("cov-fweights-float", lambda T: T.cov(_x(T), fweights=T.ones(4))),
    ("cov-fweights-negative", lambda T: T.cov(_x(T), fweights=T.tensor([1, -2, 1, 1]))),
    ("cov-fweights-2d", lambda T: T.cov(_x(T), fweights=T.ones(1, 4, dtype=T.int64))),
    ("cov-aweights-int", lambda T: T.cov(_x(T), aweights=T.tensor([1, 2, 1, 1]))),
    ("cov-aweights-numel", lambda T: T.cov(_x(T), aweights=T.ones(3))),
    ("cov-aweights-negative", lambda T: T.cov(_x(T), aweights=T.tensor([1.0, -2, 1, 1]))),
    ("corrcoef-3d", lambda T: T.corrcoef(T.ones(2, 2, 2))),
    ("trapezoid-x", lambda T: T.trapezoid(_x(T), T.ones(3))),
    ("trapezoid-x-dx", lambda T: T.trapezoid(_x(T), _x(T), dx=2)),
    ("inner-shapes", lambda T: T.inner(_x(T), T.ones(3))),
    ("chain_matmul-none", lambda T: T.chain_matmul()),
    ("chain_matmul-1d", lambda T: T.chain_matmul(T.ones(2))),
    ("block_diag-3d", lambda T: T.block_diag(T.ones(2, 2, 2))),
    ("cartesian_prod-2d", lambda T: T.cartesian_prod(_x(T))),
    ("cartesian_prod-dtypes", lambda T: T.cartesian_prod(_i(T), T.ones(2))),
    ("combinations-2d", lambda T: T.combinations(_x(T))),
    ("combinations-negative", lambda T: T.combinations(_i(T), -1)),
    ("vander-2d", lambda T: T.vander(_x(T))),
    ("vander-N", lambda T: T.vander(_i(T), N=-1)),
    ("renorm-int", lambda T: T.renorm(_i(T)[None], 1, 0, 5)),
    ("renorm-p", lambda T: T.renorm(_x(T), -1, 0, 5)),
    ("renorm-maxnorm", lambda T: T.renorm(_x(T), 1, 0, -5)),
    ("renorm-1d", lambda T: T.renorm(T.ones(3), 1, 0, 5)),
    ("unravel_index-float", lambda T: T.unravel_index(T.tensor(1.0), (3, 4))),
    ("unravel_index-shape", lambda T: T.unravel_index(T.tensor(1), (3, -4))),
    ("isin-scalars", lambda T: T.isin(1, 2)),
    ("hsplit-0d", lambda T: T.hsplit(T.tensor(1.0), 1)),
    ("hsplit-divisible", lambda T: T.hsplit(_x(T), 3)),
    ("hsplit-zero", lambda T: T.hsplit(_x(T), 0)),
    ("vsplit-1d", lambda T: T.vsplit(T.ones(4), 2)),
    ("dsplit-2d", lambda T: T.dsplit(_x(T), 2)),
    ("diagonal_scatter-size", lambda T: T.diagonal_scatter(_x(T), T.ones(2))),
    ("diagonal_scatter-dims", lambda T: T.diagonal_scatter(_x(T), T.ones(3), 0, 1, 1)),
    ("select_scatter-size", lambda T: T.select_scatter(_x(T), T.ones(3), 0, 1)),
    ("select_scatter-index", lambda T: T.select_scatter(_x(T), T.ones(4), 0, 5)),
    ("slice_scatter-size", lambda T: T.slice_scatter(_x(T), T.ones(3, 3), 1, 0, 4, 2)),
    ("as_strided-bounds", lambda T: T.as_strided(_x(T), (2, 2), (3, 9), 1)),
    ("as_strided-negative", lambda T: T.as_strided(_x(T), (2, 2), (-1, 3))),
    ("as_strided-length", lambda T: T.as_strided(_x(T), (2, 2), (1,))),
    ("as_strided_scatter-src", lambda T: T.as_strided_scatter(_x(T), T.ones(3), (2, 2), (1, 2))),
    ("as_strided_scatter-bounds", lambda T: T.as_strided_scatter(_x(T), T.ones(2), (2,), (20,))),
    ("histc-int", lambda T: T.histc(_i(T), 4)),
    ("histc-bins", lambda T: T.histc(_x(T), 0)),
    ("histc-min-max", lambda T: T.histc(_x(T), 4, 3, 1)),
    ("histc-nan", lambda T: T.histc(T.tensor([float("nan"), 1.0]), 4)),
    ("histc-inf", lambda T: T.histc(T.tensor([float("inf"), 1.0]), 4)),
    ("histogram-int", lambda T: T.histogram(_i(T), 3)),
    ("histogram-nan", lambda T: T.histogram(T.tensor([float("nan"), 1.0]), 2)),
    ("histogram-range", lambda T: T.histogram(_x(T), 2, range=(3.0, 1.0))),
    ("histogram-dtypes", lambda T: T.histogram(_x(T), T.tensor([0.0, 1], dtype=T.float64))),
    ("histogram-weight", lambda T: T.histogram(_x(T), 2, weight=T.ones(3))),
    ("histogram-bins", lambda T: T.histogram(_x(T), 0)),
    ("histogram-backward", lambda T: T.histogram(_x(T).requires_grad_(), 2)[0].sum().backward()),
    ("histogramdd-1d", lambda T: T.histogramdd(T.ones(3), 2)),
    ("histogramdd-int", lambda T: T.histogramdd(_i(T), 2)),
    ("histogramdd-int-2d", lambda T: T.histogramdd(_i(T).reshape(2, 2), 2)),
    ("histogramdd-bins", lambda T: T.histogramdd(_x(T), [2, 3])),
    ("histogramdd-bins-zero", lambda T: T.histogramdd(_x(T), [2, 3, 0, 1])),
    ("histogramdd-edges", lambda T: T.histogramdd(_x(T), [T.tensor([0.0, 1])])),
    ("histogramdd-range", lambda T: T.histogramdd(_x(T), 2, range=[0.0, 1.0])),
    ("histogramdd-min-max", lambda T: T.histogramdd(_x(T), 2, range=[0.0, 1] * 3 + [1, 0])),
    ("histogramdd-weight", lambda T: T.histogramdd(_x(T), 2, weight=T.ones(4))),
    (
        "histogramdd-backward",
        lambda T: T.histogramdd(_x(T).requires_grad_(), 2)[0].sum().backward(),
    ),
    (
        "histogramdd-edges-backward",
        lambda T: T.histogramdd(_x(T).requires_grad_(), 2)[1][0].sum().backward(),
    ),
    ("bincount-negative", lambda T: T.bincount(_i(T))),
    ("bincount-float", lambda T: T.bincount(T.tensor([1.0]))),
    ("bincount-bool", lambda T: T.bincount(T.tensor([True]))),
    ("bincount-2d", lambda T: T.bincount(T.tensor([[1, 3]]))),
    ("bincount-weights", lambda T: T.bincount(T.tensor([1, 3]), T.ones(3))),
    ("bincount-minlength", lambda T: T.bincount(T.tensor([1, 3]), minlength=-1)),
    (
        "bincount-backward",
        lambda T: T.bincount(T.tensor([1, 3]), T.ones(2).requires_grad_()).sum().backward(),
    ),
    ("index_reduce-sum", lambda T: _x(T).index_reduce(0, T.tensor([0]), T.ones(1, 4), "sum")),
    ("index_reduce-range", lambda T: _x(T).index_reduce(0, T.tensor([3]), T.ones(1, 4), "prod")),
    (
        "index_reduce-dtype",
        lambda T: _x(T).index_reduce(0, _i(T)[:1], T.ones(1, 4).double(), "prod"),
    ),
    ("index_reduce-index", lambda T: _x(T).index_reduce(0, T.tensor([0.0]), T.ones(1, 4), "mean")),
    ("index_reduce-count", lambda T: _x(T).index_reduce(0, T.tensor([0, 1]), T.ones(1, 4), "amax")),
    ("index_reduce-shape", lambda T: _x(T).index_reduce(0, T.tensor([0]), T.ones(1, 3), "amin")),
    ("gradient-edge_order", lambda T: T.gradient(_x(T), edge_order=3)),
    ("gradient-size", lambda T: T.gradient(T.ones(2), edge_order=2)),
    ("gradient-spacing", lambda T: T.gradient(_x(T), spacing=[1.0, 2, 3])),
    ("gradient-spacing-dim", lambda T: T.gradient(_x(T), spacing=[1.0, 2], dim=1)),
    ("gradient-dims", lambda T: T.gradient(_x(T), dim=(0, 0))),
    ("gradient-dim-range", lambda T: T.gradient(_x(T), dim=2)),
    ("cov-bool", lambda T: T.cov(_i(T) > 0)),
    ("corrcoef-bool", lambda T: T.corrcoef(_i(T) > 0)),
    ("trapezoid-bool", lambda T: T.trapezoid(_i(T) > 0)),
    ("trapz-bool", lambda T: T.trapz(_i(T) > 0, dx=2.0)),
    ("cumulative_trapezoid-bool", lambda T: T.cumulative_trapezoid(_i(T) > 0)),
    ("isin-bool", lambda T: T.isin(_i(T), _i(T) > 0)),
    ("isin-bool-scalar", lambda T: T.isin(True, _i(T))),
    ("range-no-end", lambda T: T.range(5)),
    ("range-step", lambda T: T.range(0, 1, 0)),
    ("range-sign", lambda T: T.range(0, 1, -1)),
]


def _error(fn: Callable[[Any], Any], T: Any) -> BaseException:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as info:  # noqa: PT011 - the type is compared with torch's
            fn(T)
    return info.value


@pytest.mark.parametrize(("name", "fn"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_as_torch(name: str, fn: Callable[[Any], Any]) -> None:
    got, want = _error(fn, adjit), _error(fn, torch)
    assert isinstance(got, type(want)), f"{type(got)}: {got} vs {type(want)}: {want}"
    assert type(got).__name__ == type(want).__name__ and str(got) == str(want)


# ---- elementwise values over the range (float32, float16, bfloat16, float64) ----------------
def _sweep(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, 2.0, 0.5, -4.0, 1e-40, 1e-45, 5e-324]
    specials += [1e308, 1.7976931348623157e308, 3e38, 65504.0, 6e-8]
    mags = rng.standard_normal(400) * 10.0 ** rng.integers(-40, 40, 400)
    return np.concatenate([specials, mags, rng.standard_normal(200)])


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
@pytest.mark.parametrize("name", ["frexp", "nextafter", "fmax", "fmin", "deg2rad", "rad2deg"])
def test_elementwise_bitwise_equal(name: str, dtype: str) -> None:
    with np.errstate(over="ignore"):
        xs, ys = _sweep(0), np.roll(_sweep(1), 3)
    t = [torch.tensor(v).to(getattr(torch, dtype)) for v in (xs, ys)]
    a = [adjit.tensor(v).to(getattr(adjit, dtype)) for v in (xs, ys)]
    unary = name in ("frexp", "deg2rad", "rad2deg")
    # (the llvm backend compiles no float16/bfloat16 yet: the interpreter runs those)
    backend = "llvm" if dtype in ("float64", "float32") else "interpreter"
    for fn in (getattr(adjit, name), adjit.compile(getattr(adjit, name), backend=backend)):
        got = outputs(fn(a[0]) if unary else fn(*a))
        want = outputs(getattr(torch, name)(t[0]) if unary else getattr(torch, name)(*t))
        for g, w in zip(got, want, strict=True):
            gf, wf = g.float().numpy(), w.float().numpy()
            assert str(g.dtype) == str(w.dtype)
            same = (gf == wf) & (np.signbit(gf) == np.signbit(wf)) | (np.isnan(gf) & np.isnan(wf))
            assert same.all(), f"{xs[~same][:4]} {ys[~same][:4]}: {gf[~same][:4]} {wf[~same][:4]}"


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "int8", "uint8"])
@pytest.mark.parametrize("name", ["gcd", "lcm"])
def test_gcd_lcm_exact(name: str, dtype: str) -> None:
    rng = np.random.default_rng(2)
    hi = 100 if dtype in ("int8", "uint8") else 1000
    a, b = rng.integers(-hi, hi, (2, 300))
    a[:10], b[5:15] = 0, 0  # gcd(0, b) = |b|, gcd(0, 0) = 0
    want = getattr(torch, name)(*(torch.tensor(v).to(getattr(torch, dtype)) for v in (a, b)))
    a_args = [adjit.tensor(v).to(getattr(adjit, dtype)) for v in (a, b)]
    for fn in (getattr(adjit, name), adjit.compile(getattr(adjit, name))):
        got = fn(*a_args)
        assert str(got.dtype) == str(want.dtype)
        np.testing.assert_array_equal(got.numpy(), want.numpy())  # lcm overflow wraps as C++


# ---- windows ------------------------------------------------------------------------------
WINDOWS = ["hann_window", "hamming_window", "bartlett_window", "blackman_window", "kaiser_window"]
_EPS = {"float64": 2.0**-52, "float32": 2.0**-23, "float16": 2.0**-10, "bfloat16": 2.0**-7}


@pytest.mark.parametrize("dtype", list(_EPS))
@pytest.mark.parametrize("name", WINDOWS)
def test_windows_as_torch(name: str, dtype: str) -> None:
    # Note [window arithmetic]: PyTorch's op sequence, rounded per op: float16/bfloat16 equal
    # bit for bit; float32/64 within an ulp (NumPy's cos against PyTorch's vectorized one); the
    # Kaiser window within 16 (PyTorch's i0 is a Chebyshev series, NumPy's is within 2 ulp)
    bound = 16 if name == "kaiser_window" else 1 if dtype in ("float32", "float64") else 0
    for length in [*range(12), 31, 100, 257, 1024]:
        for periodic in (True, False):
            got = getattr(adjit, name)(length, periodic, dtype=getattr(adjit, dtype))
            want = getattr(torch, name)(length, periodic, dtype=getattr(torch, dtype))
            assert str(got.dtype) == str(want.dtype) and tuple(got.shape) == tuple(want.shape)
            diff = np.abs(got.double().numpy() - want.double().numpy()) / _EPS[dtype]
            assert diff.max(initial=0) <= bound, (length, periodic, diff.max())


def test_windows_errors_and_requires_grad() -> None:
    for name in WINDOWS:
        for bad in (
            lambda T, n=name: getattr(T, n)(4, dtype=T.int64),
            lambda T, n=name: getattr(T, n)(-1),
            lambda T, n=name: getattr(T, n)(5.0),
        ):
            got, want = _error(bad, adjit), _error(bad, torch)
            assert type(got) is type(want) and str(got) == str(want)
        w = getattr(adjit, name)(3, requires_grad=True)
        assert w.requires_grad and w.is_leaf and w.dtype is adjit.float32


# ---- in-place forms, range's warning, asarray's sharing -----------------------------------
INPLACE: list[tuple[str, Callable[[Any], Any]]] = [
    ("deg2rad_", lambda T: T.tensor([1.0, 90]).deg2rad_()),
    ("rad2deg_", lambda T: T.tensor([1.0, 3]).rad2deg_()),
    ("gcd_", lambda T: T.tensor([4, 6]).gcd_(T.tensor([6, 9]))),
    ("lcm_", lambda T: T.tensor([4, 6]).lcm_(T.tensor([6, 9]))),
    ("fix_", lambda T: T.tensor([1.5, -1.5]).fix_()),
    ("ldexp_", lambda T: T.tensor([1.5, -1.5]).ldexp_(T.tensor([2, -1]))),
    (
        "index_reduce_",
        lambda T: T.ones(3).index_reduce_(0, T.tensor([2, 2]), T.ones(2) * 3, "prod"),
    ),
    ("heaviside_", lambda T: T.tensor([1.5, 0]).heaviside_(T.tensor([3.0]))),
    ("nextafter_", lambda T: T.tensor([1.5, 0]).nextafter_(T.tensor([3.0]))),
]


@pytest.mark.parametrize(("name", "fn"), INPLACE, ids=[e[0] for e in INPLACE])
def test_inplace_as_torch(name: str, fn: Callable[[Any], Any]) -> None:
    got, want = fn(adjit), fn(torch)
    assert str(got.dtype) == str(want.dtype)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_range_warns_and_includes_the_end() -> None:
    for args, kw in [
        ((1, 4), {}),
        ((0, 1, 0.1), {}),
        ((3, 1, -1), {}),
        ((1, 4), {"dtype": "int64"}),
    ]:
        results = []
        for T in (adjit, torch):
            kwargs = {k: getattr(T, v) for k, v in kw.items()}
            with pytest.warns(UserWarning, match="torch.range is deprecated"):
                results.append(T.range(*args, **kwargs))
        _same(*results, f"range{args}")


def test_cov_warns_without_degrees_of_freedom() -> None:
    for T in (adjit, torch):
        with pytest.warns(UserWarning, match=r"cov\(\): degrees of freedom is <= 0"):
            c = T.cov(T.tensor([[1.0, 2.0]]), correction=5)
        assert c.item() == float("inf")


def test_cov_checks_weights_compiled() -> None:
    f = adjit.compile(lambda x, w: adjit.cov(x, fweights=w))
    x = adjit.arange(12.0).reshape(3, 4)
    want = torch.cov(torch.arange(12.0).reshape(3, 4), fweights=torch.tensor([1, 2, 0, 1]))
    np.testing.assert_allclose(f(x, adjit.tensor([1, 2, 0, 1])).numpy(), want.numpy(), rtol=1e-6)
    with pytest.raises(RuntimeError, match="fweights cannot be negative"):
        f(x, adjit.tensor([1, -2, 0, 1]))


def test_chain_matmul_warns() -> None:
    with pytest.warns(UserWarning, match="torch.chain_matmul is deprecated"):
        adjit.chain_matmul(adjit.ones(2, 2), adjit.ones(2, 2))


def test_renorm_in_place() -> None:
    got, want = adjit.arange(12.0).reshape(3, 4), torch.arange(12.0).reshape(3, 4)
    assert got.renorm_(2, 0, 5.0) is got
    want.renorm_(2, 0, 5.0)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_empty_strided_has_the_strides() -> None:
    for size, stride in [((2, 3), (1, 2)), ((2, 3, 4), (12, 1, 3)), ((0, 2), (2, 1))]:
        got, want = adjit.empty_strided(size, stride), torch.empty_strided(size, stride)
        assert got.stride() == want.stride() and tuple(got.shape) == tuple(want.shape)
        assert str(got.dtype) == str(want.dtype)


@pytest.mark.parametrize(
    "fn",
    [
        lambda T: T.as_strided(T.arange(12.0).reshape(3, 4)[1:], (2, 2), (1, 2)),
        lambda T: T.arange(12.0).reshape(3, 4)[1:].as_strided((2, 2), (1, 2), 5),
        lambda T: T.as_strided(T.arange(12.0).reshape(3, 4).t().contiguous(), (2, 2), (1, 2)),
        lambda T: T.arange(12.0)[2:].as_strided((2, 2), (5, 5)),  # beyond the storage
    ],
)
def test_as_strided_of_views_as_torch(fn: Callable[[Any], Any]) -> None:
    got, want = outcome_of(fn, adjit), outcome_of(fn, torch)
    if isinstance(want, BaseException):
        assert type(got) is type(want) and str(got) == str(want)
    else:
        _same(got, want, "as_strided")


@pytest.mark.parametrize(
    "fn",
    [
        lambda T: T.as_strided(T.arange(12.0).reshape(3, 4)[1:], (2, 2), (1, 2), 0),
        lambda T: T.as_strided(T.arange(12.0)[:3], (2, 2), (1, 2)),
        lambda T: T.as_strided(T.arange(12.0).reshape(3, 4).t(), (2, 2), (1, 2)),
    ],
)
def test_as_strided_refuses_memory_it_does_not_hold(fn: Callable[[Any], Any]) -> None:
    # PyTorch reads the viewed storage there; adjit refuses rather than read other values
    fn(torch)
    with pytest.raises(NotImplementedError, match="as_strided"):
        fn(adjit)


def outcome_of(fn: Callable[[Any], Any], T: Any) -> Any:
    try:
        return fn(T)
    except Exception as e:  # noqa: BLE001 - compared with PyTorch's
        return e


def test_as_strided_is_a_copy() -> None:
    # Note [scatter into a view by positions]: adjit's result does not share the input's memory
    x = adjit.zeros(6)
    y = x.as_strided((2, 2), (1, 2))
    y += 1
    assert x.sum().item() == 0.0


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: adjit.histc(x, 4),
        lambda x: adjit.histogram(x, 4),
        lambda x: adjit.bincount((x > 0).long()),
        lambda x: adjit.histogramdd(x.reshape(5, 1), 4),
    ],
    ids=["histc", "histogram", "bincount", "histogramdd"],
)
def test_histograms_refuse_tracing(fn: Callable[[Any], Any]) -> None:
    x = adjit.tensor([0.5, -1.0, 2.0, 0.25, 1.0])
    with pytest.raises(adjit.TracingError, match="depends on the input's values"):
        adjit.compile(fn, fullgraph=True)(x)
    got, want = adjit.compile(fn)(x), fn(x)  # by default a graph break before the read
    assert _lists(got) == _lists(want)


def _lists(r: Any) -> list[Any]:
    return [v for t in r for v in _lists(t)] if isinstance(r, tuple) else [r.tolist()]


def test_histograms_bin_as_torch() -> None:
    # Note [histogram bins as PyTorch]: elements near edges land where PyTorch's float32 and
    # float64 arithmetic puts them, over many scales and bin counts
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        for _ in range(40):
            v = (rng.standard_normal(300) * 10.0 ** rng.integers(-3, 4)).astype(dtype)
            bins = int(rng.integers(1, 60))
            for call in (
                lambda T, t, b=bins: T.histc(t, b),
                lambda T, t, b=bins: T.histc(t, b, -0.3, 0.7),
                lambda T, t, b=bins: T.histogram(t, b),
                lambda T, t, b=bins: T.histogram(t, b, range=(-0.3, 0.7)),
            ):
                got = outputs(call(adjit, adjit.from_numpy(v.copy())))
                want = outputs(call(torch, torch.from_numpy(v.copy())))
                for g, w in zip(got, want, strict=True):
                    np.testing.assert_array_equal(g.numpy(), w.numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32"])
def test_isin_large_sorts_as_torch(dtype: str) -> None:
    # beyond 2**16 pairs the test elements are sorted and searched (NaN never matches, an inf
    # among NaNs does), eager and compiled
    rng = np.random.default_rng(5)
    a = rng.integers(-500, 500, (300, 400)).astype(dtype)
    b = rng.integers(-500, 500, 700).astype(dtype)
    if dtype.startswith("float"):
        a[0, :5], a[1, :3], a[2, :3], a[3, :2] = np.nan, np.inf, -np.inf, -0.0
        b[:3], b[5], b[6] = np.nan, np.inf, 0.0
    want = torch.isin(torch.from_numpy(a), torch.from_numpy(b), invert=True).numpy()
    fn = lambda x, y: adjit.isin(x, y, invert=True)  # noqa: E731
    for f in (fn, adjit.compile(fn)):
        got = f(adjit.from_numpy(a), adjit.from_numpy(b))
        np.testing.assert_array_equal(got.numpy(), want)


def test_asarray_shares_memory() -> None:
    x = adjit.ones(3)
    assert adjit.asarray(x) is x and adjit.asarray(x, copy=True) is not x
    arr = np.arange(3.0)
    adjit.asarray(arr)[0] = 5.0
    assert arr[0] == 5.0
    assert adjit.asarray([1, 2], dtype=adjit.float64).dtype is adjit.float64
