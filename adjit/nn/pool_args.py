"""Pooling arguments as per-dim tuples, checked in PyTorch's order with PyTorch's messages."""

from __future__ import annotations

import operator
from typing import Any

from adjit.runtime.tensor import Tensor

Dims = tuple[int, ...]

_WORDS = {1: "one", 2: "two", 3: "three"}
_LETTERS = {2: ("H", "W"), 3: ("T", "H", "W")}


def _length_message(op: str, what: str, nd: int, avg: bool) -> str:
    if nd == 1:
        return f"{op}() argument '{what}' should contain one int (got {{}})"
    terse = avg and nd == 3  # avg_pool3d words its messages without "either"
    either = "" if terse else "either "
    body = {
        "kernel_size": f"must {either}be a single int",
        "stride": f"must {either}be omitted, a single int",
        "padding": f"must {either}be a single int",
        "dilation": "must be either a single int",
    }[what]
    return f"{op}: {what} {body}, or a tuple of {_WORDS[nd]} ints"


def _integer(v: Any) -> bool:
    """An int for PyTorch's parser: ints, NumPy integers, one-element integer tensors; no
    bools."""
    if isinstance(v, bool):
        return False
    try:
        operator.index(v)
    except TypeError:
        return False
    return True


_POSITION = {"kernel_size": 2, "stride": 3, "padding": 4, "dilation": 5, "output_size": 3}


def dims(v: Any, nd: int, op: str, what: str, avg: bool) -> tuple[int, ...]:
    """An int or an nd-sequence (one element also broadcasts) as an nd-tuple of ints, with
    PyTorch's argument parser's TypeErrors for anything else."""
    if _integer(v):
        return (operator.index(v),) * nd
    if not isinstance(v, list | tuple):
        raise TypeError(
            f"{op}(): argument '{what}' (position {_POSITION[what]}) must be tuple of ints, not "
            f"{type(v).__name__}"
        )
    for i, n in enumerate(v):
        if not _integer(n):
            raise TypeError(
                f"{op}(): argument '{what}' failed to unpack the object at pos {i + 1} with "
                f'error "type must be tuple of ints,but got {type(n).__name__}"'
            )
    items = tuple(operator.index(n) for n in v)
    if len(items) == 1:
        return items * nd
    if len(items) != nd:
        raise RuntimeError(_length_message(op, what, nd, avg).format(len(items)))
    return items


def is_empty_stride(stride: Any) -> bool:
    return stride is None or (isinstance(stride, list | tuple) and len(stride) == 0)


def stride_zero(s: tuple[int, ...]) -> None:
    if 0 in s:
        raise RuntimeError("stride should not be zero")


def _named(what: str, short: str, values: tuple[int, ...]) -> str:
    letters = _LETTERS[len(values)]
    return ", but got " + " ".join(f"{short}{c}: {v}" for c, v in zip(letters, values, strict=True))


def check_geometry(k: Dims, s: Dims, p: Dims, d: Dims) -> None:
    """pooling_output_shape's checks per dim, then those of pool{2,3}d_shape_check that come
    before the input's (kernel, stride, dilation positive)."""
    for kk, pp, dd in zip(k, p, d, strict=True):
        if pp < 0:
            raise RuntimeError(f"pad must be non-negative, but got pad: {pp}")
        if pp > int(((kk - 1) * dd + 1) / 2):  # (C++ division: toward zero)
            raise RuntimeError(
                "pad should be at most half of effective kernel size, but got "
                f"pad={pp}, kernel_size={kk} and dilation={dd}"
            )
    for what, short, values in (
        ("kernel size", "k", k),
        ("stride", "d", s),
        ("dilation", "dilation", d),
    ):
        if min(values) <= 0:
            raise RuntimeError(f"{what} should be greater than zero{_named(what, short, values)}")


def check_half_kernel(k: tuple[int, ...], p: tuple[int, ...]) -> None:
    """pool{2,3}d_shape_check: padding at most half the (undilated) kernel."""
    if all(kk // 2 >= pp for kk, pp in zip(k, p, strict=True)):
        return
    if len(k) == 2:
        raise RuntimeError(
            "pad should be smaller than or equal to half of kernel size, but got "
            f"padW = {p[1]}, padH = {p[0]}, kW = {k[1]}, kH = {k[0]}"
        )
    raise RuntimeError(
        "pad should be smaller than or equal to half of kernel size, but got "
        f"kT: {k[0]} kW: {k[2]} kH: {k[1]} padT: {p[0]} padW: {p[2]} padH: {p[1]}"
    )


def check_planes(input: Tensor, nd: int, function: str) -> None:
    """Every non-batch dim of the (batched or not) input is non-empty."""
    shape = list(input.shape)
    if all(n > 0 for n in shape[-nd - 1 :]):
        return
    if nd == 2:
        raise RuntimeError(
            "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, "
            f"but got:{shape}"
        )
    raise RuntimeError(
        f"{function}(): Expected input's non-batch dimensions to have positive length, but "
        f"input has a shape of {shape} and non-batch dimension 0 has length zero!"
    )


def unbatched_shape(input: Tensor, nd: int, op: str) -> None:
    """PyTorch's argument check of the 1-d ops: 2 or 3 dims."""
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"Expected {nd + 1} to {nd + 2} dimensions, but got {input.ndim}-dimensional tensor "
            f"for argument #1 'self' (while checking arguments for {op})"
        )
