"""add/sub with alpha as PyTorch computes them: other converted to the common dtype first,
alpha checked against it, float16/bfloat16 in float32 rounded once (Note [add with alpha]);
side by side."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

# 4096 elements: a whole number of PyTorch's vectors in every thread's chunk, so its scalar
# tail (which rounds alpha * other first for float16/bfloat16) is not involved
N = 4096
PAIRS = [
    ("float32", "float32"),
    ("float32", "bfloat16"),
    ("float32", "float16"),
    ("float64", "float32"),
    ("float64", "float16"),
    ("bfloat16", "bfloat16"),
    ("float16", "float16"),
    ("float16", "float32"),
    ("int64", "int32"),
    ("int8", "int8"),
]
ALPHAS = [0.37, -2, 1e-3, 3, -1.5]


def _operands(lib: Any, dx: str, dy: str) -> tuple[Any, Any]:
    g = np.random.default_rng(7)
    a = g.standard_normal(N) * 10
    b = g.standard_normal(N)
    if "int" in dx:
        a, b = np.round(a * 10), np.round(b * 30)
    else:
        a[:5] = [np.inf, -np.inf, np.nan, 0.0, -0.0]
        b[:5] = [1.0, np.inf, 1.0, -0.0, 0.0]
    return lib.tensor(a).to(getattr(lib, dx)), lib.tensor(b).to(getattr(lib, dy))


def _bits(t: Any) -> np.ndarray:
    return t.detach().double().numpy()


@pytest.mark.parametrize("dx, dy", PAIRS)
@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("form", ["add", "sub", "add_", "sub_", "scalar_self", "out"])
def test_bits_equal_pytorch(dx: str, dy: str, alpha: float, form: str) -> None:
    if "int" in dx and isinstance(alpha, float):
        alpha = int(alpha) or 2

    def run(lib: Any) -> tuple[np.ndarray, str]:
        x, y = _operands(lib, dx, dy)
        if form in ("add", "sub"):
            r = getattr(x, form)(y, alpha=alpha)
        elif form in ("add_", "sub_"):
            if lib.promote_types(x.dtype, y.dtype) != x.dtype:
                x = x.to(lib.promote_types(x.dtype, y.dtype))
            r = getattr(x, form)(y, alpha=alpha)
        elif form == "scalar_self":
            r = lib.add(2.5 if "int" not in dx else 3, y, alpha=alpha)
        else:
            r = lib.empty(N, dtype=lib.promote_types(x.dtype, y.dtype))
            lib.sub(x, y, alpha=alpha, out=r)
        return _bits(r), str(r.dtype).split(".")[-1]

    (got, dtype), (want, want_dtype) = run(adjit), run(torch)
    assert dtype == want_dtype
    wide = {"float32": np.float32, "float64": np.float64}.get(dtype)
    if wide is None:  # integers, and float16/bfloat16 in float32 rounded once: PyTorch's bits
        np.testing.assert_array_equal(got, want)
        return
    # float32/float64: PyTorch fuses alpha * other + self into one fma, adjit rounds the
    # product first: within half an ulp of the product more than PyTorch's one rounding
    eps = np.finfo(wide).eps
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite], want[~finite])
    bound = eps * (np.abs(want[finite]) + abs(alpha) * _other(dx, dy)[finite])
    assert (np.abs(got[finite] - want[finite]) <= bound).all()


def _other(dx: str, dy: str) -> np.ndarray:
    """|other| as float64, as the operands hold it."""
    return np.abs(_bits(_operands(torch, dx, dy)[1]))


CHECKS: list[Callable[[Any], Any]] = [
    lambda lib: lib.tensor([1, 2]).add(lib.tensor([1, 2]), alpha=0.5),
    lambda lib: lib.tensor([1, 2]).add(lib.tensor([1.0, 2.0]), alpha=0.5),
    lambda lib: lib.tensor([True]).add(lib.tensor([True]), alpha=2),
    lambda lib: lib.tensor([True, False]).add(lib.tensor([True, True]), alpha=0),
    lambda lib: lib.tensor([1.0, 2.0]).add(lib.tensor([1.0, 2.0]), alpha=1j),
    lambda lib: lib.tensor([1 + 1j]).add(lib.tensor([2.0]), alpha=1j),
    lambda lib: lib.tensor([1, 2]).add(3, alpha=2),
    lambda lib: lib.tensor([1, 2]).sub(lib.tensor([1, 2]), alpha=True),
    lambda lib: lib.tensor([1, 2]).add(lib.tensor([1, 2]), alpha=1.0),
    lambda lib: lib.tensor([1.5]).add(lib.tensor([2], dtype=lib.int32), alpha=0.5),
    lambda lib: lib.tensor([True]).sub(lib.tensor([True]), alpha=2),
    lambda lib: lib.tensor([1], dtype=lib.uint8).add(lib.tensor([1], dtype=lib.uint8), alpha=-1),
]


@pytest.mark.parametrize("case", range(len(CHECKS)))
def test_alpha_checks_as_pytorch(case: int) -> None:
    def outcome(lib: Any) -> tuple[str, str]:
        try:
            r = CHECKS[case](lib)
        except adjit.ShapeError as e:  # a RuntimeError naming the op and the operands too
            return "RuntimeError", str(e).split(": ", 1)[1].rsplit(" (operands", 1)[0]
        except Exception as e:  # noqa: BLE001 - the outcome compared is the exception itself
            return type(e).__name__, str(e)
        return str(r.dtype).split(".")[-1], repr(r.tolist())

    assert outcome(adjit) == outcome(torch)


@pytest.mark.parametrize("dy", ["float32", "float64", "bfloat16"])
def test_gradients_and_node_names(dy: str) -> None:
    def run(lib: Any) -> tuple[Any, ...]:
        x = lib.tensor([1.0, -2.0, 3.5], requires_grad=True)
        y = lib.tensor([0.5, 4.0, -1.0]).to(getattr(lib, dy)).requires_grad_()
        r = x.add(y, alpha=0.25).sub(x * 2, alpha=-3)
        (r * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
        return r.grad_fn.name(), _bits(r), _bits(x.grad), _bits(y.grad), str(y.grad.dtype)

    got, want = run(adjit), run(torch)
    assert got[0] == want[0] and got[4] == want[4]
    for a, b in zip(got[1:4], want[1:4], strict=True):
        np.testing.assert_array_equal(a, b)


def test_compiled_matches_eager() -> None:
    """Compiled, the kernel computes x + alpha * y itself: equal to the fused value within one
    rounding of the product (|alpha * y| * eps), and the gradients exact."""

    def f(x: Any, y: Any) -> Any:
        return x.add(y, alpha=0.37).sub(y, alpha=1.5)

    x = adjit.randn(1000, requires_grad=True)
    y = adjit.randn(1000, requires_grad=True)
    got = adjit.compile(f)(x, y)
    want = f(x, y)
    bound = (0.37 + 1.5) * np.abs(y.detach().numpy()) * 2 * np.finfo(np.float32).eps
    bound += np.abs(want.detach().numpy()) * 2 * np.finfo(np.float32).eps
    assert (np.abs(got.detach().numpy() - want.detach().numpy()) <= bound).all()
    gx, gy = adjit.autograd.grad(got.sum(), [x, y])
    np.testing.assert_array_equal(gx.numpy(), np.ones(1000, np.float32))
    np.testing.assert_array_equal(gy.numpy(), np.full(1000, np.float32(0.37) - 1.5, np.float32))
