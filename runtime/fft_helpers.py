"""torch.fft's helpers: the sample frequencies (fftfreq, rfftfreq) and the zero-frequency shifts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir import dtypes as D
from .creation import _finish
from .ops_shape import roll
from .tensor import Tensor


def _freq(name: str, ints: np.ndarray, n: int, d: float, dtype: Any, kw: dict) -> Tensor:
    # PyTorch: arange in the dtype, then one multiply by 1 / (n * d) in the dtype
    dt = dtype or D.get_default_dtype()
    if dt.category < 2:
        raise RuntimeError(f"{name} requires a floating point or complex dtype")
    if dt.category == 3:
        raise NotImplementedError(f"\"arange_cpu\" not implemented for '{dt.type_name}'")
    with np.errstate(divide="ignore", invalid="ignore"):  # (n = 0: 0 * inf, NaN as PyTorch)
        value = np.dtype(dt.np).type(np.float64(1.0) / np.float64(n * d))
        return _finish((ints.astype(dt.np) * value).astype(dt.np), dt, **kw)


def fftfreq(
    n: int, d: float = 1.0, *, out: Any = None, dtype: Any = None, layout: Any = None,
    device: Any = None, requires_grad: bool = False, pin_memory: bool = False,
) -> Tensor:  # fmt: skip
    """The sample frequencies of a length-``n`` transform: ``[0, 1, ..., -2, -1] / (d * n)``."""
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    ints = np.concatenate([np.arange((n + 1) // 2), np.arange(-(n // 2), 0)])
    kw = {"requires_grad": requires_grad, "dev": device}
    return _out(_freq("fftfreq", ints, n, d, dtype, kw), out)


def rfftfreq(
    n: int, d: float = 1.0, *, out: Any = None, dtype: Any = None, layout: Any = None,
    device: Any = None, requires_grad: bool = False, pin_memory: bool = False,
) -> Tensor:  # fmt: skip
    """The sample frequencies of a length-``n`` rfft: ``[0, 1, ..., n // 2] / (d * n)``."""
    ints = np.arange(int(n / 2) + 1)  # (C++'s division: rfftfreq(-1) is [-0.])
    kw = {"requires_grad": requires_grad, "dev": device}
    return _out(_freq("rfftfreq", ints, n, d, dtype, kw), out)


def _out(t: Tensor, out: Tensor | None) -> Tensor:
    if out is None:
        return t
    out.resize_(t.shape)
    return out.copy_(t)


def _dims(x: Tensor, dim: Any) -> list[int]:
    if dim is None:
        return list(range(x.ndim))
    return list(dim) if isinstance(dim, Sequence) else [dim]


def fftshift(input: Tensor, dim: Any = None) -> Tensor:  # noqa: A002
    """``input`` rolled so that the zero frequency is in the middle of each of ``dim``."""
    dims = _dims(input, dim)
    return roll(input, [input.shape[d] // 2 for d in dims], dims)


def ifftshift(input: Tensor, dim: Any = None) -> Tensor:  # noqa: A002
    """The inverse of fftshift."""
    dims = _dims(input, dim)
    return roll(input, [(input.shape[d] + 1) // 2 for d in dims], dims)
