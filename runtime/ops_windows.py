"""Window functions (hann, hamming, bartlett, blackman, kaiser): constants built with NumPy.

Note [window arithmetic]
~~~~~~~~~~~~~~~~~~~~~~~~
A window depends on its length only, so it is a constant of any traced program. PyTorch builds
it with in-place ops on ``arange(N)`` in the requested dtype (``mul_(2 pi / (N - 1)).cos_()
.mul_(-beta).add_(alpha)``), rounding after every op: its float16 Hann window of length 3 is
0.7505, not 0.75, and its float32 Blackman window starts at -3e-8, not 0. The same sequence
of ops runs here in NumPy, each op in the dtype (float16/bfloat16 through float32, as PyTorch's
opmath), with the Python-float factors rounded to the dtype first, so the values agree with
PyTorch's bit for bit except where NumPy's cos and PyTorch's vectorized cos differ by an ulp.
The Kaiser window's i0 is evaluated in float64 and rounded to float32 (PyTorch's is a float32
Chebyshev series: a few ulp apart).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir import dtypes as D
from . import creation
from .layout import check_layout
from .tensor import Tensor

_LONG_NAMES = {"int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char"}
_LONG_NAMES |= {"uint8": "unsigned char", "bool": "bool"}


def _check(name: str, window_length: Any, dtype: D.DType) -> None:
    if isinstance(window_length, bool) or not isinstance(window_length, int):
        raise TypeError(
            f"{name}(): argument 'window_length' (position 1) must be int, not "
            f"{type(window_length).__name__}"
        )
    if not dtype.is_floating_point:
        raise RuntimeError(
            f"{name} expects floating point dtypes, got: TensorOptions(dtype="
            f"{_LONG_NAMES.get(dtype.name, dtype.name)}, device=cpu, layout=Strided (default), "
            "requires_grad=false (default), pinned_memory=false, memory_format=(nullopt))"
        )
    if window_length < 0:
        raise RuntimeError(
            f"{name} requires non-negative window_length, got window_length={window_length}"
        )


class _Ops:
    """NumPy arithmetic rounded to ``dtype`` after every op (Note [window arithmetic])."""

    def __init__(self, dtype: D.DType) -> None:
        self.np = dtype.np
        self.wide = np.float32 if dtype.is_reduced_float else dtype.np

    def round(self, a: np.ndarray) -> np.ndarray:
        return np.asarray(a, self.wide).astype(self.np).astype(self.wide)

    def scalar(self, v: float) -> Any:
        return np.asarray(v, self.np).astype(self.wide)  # PyTorch rounds it to the dtype first

    def arange(self, n: int) -> np.ndarray:
        return self.round(np.arange(n, dtype=np.float64))

    def mul(self, a: np.ndarray, v: float) -> np.ndarray:
        return self.round(a * self.scalar(v))

    def add(self, a: np.ndarray, v: Any) -> np.ndarray:
        return self.round(a + (v if isinstance(v, np.ndarray) else self.scalar(v)))

    def cos(self, a: np.ndarray) -> np.ndarray:
        return self.round(np.cos(a))


def _window(
    name: str,
    body: Callable[[_Ops, int], np.ndarray],
    window_length: int,
    periodic: bool,
    dtype: D.DType | None,
    requires_grad: bool,
    device: Any,
) -> Tensor:
    dt = dtype or D.get_default_dtype()
    _check(name, window_length, dt)
    if window_length == 0:
        values = np.zeros(0)
    elif window_length == 1:
        values = np.ones(1)
    else:
        n = window_length + 1 if periodic else window_length
        values = body(_Ops(dt), n)[:window_length]
    return creation._finish(np.asarray(values, np.float64), dt, requires_grad, device)


def _hamming_body(alpha: float, beta: float) -> Callable[[_Ops, int], np.ndarray]:
    def body(ops: _Ops, n: int) -> np.ndarray:
        w = ops.cos(ops.mul(ops.arange(n), math.pi * 2.0 / (n - 1)))
        return ops.add(ops.mul(w, -beta), alpha)

    return body


def _bartlett_body(ops: _Ops, n: int) -> np.ndarray:
    w = ops.mul(ops.arange(n), 2.0 / (n - 1))
    half = ((n - 1) >> 1) + 1
    w[half:] = ops.add(ops.mul(w[half:], -1.0), 2.0)
    return w


def _blackman_body(ops: _Ops, n: int) -> np.ndarray:
    w = ops.mul(ops.arange(n), math.pi / (n - 1))
    first = ops.mul(ops.cos(ops.mul(w, 4.0)), 0.08)
    second = ops.mul(ops.cos(ops.mul(w, 2.0)), 0.5)
    return ops.add(ops.add(first, -second), 0.42)


def _kaiser_body(beta: float) -> Callable[[_Ops, int], np.ndarray]:
    def body(ops: _Ops, n: int) -> np.ndarray:
        # PyTorch's kernel: opmath (float32 for float32/16) arithmetic on arange(n) in the dtype
        alpha, b = ops.wide((n - 1) / 2.0), ops.wide(beta)
        k = ops.arange(n)
        arg = b * np.sqrt(np.abs(ops.wide(1) - ((k - alpha) / alpha) ** ops.wide(2)))
        i0 = lambda v: np.asarray(np.i0(np.float64(v)), ops.wide)  # noqa: E731
        return ops.round(i0(arg) / i0(b))

    return body


def hann_window(
    window_length: int,
    periodic: bool = True,
    *,
    dtype: D.DType | None = None,
    layout: Any = None,
    device: Any = None,
    pin_memory: bool = False,
    requires_grad: bool = False,
) -> Tensor:
    check_layout(layout, "hann_window")
    body = _hamming_body(0.5, 0.5)
    return _window("hann_window", body, window_length, periodic, dtype, requires_grad, device)


def hamming_window(
    window_length: int,
    periodic: bool = True,
    alpha: float = 0.54,
    beta: float = 0.46,
    *,
    dtype: D.DType | None = None,
    layout: Any = None,
    device: Any = None,
    pin_memory: bool = False,
    requires_grad: bool = False,
) -> Tensor:
    check_layout(layout, "hamming_window")
    body = _hamming_body(alpha, beta)
    return _window("hamming_window", body, window_length, periodic, dtype, requires_grad, device)


def bartlett_window(
    window_length: int,
    periodic: bool = True,
    *,
    dtype: D.DType | None = None,
    layout: Any = None,
    device: Any = None,
    pin_memory: bool = False,
    requires_grad: bool = False,
) -> Tensor:
    check_layout(layout, "bartlett_window")
    return _window(
        "bartlett_window", _bartlett_body, window_length, periodic, dtype, requires_grad, device
    )


def blackman_window(
    window_length: int,
    periodic: bool = True,
    *,
    dtype: D.DType | None = None,
    layout: Any = None,
    device: Any = None,
    pin_memory: bool = False,
    requires_grad: bool = False,
) -> Tensor:
    check_layout(layout, "blackman_window")
    return _window(
        "blackman_window", _blackman_body, window_length, periodic, dtype, requires_grad, device
    )


def kaiser_window(
    window_length: int,
    periodic: bool = True,
    beta: float = 12.0,
    *,
    dtype: D.DType | None = None,
    layout: Any = None,
    device: Any = None,
    pin_memory: bool = False,
    requires_grad: bool = False,
) -> Tensor:
    check_layout(layout, "kaiser_window")
    body = _kaiser_body(beta)
    return _window("kaiser_window", body, window_length, periodic, dtype, requires_grad, device)
