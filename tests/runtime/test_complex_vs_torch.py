"""complex64/complex128 side by side with PyTorch: the promotion table, creation, printing,
arithmetic and the complex functions (values within a few ulp: PyTorch's vectorized complex
kernels round differently from NumPy's), real/imag views, PyTorch's errors for ordering ops,
and adjit's clear refusals (compiled code, ops without a complex rule; autograd:
test_complex_autograd_vs_torch.py)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from adjit.ir import dtypes as D

import adjit

torch = pytest.importorskip("torch")

REAL = [d.name for d in D.ALL if d.name != "float16"]  # float16 + complex is complex32
COMPLEX = ["complex64", "complex128"]


def _both(make: Callable[[Any], Any]) -> tuple[Any, Any]:
    return make(adjit), make(torch)


def _close(got: Any, want: Any, ulps: int = 4) -> None:
    """Same dtype and shape; every part within ``ulps`` of the largest magnitude's epsilon."""
    assert str(got.dtype) == str(want.dtype)
    assert tuple(got.shape) == tuple(want.shape)
    g, w = np.asarray(got.numpy()), want.numpy()
    eps = np.finfo(w.real.dtype).eps
    scale = np.maximum(np.abs(w), 1e-30)
    err = np.abs(g.astype(np.complex128) - w.astype(np.complex128))
    assert (err <= ulps * eps * scale).all(), (g, w)


@pytest.mark.parametrize(("a", "b"), list(itertools.product(REAL + COMPLEX + ["float16"], COMPLEX)))
def test_promote_types_table(a: str, b: str) -> None:
    if a == "float16":  # float16 with complex is complex32, a dtype adjit refuses by name
        got = adjit.promote_types(getattr(adjit, a), getattr(adjit, b))
        assert str(got) == str(torch.promote_types(getattr(torch, a), getattr(torch, b)))
        return
    for x, y in ((a, b), (b, a)):
        got = adjit.promote_types(getattr(adjit, x), getattr(adjit, y))
        assert str(got) == str(torch.promote_types(getattr(torch, x), getattr(torch, y)))


@pytest.mark.parametrize("name", REAL + COMPLEX)
@pytest.mark.parametrize(
    "other",
    ["scalar", "c64_0d", "c128_0d"],
)
def test_result_type_with_complex_scalars(name: str, other: str) -> None:
    def run(m: Any) -> Any:
        x = m.ones(2, dtype=getattr(m, name))
        y = {
            "scalar": 1 + 2j,
            "c64_0d": m.tensor(1 + 2j, dtype=m.complex64),
            "c128_0d": m.tensor(1 + 2j, dtype=m.complex128),
        }[other]
        return x + y, y * x

    got, want = _both(run)
    for g, w in zip(got, want, strict=True):
        _close(g, w)


def test_float16_with_a_complex_scalar_is_complex32_refused() -> None:
    assert str((torch.ones(2, dtype=torch.float16) + 1j).dtype) == "torch.complex32"
    with pytest.raises(TypeError, match="torch.complex32"):
        adjit.ones(2, dtype=adjit.float16) + 1j
    got, want = _both(lambda m: m.ones(2, dtype=m.float16) + m.tensor([1j]))
    _close(got, want)


def test_default_complex_follows_default_float() -> None:
    for m in (adjit, torch):
        assert str(m.tensor([1 + 2j]).dtype) == "torch.complex64"
    try:
        for m in (adjit, torch):
            m.set_default_dtype(m.float64)
        assert str(adjit.tensor(1j).dtype) == str(torch.tensor(1j).dtype) == "torch.complex128"
        assert str((adjit.ones(2, dtype=adjit.int64) * 1j).dtype) == "torch.complex128"
    finally:
        for m in (adjit, torch):
            m.set_default_dtype(m.float32)


VALUES = [
    [1 + 2j, 3 - 1j],
    [0.5 - 0.25j, -2 + 0j, 1e-5 + 1e5j],
    [[1 + 1j, 0j], [-0.0 - 3j, 2.5 + 0.5j]],
    [1e10 + 1j, 123.456 - 7.5j],
    [float("inf") + 1j, float("nan") + 0j, 1 - float("inf") * 1j],
    1 + 2j,
    [],
]


@pytest.mark.parametrize("values", VALUES, ids=range(len(VALUES)))
@pytest.mark.parametrize("dtype", [None, *COMPLEX])
def test_printing(values: Any, dtype: str | None) -> None:
    got, want = _both(
        lambda m: (
            repr(m.tensor(values, dtype=dtype and getattr(m, dtype)))
            if values != []
            else repr(m.tensor(values, dtype=getattr(m, dtype or "complex64")))
        )
    )
    assert got == want


def _rand(shape: tuple[int, ...], dtype: str, seed: int) -> np.ndarray:
    r = np.random.default_rng(seed)
    return (r.standard_normal(shape) + 1j * r.standard_normal(shape)).astype(dtype)


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "scalar_mul": lambda a, b: a * (2.5 - 1j),
    "scalar_rdiv": lambda a, b: 3 / a,
    "real_add": lambda a, b: a + b.real.abs(),
}
UNARY = {
    "neg": lambda m, a: -a,
    "abs": lambda m, a: a.abs(),
    "angle": lambda m, a: m.angle(a),
    "real": lambda m, a: a.real,
    "imag": lambda m, a: a.imag,
    "conj": lambda m, a: a.conj(),
    "conj_physical": lambda m, a: m.conj_physical(a),
    "resolve_conj": lambda m, a: a.conj().resolve_conj(),
    "sum": lambda m, a: a.sum(),
    "sum_dim": lambda m, a: a.sum(1),
    "mean": lambda m, a: a.mean(0),
    "exp": lambda m, a: a.exp(),
    "log": lambda m, a: a.log(),
    "sqrt": lambda m, a: a.sqrt(),
    "sin": lambda m, a: a.sin(),
    "cos": lambda m, a: m.cos(a),
    "tanh": lambda m, a: a.tanh(),
    "log1p": lambda m, a: a.log1p(),
    "pow2": lambda m, a: a**2,
    "pow3": lambda m, a: a**3,
    "pow_half": lambda m, a: a**0.5,
    "pow_minus1": lambda m, a: a**-1,
    "pow_2_5": lambda m, a: a**2.5,
    "pow_complex": lambda m, a: a ** (0.5 - 1j),
    "pow_self": lambda m, a: a**a,
    "rpow": lambda m, a: 2**a,
    "real_pow_complex": lambda m, a: m.tensor([1.5, 2.0, 0.5, 3.0]) ** a,
    "square": lambda m, a: a.square(),
    "reciprocal": lambda m, a: a.reciprocal(),
    "rsqrt": lambda m, a: a.rsqrt(),
    "view_as_real": lambda m, a: m.view_as_real(a),
    "to_c128": lambda m, a: a.to(m.complex128),
    "cfloat": lambda m, a: a.cfloat(),
    "cdouble": lambda m, a: a.cdouble(),
    "bool": lambda m, a: (a * 0).bool(),
    "index": lambda m, a: a[1:, ::2].T.reshape(-1),
    "where": lambda m, a: m.where(a.real > 0, a, 0),
    "cat": lambda m, a: m.cat([a, a.conj()]),
    "var": lambda m, a: a.var(),
    "var_dim": lambda m, a: m.var(a, 1, correction=0, keepdim=True),
    "var_unbiased_overload": lambda m, a: m.var(a, False),
    "std": lambda m, a: a.std(0),
    "var_mean_var": lambda m, a: m.var_mean(a, 1)[0],
    "var_mean_mean": lambda m, a: m.var_mean(a, 1)[1],
    "std_mean_std": lambda m, a: m.std_mean(a)[0],
    "vecdot": lambda m, a: m.linalg.vecdot(a, a.roll(1, 0) * (1 - 2j)),
    "vecdot_dim": lambda m, a: m.linalg.vecdot(a, a.roll(1, 1), dim=0),
    "vector_norm": lambda m, a: m.linalg.vector_norm(a),
    "vector_norm_1_dim": lambda m, a: m.linalg.vector_norm(a, 1, 1),
    "vector_norm_inf": lambda m, a: m.linalg.vector_norm(a, float("inf"), 0, keepdim=True),
    "vector_norm_0": lambda m, a: m.linalg.vector_norm(a * (m.arange(4) > 1), 0),
    "vector_norm_3": lambda m, a: m.linalg.vector_norm(a, 3, (0, 1)),
    "norm": lambda m, a: a.norm(),
    "norm_p1_dim": lambda m, a: m.norm(a, 1, 0),
    "linalg_norm": lambda m, a: m.linalg.norm(a),
    "sgn": lambda m, a: m.sgn(a * (m.arange(4) > 0)),
    "sgn_method": lambda m, a: a.sgn(),
    "mH": lambda m, a: a.mH,
    "H": lambda m, a: a.H,
    "adjoint": lambda m, a: a.adjoint(),
    "conj_physical_": lambda m, a: a.clone().conj_physical_(),
    "isnan": lambda m, a: (a * m.tensor([float("nan"), 1, 0, 1])).isnan(),
    "isinf": lambda m, a: (a * m.tensor([float("inf"), 1, 0, 1])).isinf(),
    "isfinite": lambda m, a: (a * m.tensor([float("inf"), float("nan"), 0, 1])).isfinite(),
    "nan_to_num": lambda m, a: (a * m.tensor([float("inf"), float("nan"), 0, 1])).nan_to_num(),
    "nan_to_num_args": lambda m, a: m.nan_to_num(
        a * m.tensor([float("inf"), float("nan"), -float("inf"), 1]), 1.5, 2.0, -3.0
    ),
    "isclose_nan": lambda m, a: m.isclose(
        a * m.tensor([float("nan"), 1, 0, 1]), a * m.tensor([float("nan"), 1.0001, 0, 1])
    ),
    "isclose_equal_nan": lambda m, a: m.isclose(
        a * m.tensor([float("nan"), 1, 0, 1]),
        a * m.tensor([float("nan"), 1, 0, 1.0001]),
        equal_nan=True,
    ),
}


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary(name: str, dtype: str) -> None:
    a, b = _rand((3, 4), dtype, 0), _rand((3, 4), dtype, 1)
    a[0, 0] = b[0, 0]
    got, want = _both(lambda m: BINARY[name](m.tensor(a), m.tensor(b)))
    if got.dtype == adjit.bool:
        assert got.tolist() == want.tolist()
    else:
        _close(got, want)


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("name", list(UNARY))
def test_unary(name: str, dtype: str) -> None:
    a = _rand((3, 4), dtype, 2)
    got, want = _both(lambda m: UNARY[name](m, m.tensor(a)))
    if got.dtype == adjit.bool:
        assert got.tolist() == want.tolist()
    else:
        _close(got.detach(), want.detach().resolve_conj())


INF, NAN = float("inf"), float("nan")
SPECIAL = [
    complex(a, b)
    for a in (0.0, -0.0, 1.5, -2.0, INF, -INF, NAN)
    for b in (0.0, -0.0, 3.0, INF, -INF, NAN)
]


def _same_bits(got: Any, want: Any, zero_sign: bool = True) -> None:
    """Equal dtype and parts, signed zeros (unless not ``zero_sign``) and NaN positions."""
    assert str(got.dtype) == str(want.dtype)
    g = np.asarray(got.numpy()).astype(np.complex128)
    w = want.numpy().astype(np.complex128)
    for gp, wp in ((g.real, w.real), (g.imag, w.imag)):
        signs = (np.signbit(gp) == np.signbit(wp)) | (not zero_sign)
        same = ((gp == wp) & signs) | (np.isnan(gp) & np.isnan(wp))
        assert same.all(), (g[~same], w[~same])


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("name", ["add", "sub", "mul", "neg", "add_scalar", "sub_real"])
def test_special_values_bitwise(name: str, dtype: str) -> None:
    """inf, NaN and signed zeros: PyTorch adds as x + 1 * y (a complex multiply), so an infinite
    part of y makes the other part NaN; bit for bit."""
    x = np.array(SPECIAL, dtype)
    pairs = np.array(list(itertools.product(x, x))).T
    fns = {
        "add": lambda m, a, b: a + b,
        "sub": lambda m, a, b: a - b,
        "mul": lambda m, a, b: a * b,
        "neg": lambda m, a, b: -a,
        "add_scalar": lambda m, a, b: a + (1 - 2j),
        "sub_real": lambda m, a, b: a - b.real,
    }
    got, want = _both(lambda m: fns[name](m, m.tensor(pairs[0]), m.tensor(pairs[1])))
    # PyTorch negates as 0 - z in its vector loop and as -z in the scalar tail: the sign of a
    # zero result depends on the element's position there (adjit: -z everywhere)
    _same_bits(got, want, zero_sign=name != "neg")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_complex_polar_view_as_complex(dtype: str) -> None:
    r = np.random.default_rng(3)
    x, y = r.standard_normal((2, 3)).astype(dtype), r.standard_normal((3,)).astype(dtype)
    _close(*_both(lambda m: m.complex(m.tensor(x), m.tensor(y))))
    _close(*_both(lambda m: m.polar(m.tensor(x).abs(), m.tensor(y))))
    _close(*_both(lambda m: m.view_as_complex(m.tensor(np.stack([x, x + 1], -1)))))


def test_real_imag_are_views() -> None:
    def run(m: Any) -> Any:
        z = m.tensor([1 + 2j, 3 - 1j, 0.5j])
        z.imag[0] = 7
        z.real.mul_(2)
        m.view_as_real(z)[2, 0] = -4
        c = m.view_as_complex(m.zeros(2, 2))
        c += 1j
        return z, c

    (gz, gc), (wz, wc) = _both(run)
    assert gz.tolist() == wz.tolist() and gc.tolist() == wc.tolist()


def test_python_scalars() -> None:
    for make in (
        lambda m: float(m.tensor(2.5 + 0j)),
        lambda m: int(m.tensor(-2.7 + 0j)),
        lambda m: complex(m.tensor(3)),
        lambda m: complex(m.tensor(1 - 2j)),
        lambda m: m.tensor([1 + 2j, 0j]).tolist(),
        lambda m: m.tensor(1 + 2j, dtype=m.complex128).item(),
        lambda m: bool(m.tensor(0j)),
    ):
        got, want = _both(make)
        assert got == want and type(got) is type(want)


FILLS = {
    "fill_float_into_complex": lambda m: m.tensor([1j, 2]).fill_(2.5),
    "fill_int_into_complex": lambda m: m.tensor([1j, 2]).fill_(3),
    "fill_real_complex_into_float": lambda m: m.zeros(2).fill_(2 + 0j),
    "fill_complex_into_bool": lambda m: m.zeros(2, dtype=m.bool).fill_(1j),
    "full_real_complex_into_int": lambda m: m.full((2,), 3 + 0j, dtype=m.int64),
    "full_complex": lambda m: m.full((2,), 1 - 1j),
    "setitem_into_complex": lambda m: _set(m.tensor([1j, 2, 3]), 1, 2.5),
    "setitem_complex": lambda m: _set(m.tensor([1j, 2, 3]), m.tensor([True, False, True]), 4j),
    "setitem_real_complex_into_float": lambda m: _set(m.zeros(2), 0, 2 + 0j),
    "zeros_like": lambda m: m.zeros_like(m.tensor([1j]), dtype=m.complex128),
    "ones_complex": lambda m: m.ones(2, dtype=m.complex64),
    "tensor_mixed_list": lambda m: m.tensor([[1, 2j], [3.5, True]]),
    "tensor_real_as_complex": lambda m: m.tensor([1.5, 2], dtype=m.complex128),
    "full_like_real_complex": lambda m: m.full_like(m.zeros(2), 2 + 0j),
    "full_like_complex": lambda m: m.full_like(m.zeros(2, dtype=m.complex128), 1 - 2j),
    "legacy_constructor_complex_tensor": lambda m: m.Tensor(m.tensor([1 + 2j, 3j])),
    "scatter_complex": lambda m: m.tensor([0j, 1]).scatter(0, m.tensor([1]), 1j),
}


def _set(t: Any, key: Any, value: Any) -> Any:
    t[key] = value
    return t


@pytest.mark.parametrize("name", list(FILLS))
def test_fills_and_creation(name: str) -> None:
    got, want = _both(FILLS[name])
    assert str(got.dtype) == str(want.dtype) and got.tolist() == want.tolist()


def test_finfo_of_complex_is_its_parts() -> None:
    for name in COMPLEX:
        got, want = adjit.finfo(getattr(adjit, name)), torch.finfo(getattr(torch, name))
        assert (got.eps, got.max, got.tiny, str(got.dtype)) == (
            want.eps,
            want.max,
            want.tiny,
            str(want.dtype),
        )


def test_real_of_real_tensor_is_itself() -> None:
    x = adjit.ones(2)
    assert x.real is x and not x.is_complex() and adjit.tensor(1j).is_complex()


def _error(fn: Callable[[Any], Any], m: Any) -> tuple[type, str]:
    with pytest.raises(Exception) as info:
        fn(m)
    return info.type, str(info.value).strip()


ERRORS = {
    "lt": lambda m: m.tensor([1j]) < m.tensor([2j]),
    "ge": lambda m: m.tensor([1j]) >= 1,
    "max": lambda m: m.tensor([1j]).amax(),
    "maximum": lambda m: m.maximum(m.tensor([1j]), m.tensor([1j])),
    "argmax": lambda m: m.tensor([1j, 2]).argmax(),
    "sort": lambda m: m.tensor([1j, 2]).sort(),
    "clamp": lambda m: m.tensor([1j]).clamp(0, 1),
    "floor": lambda m: m.tensor([1j]).floor(),
    "relu": lambda m: m.tensor([1j]).relu(),
    "sign": lambda m: m.tensor([1j]).sign(),
    "bitwise_and": lambda m: m.tensor([1j]) & m.tensor([1j]),
    "complex_shapes": lambda m: m.complex(m.ones(4, 2), m.ones(3)),
    "polar_shapes": lambda m: m.polar(m.ones(0), m.ones(3)),
    "complex_ints": lambda m: m.complex(m.tensor([1]), m.tensor([2])),
    "complex_mixed": lambda m: m.complex(m.tensor([1.0]), m.tensor([2.0], dtype=m.float64)),
    "imag_real": lambda m: m.ones(2).imag,
    "view_as_complex_int": lambda m: m.view_as_complex(m.ones(2, 2, dtype=m.int64)),
    "view_as_complex_size": lambda m: m.view_as_complex(m.ones(2, 3)),
    "view_as_complex_stride": lambda m: m.view_as_complex(m.ones(2, 2).T),
    "view_as_real_real": lambda m: m.view_as_real(m.ones(2)),
    "cummax": lambda m: m.tensor([1j]).cummax(0),
    "cummin": lambda m: m.cummin(m.tensor([1j]), 0),
    "isin": lambda m: m.isin(m.tensor([1j]), m.tensor([1j])),
    "isin_test": lambda m: m.isin(m.ones(1), m.tensor([1j])),
    "isneginf": lambda m: m.tensor([1j]).isneginf(),
    "isposinf": lambda m: m.isposinf(m.tensor([1j])),
    "unique": lambda m: m.tensor([1j]).unique(),
    "unique_consecutive": lambda m: m.unique_consecutive(m.tensor([1j])),
    "bernoulli": lambda m: m.bernoulli(m.tensor([1j])),
    "bernoulli_": lambda m: m.tensor([1j]).bernoulli_(0.5),
    "abs_": lambda m: m.tensor([1j]).abs_(),
    "gcd": lambda m: m.gcd(m.tensor([1j]), m.tensor([1j])),
    "nansum": lambda m: m.tensor([1j]).nansum(),
    "tensor_complex_as_float": lambda m: m.tensor([1 + 0j], dtype=m.float32),
    "tensor_complex_as_int": lambda m: m.tensor(1j, dtype=m.int64),
    "full_complex_into_float": lambda m: m.full((2,), 1j, dtype=m.float32),
    "fill_complex_into_double": lambda m: m.zeros(2, dtype=m.float64).fill_(1j),
    "fill_complex_into_int": lambda m: m.zeros(2, dtype=m.int32).fill_(2 - 1j),
    "fill_complex_into_half": lambda m: m.zeros(2, dtype=m.float16).fill_(1j),
    "setitem_complex_into_float": lambda m: m.zeros(2).__setitem__(0, 1j),
    "legacy_constructor_complex_list": lambda m: m.Tensor([1 + 2j]),
    "legacy_float_tensor_complex": lambda m: m.FloatTensor([1j]),
    "scatter_complex_into_float": lambda m: m.zeros(2).scatter(0, m.tensor([1]), 1j),
    "full_like_complex_into_float": lambda m: m.full_like(m.zeros(2), 1j),
    "lerp_mixed": lambda m: m.zeros(2).lerp(m.zeros(2, dtype=m.complex64), 0.5),
    "setitem_complex_into_uint8": lambda m: m.zeros(2, dtype=m.uint8).__setitem__(0, 1j),
    "nanmean": lambda m: m.nanmean(m.tensor([1j])),
    "arange": lambda m: m.arange(3, dtype=m.complex128),
    "float_of_complex": lambda m: float(m.tensor(1 + 1j)),
    "int_of_complex": lambda m: int(m.tensor(2 - 1j)),
    "add_complex_into_float": lambda m: m.ones(2).add_(1j),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_as_pytorch(name: str) -> None:
    (got_type, got), (want_type, want) = _error(ERRORS[name], adjit), _error(ERRORS[name], torch)
    assert got_type.__name__ == want_type.__name__ and got == want


REFUSED = {  # PyTorch runs these; adjit refuses by name rather than answer wrongly
    "sigmoid": lambda: adjit.tensor([1j]).sigmoid(),
    "tan": lambda: adjit.tensor([1j]).tan(),
    "cumsum": lambda: adjit.tensor([1j]).cumsum(0),
    "prod": lambda: adjit.tensor([1j]).prod(),
    "to_float": lambda: adjit.tensor([1j]).float(),
    "matrix_norm": lambda: adjit.linalg.matrix_norm(adjit.tensor([[1j]])),
    "det": lambda: adjit.linalg.det(adjit.tensor([[1j]])),
    "inv": lambda: adjit.linalg.inv(adjit.tensor([[1j]])),
    "to_long": lambda: adjit.tensor([1j]).to(adjit.int64),
    # compiled: complex ops run between graph segments (Note [complex values between segments]),
    # refused where the function cannot break
    "randn_compiled": lambda: adjit.compile(
        lambda x: x + adjit.randn(2, dtype=adjit.cfloat), fullgraph=True
    )(adjit.ones(2)),
    "compile": lambda: adjit.compile(lambda z: z * 2, fullgraph=True)(adjit.tensor([1j])),
    "compile_scalar": lambda: adjit.compile(lambda x: x * 1j, fullgraph=True)(adjit.ones(2)),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_clearly(name: str) -> None:
    with pytest.raises((NotImplementedError, RuntimeError)) as info:
        REFUSED[name]()
    assert "complex" in str(info.value).lower()


@pytest.mark.parametrize("name", COMPLEX)
def test_numpy_round_trip_and_pickle(name: str) -> None:
    import pickle

    d = getattr(adjit, name)
    arr = np.array([1 + 2j, -3j], d.np)
    for make in (adjit.from_numpy, adjit.tensor, adjit.as_tensor):
        t = make(arr)
        assert t.dtype is d and t.numpy().tolist() == arr.tolist()
    assert pickle.loads(pickle.dumps(d)) is d
    assert d.is_complex and not d.is_floating_point and d.is_signed
    assert (d.itemsize, d.type_name) == {"complex64": (8, "ComplexFloat")}.get(
        name, (16, "ComplexDouble")
    )


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("n", [16, 64, 256])
def test_mul_bitwise_in_pytorchs_vector_loop(dtype: str, n: int) -> None:
    """Each of ac, bd, ad, bc rounded, then one add: bit for bit with PyTorch's vector loop
    (whole multiples of 8 elements; its scalar tail fuses products, an ulp apart, and NumPy's
    own complex multiply differs from both)."""
    a, b = _rand((n,), dtype, 5), _rand((n,), dtype, 6)
    got, want = _both(lambda m: m.tensor(a) * m.tensor(b))
    _same_bits(got, want)
    got, want = _both(lambda m: m.tensor(a) * m.tensor(a).conj())
    _same_bits(got, want)
    assert not got.imag.any()


@pytest.mark.parametrize("fn", ["rand", "randn"])
@pytest.mark.parametrize("dtype", ["cfloat", "cdouble"])
@pytest.mark.parametrize("size", [(1,), (5,), (2, 3), (100,)])
def test_random_streams_as_pytorch(fn: str, dtype: str, size: tuple[int, ...]) -> None:
    """Each part drawn as a real (..., 2) tensor (randn: std 1/sqrt(2)); bit for bit, and the
    generator's state after it too."""

    def run(m: Any) -> Any:
        m.manual_seed(7)
        z = getattr(m, fn)(*size, dtype=getattr(m, dtype))
        return z, m.rand(3)

    (g, gn), (w, wn) = _both(run)
    _same_bits(g, w)
    assert np.array_equal(gn.numpy(), wn.numpy())
    gen = adjit.Generator().manual_seed(2)
    tgen = torch.Generator().manual_seed(2)
    _same_bits(
        getattr(adjit, fn)(size, dtype=getattr(adjit, dtype), generator=gen),
        getattr(torch, fn)(size, dtype=getattr(torch, dtype), generator=tgen),
    )


PRINT_OPTIONS = [
    {},
    {"precision": 2, "linewidth": 50},
    {"sci_mode": True},
    {"sci_mode": False, "precision": 6},
    {"edgeitems": 1, "threshold": 10},
]


@pytest.mark.parametrize("opts", PRINT_OPTIONS, ids=range(len(PRINT_OPTIONS)))
def test_printing_random_magnitudes(opts: dict[str, Any]) -> None:
    """Parts from 1e-12 to 1e12 (integral, zero, inf and NaN ones too), summarized and not,
    under print options: the repr is PyTorch's character for character."""
    r = np.random.default_rng(11)
    try:
        for m in (adjit, torch):
            m.set_printoptions(**opts)
        for trial in range(60):
            shape = [(), (3,), (2, 3), (1200,), (4, 5), (30, 40), (2, 2, 2)][trial % 7]
            scale = 10.0 ** r.integers(-12, 12, size=2)
            re = np.asarray(r.standard_normal(shape) * scale[0])
            im = np.asarray(r.standard_normal(shape) * scale[1])
            if trial % 5 == 0:
                re = np.round(re)
            if trial % 6 == 0:
                im = np.zeros(shape)
            if trial % 11 == 0 and re.size:
                re.flat[0], im.flat[-1] = np.inf, np.nan
            a = np.empty(shape, COMPLEX[trial % 2])
            a.real, a.imag = re, im
            assert repr(adjit.tensor(a)) == repr(torch.tensor(a)), (trial, a)
    finally:
        for m in (adjit, torch):
            m.set_printoptions(profile="default")


@pytest.mark.parametrize(
    "value", [np.complex128(1j), np.complex64(2 - 1j), np.float64(1.5), np.float32(2.5)]
)
def test_numpy_scalar_keeps_its_dtype(value: Any) -> None:
    got, want = _both(lambda m: m.tensor(value))
    assert str(got.dtype) == str(want.dtype) and repr(got) == repr(want)


@pytest.mark.parametrize("name", ["real", "imag", "conj", "conj_physical", "resolve_conj", "angle"])
def test_torch_level_functions(name: str) -> None:
    """``torch.real(z)`` and friends as functions (the rest of this file uses the methods)."""
    values = [1 + 2j, -3.5 - 0.25j, 0j, 1e-30 + 4j]
    got, want = _both(lambda m: getattr(m, name)(m.tensor(values)))
    assert repr(got) == repr(want)
    got, want = _both(lambda m: m.is_complex(m.tensor(values)))
    assert got is want is True
