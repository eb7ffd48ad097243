"""adjit.fft's transforms and helpers side by side with torch.fft: values, dtypes, errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from fft_cases import close, data

import adjit

ONE_D = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]
N_D = ["fft2", "ifft2", "fftn", "ifftn", "rfft2", "irfft2", "rfftn", "irfftn"]
N_D += ["hfft2", "ihfft2", "hfftn", "ihfftn"]
REAL_ONLY = {"rfft", "ihfft", "rfft2", "rfftn", "ihfft2", "ihfftn"}
NORMS = [None, "backward", "ortho", "forward"]


def _both(name: str, a: np.ndarray, **kw: Any) -> tuple[Any, Any]:
    """Both results; where torch refuses, adjit refuses with the same type and text."""
    try:
        want = getattr(torch.fft, name)(torch.tensor(a), **kw)
    except (RuntimeError, IndexError) as e:
        with pytest.raises(type(e)) as ours:
            getattr(adjit.fft, name)(adjit.tensor(a), **kw)
        assert str(ours.value) == str(e).splitlines()[0]
        return None, None
    return getattr(adjit.fft, name)(adjit.tensor(a), **kw), want


def _numel(out: Any, x: np.ndarray) -> int:
    return max(math.prod(out.shape), x.size)


@pytest.mark.parametrize("name", ONE_D)
@pytest.mark.parametrize("kind", ["float32", "float64", "complex64", "complex128"])
def test_one_dim_like_torch(name: str, kind: str) -> None:
    """Each dtype, each norm, trimming and padding (``n``) over either dim."""
    if name in REAL_ONLY and kind.startswith("complex"):
        pytest.skip("real input only (refusal tested below)")
    rng = np.random.default_rng(7)
    a = data(rng, (3, 10), kind)
    cases: list[dict[str, Any]] = [{"norm": "backward"}, {"n": 7}, {"norm": "forward"}]
    cases += [{"n": 16, "dim": 0, "norm": "ortho"}, {"n": 5, "dim": 0, "norm": "forward"}]
    cases += [{"n": 7, "norm": "ortho"}]
    for kw in cases:
        got, want = _both(name, a, **kw)
        assert str(got.dtype) == str(want.dtype), (kw, got.dtype, want.dtype)
        close(got, want, _numel(want, a))


@pytest.mark.parametrize("name", N_D)
@pytest.mark.parametrize("kind", ["float32", "complex128"])
def test_n_dim_like_torch(name: str, kind: str) -> None:
    if name in REAL_ONLY and kind.startswith("complex"):
        pytest.skip("real input only")
    rng = np.random.default_rng(8)
    a = data(rng, (3, 4, 6), kind)
    cases: list[dict[str, Any]] = [{}, {"s": (5, 3)}, {"s": (2, -1, 9)}, {"dim": (0, 2)}]
    cases += [{"s": (3, 7), "dim": (2, 0)}, {"dim": 1}, {"s": (8,)}]
    for i, kw in enumerate(cases):
        for norm in NORMS[1 + i % 3 :: 3] + [None]:  # each norm over the cases
            got, want = _both(name, a, norm=norm, **kw)
            if want is not None:
                assert str(got.dtype) == str(want.dtype)
                close(got, want, _numel(want, a))


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "uint8"])
def test_integer_inputs_promote_to_the_default_float(dtype: str) -> None:
    a = np.arange(12).reshape(3, 4) % 3
    for name in ["fft", "rfft", "irfft", "hfft", "fftn", "ihfftn"]:
        x = torch.tensor(a).to(getattr(torch, dtype))
        got = getattr(adjit.fft, name)(adjit.tensor(x.numpy()))
        want = getattr(torch.fft, name)(x)
        assert str(got.dtype) == str(want.dtype)
        close(got, want, 12)


def test_zero_dim_input_and_empty_dims() -> None:
    got, want = _both("fftn", np.array(2.5, np.float32))
    assert tuple(got.shape) == () and str(got.dtype) == "torch.complex64"
    close(got, want, 1)
    got, want = _both("fftn", np.ones(4, np.float64), s=())  # no dims: only the promotion
    close(got, want, 1)


ERRORS = [
    ("fft", {"n": 0}, RuntimeError, "Invalid number of data points (0) specified"),
    ("fft", {"norm": "bad"}, RuntimeError, 'Invalid normalization mode: "bad"'),
    ("fft", {"dim": 3}, IndexError, "Dimension out of range"),
    ("irfft", {"n": -2}, RuntimeError, "Invalid number of data points (-2) specified"),
    ("fftn", {"dim": (0, 0)}, RuntimeError, "FFT dims must be unique"),
    ("fftn", {"s": (2, 3), "dim": (0,)}, RuntimeError, "dim and shape arguments must have"),
    ("fftn", {"s": (2, 3, 4)}, RuntimeError, "Got shape with 3 values but input tensor only"),
    ("irfftn", {"s": ()}, RuntimeError, "irfftn must transform at least one axis"),
    ("ihfftn", {"s": ()}, RuntimeError, "ihfftn must transform at least one axis"),
]


@pytest.mark.parametrize("name,kw,error,text", ERRORS)
def test_errors_like_torch(name: str, kw: dict, error: type, text: str) -> None:
    a = np.ones((3, 4), np.float32)
    with pytest.raises(error) as theirs:
        getattr(torch.fft, name)(torch.tensor(a), **kw)
    with pytest.raises(error, match=None) as ours:
        getattr(adjit.fft, name)(adjit.tensor(a), **kw)
    assert text in str(theirs.value) and text in str(ours.value), (theirs.value, ours.value)


def test_dtype_refusals_like_torch() -> None:
    z = np.ones(4, np.complex64)
    for name, wording in [("rfft", "real"), ("ihfft", "real"), ("rfftn", "real-valued")]:
        text = f"{name} expects a {wording} input tensor, but got ComplexFloat"
        for mod in (torch, adjit):
            with pytest.raises(RuntimeError, match=text):
                getattr(mod.fft, name)(mod.tensor(z))
    for mod in (torch, adjit):
        with pytest.raises(RuntimeError, match="Unsupported dtype Half"):
            mod.fft.fft(mod.ones(4, dtype=mod.float16))
        with pytest.raises(IndexError, match="Dimension specified as -1 but tensor has no"):
            mod.fft.fft(mod.tensor(1.0))


@pytest.mark.parametrize("n", [1, 4, 5])
def test_frequencies_and_shifts(n: int) -> None:
    for name in ("fftfreq", "rfftfreq"):
        for kw in ({}, {"d": 0.3}, {"dtype": torch.float64}):
            want = getattr(torch.fft, name)(n, **kw)
            ours = {k: getattr(adjit, str(v).split(".")[-1]) if k == "dtype" else v
                    for k, v in kw.items()}  # fmt: skip
            got = getattr(adjit.fft, name)(n, **ours)
            assert str(got.dtype) == str(want.dtype)
            np.testing.assert_array_max_ulp(got.numpy(), want.numpy(), maxulp=1)
    a = np.arange(n * 6).reshape(n, 6)
    for fn in ("fftshift", "ifftshift"):
        for kw in ({}, {"dim": 1}, {"dim": (0, -1)}):
            got, want = _both(fn, a, **kw)
            assert np.array_equal(got.numpy(), want.numpy())
    got, want = _both("fftshift", data(np.random.default_rng(1), (n, 3), "complex64"))
    assert np.array_equal(got.numpy(), want.numpy())


def test_roundtrips_and_parseval() -> None:
    rng = np.random.default_rng(3)
    x = adjit.tensor(data(rng, (4, 9), "float64"))
    for n in (9, 10):
        y = adjit.fft.irfft(adjit.fft.rfft(x, n=n), n=n)
        close(y[:, : min(n, 9)], x.numpy()[:, : min(n, 9)], n)
    z = adjit.fft.fft(x, norm="ortho")
    close(z.abs().pow(2).sum(-1), (x * x).sum(-1).numpy(), 9)
    close(adjit.fft.hfft(adjit.fft.ihfft(x), n=9), x.numpy(), 9)


def test_out_like_torch() -> None:
    a = np.random.default_rng(4).standard_normal((2, 6)).astype(np.float32)
    for name, dtype in [("fft", "complex128"), ("irfft", "float64"), ("rfft2", "complex64")]:
        outs = [mod.empty(0, dtype=getattr(mod, dtype)) for mod in (adjit, torch)]
        got = getattr(adjit.fft, name)(adjit.tensor(a), out=outs[0])
        want = getattr(torch.fft, name)(torch.tensor(a), out=outs[1])
        assert got is outs[0] and str(got.dtype) == str(want.dtype)
        close(got, want, 12, dtype=np.float32)  # (computed in float32, then cast)
    cases = [
        lambda m: m.fft.fft(m.ones(4), out=m.empty(0)),
        lambda m: m.fft.irfft(m.ones(4), out=m.empty(0, dtype=m.complex64)),
        lambda m: m.fft.rfft2(m.ones(4, 4), out=m.empty(0)),
        lambda m: m.fft.rfft(m.ones(4, requires_grad=True), out=m.empty(0, dtype=m.complex64)),
        lambda m: m.fft.hfft(m.ones(4, requires_grad=True), out=m.empty(0)),
    ]
    for case in cases:
        with pytest.raises(RuntimeError) as theirs:
            case(torch)
        with pytest.raises(RuntimeError) as ours:
            case(adjit)
        assert str(ours.value) == str(theirs.value)


def test_numpy_library_without_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Note [fft library]: numpy.fft when scipy is not installed, equal to torch to rounding."""
    from adjit.runtime import fft_core

    monkeypatch.setattr(fft_core, "library", lambda: np.fft)
    rng = np.random.default_rng(12)
    for name, kind, kw in [
        ("fft", "complex64", {"n": 12}),
        ("rfft", "float32", {"norm": "ortho"}),
        ("ihfft", "float64", {}),
        ("irfftn", "complex64", {"s": (3, 7)}),
        ("hfft2", "complex128", {"norm": "forward"}),
        ("ifftn", "float32", {"dim": 0}),
    ]:
        a = data(rng, (4, 6), kind)
        got, want = _both(name, a, **kw)
        assert str(got.dtype) == str(want.dtype)
        close(got, want, _numel(want, a))


def test_frequency_edge_cases_like_torch() -> None:
    for name, n, kw in [("rfftfreq", 0, {}), ("fftfreq", 0, {}), ("fftfreq", 3, {"d": 0.0})]:
        got, want = getattr(adjit.fft, name)(n, **kw), getattr(torch.fft, name)(n, **kw)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    for mod in (adjit, torch):
        with pytest.raises(RuntimeError, match="negative dimension -1: \\[-1\\]"):
            mod.fft.fftfreq(-1)
        with pytest.raises(NotImplementedError, match="not implemented for 'ComplexFloat'"):
            mod.fft.rfftfreq(4, dtype=mod.complex64)
        with pytest.raises(RuntimeError, match="requires a floating point or complex dtype"):
            mod.fft.fftfreq(4, dtype=mod.int64)
