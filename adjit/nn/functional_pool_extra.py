"""Power-average (LP), fractional max pooling and max unpooling as composites of primitives."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from adjit.nn import functional_pool as P
from adjit.nn import pool_windows as W
from adjit.nn.pool_args import dims
from adjit.runtime import functional as R
from adjit.runtime.autocast import autocast_op
from adjit.runtime.checks import check, in_range
from adjit.runtime.dispatch import composite, with_rule
from adjit.runtime.grad_mode import no_grad
from adjit.runtime.kernel_dtypes import not_implemented
from adjit.runtime.tensor import Tensor

__all__ = [
    "fractional_max_pool2d",
    "fractional_max_pool2d_with_indices",
    "fractional_max_pool3d",
    "fractional_max_pool3d_with_indices",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
]


# ---- LP pooling (PyTorch's own Python composition) ----------------------------------------------
def _lp_pool(
    nd: int, input: Tensor, norm_type: float, kernel_size: Any, stride: Any, ceil_mode: bool
) -> Tensor:
    avg = (P.avg_pool1d, P.avg_pool2d, P.avg_pool3d)[nd - 1]
    maxp = (P.max_pool1d, P.max_pool2d, P.max_pool3d)[nd - 1]
    volume = (
        kernel_size
        if nd == 1
        else math.prod(dims(kernel_size, nd, f"lp_pool{nd}d", "kernel_size", False))
    )
    if norm_type == math.inf:
        return maxp(R.abs(input), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -maxp(-R.abs(input), kernel_size, stride, 0, 1, ceil_mode)
    if stride is not None:
        out = avg(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    else:
        out = avg(input.pow(norm_type), kernel_size, padding=0, ceil_mode=ceil_mode)
    return (R.sign(out) * R.relu(R.abs(out))).mul(volume).pow(1.0 / norm_type)


def lp_pool1d(
    input: Tensor, norm_type: float, kernel_size: int, stride: Any = None, ceil_mode: bool = False
) -> Tensor:
    """``(sum x^p)^(1/p)`` over windows of the last dim (PyTorch's composition, PowBackward0)."""
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(
    input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False
) -> Tensor:
    """``(sum x^p)^(1/p)`` over 2-d windows (PyTorch's composition of avg_pool2d)."""
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(
    input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False
) -> Tensor:
    """``(sum x^p)^(1/p)`` over 3-d windows (PyTorch's composition of avg_pool3d)."""
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


# ---- max unpooling ------------------------------------------------------------------------------
class _UnpoolRule:
    """PyTorch's max_unpool derivative: every input element takes the gradient at its index
    (even one whose write a later duplicate index overwrote)."""

    def __repr__(self) -> str:
        return "max_unpool"

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        x, idx = inputs[1], inputs[2]
        b, p = idx.shape[0], math.prod(g.shape) // max(idx.shape[0], 1)
        flat = R.gather(R.reshape(g, (b, p)), 1, idx)
        return (None, R.reshape(flat, tuple(x.shape)) if needs[1] else None, None)


_UNPOOL = _UnpoolRule()


def _unpool_value(size: tuple[int, ...], lead: tuple[int, ...]) -> Any:
    """(x, flat indices (B, L)) -> the (B, prod(size)) plane holding each x at its index; the
    last write wins where indices repeat, as PyTorch's CPU loop."""

    def value(x: Tensor, idx: Tensor) -> Tensor:
        b, n = idx.shape
        p = math.prod(size)
        flat = R.reshape(x, (b, n))
        pos = R.expand(Tensor._make(np.arange(n, dtype=np.int64)[None]), (b, n))
        none = Tensor._make(np.full((b, p), -1, np.int64))
        winner = R.scatter_reduce(none, 1, idx, pos, "amax")
        taken = R.gather(flat, 1, R.clamp(winner, min=0))
        return R.reshape(R.where(winner >= 0, taken, 0), (*lead, *size))

    return value


def _unpool_size(
    input: Tensor, k: tuple[int, ...], s: tuple[int, ...], p: tuple[int, ...], output_size: Any
) -> tuple[int, ...]:
    """PyTorch's _unpool_output_size."""
    nd = len(k)
    default = [(input.shape[input.ndim - nd + d] - 1) * s[d] + k[d] - 2 * p[d] for d in range(nd)]
    if output_size is None:
        ret = default
    else:
        ret = list(output_size)
        if len(ret) == nd + 2:
            ret = ret[2:]
        if len(ret) != nd:
            raise ValueError(
                f"output_size should be a sequence containing {nd} or {nd + 2} elements, but it "
                f"has a length of '{len(ret)}'"
            )
        for d in range(nd):
            lo, hi = default[d] - s[d], default[d] + s[d]
            if not lo < ret[d] < hi:
                raise ValueError(
                    f'invalid output_size "{output_size}" (dim {d} must be between {lo} and {hi})'
                )
    for d in range(nd):
        if ret[d] < 0:
            raise ValueError(
                "max_unpooling: output_size must contain non-negative spatial dimensions, but "
                f"got output_size[{d}]={ret[d]}"
            )
    return tuple(int(n) for n in ret)


def _max_unpool(nd: int, input: Tensor, indices: Tensor, size: tuple[int, ...]) -> Tensor:
    if indices.dtype.name != "int64":
        raise RuntimeError(
            f"elements in indices should be type int64 but got: {indices.dtype.type_name}"
        )
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(
            "Expected shape of indices to be same as that of the input tensor "
            f"({list(input.shape)}) but got indices tensor with shape: {list(indices.shape)}"
        )
    if input.ndim not in (nd + 1, nd + 2):
        lo, hi = ("3d", "4d") if nd == 2 else ("4d", "5d")
        raise RuntimeError(
            f"Input to max_unpooling{nd}d should be a {lo} or {hi} Tensor, but got a tensor with "
            f"{input.ndim} dimensions."
        )
    if not input.dtype.is_floating_point:
        raise not_implemented(f"max_unpool{nd}d", input.dtype)
    lead = tuple(input.shape[:-nd])
    planes, p = math.prod(lead), math.prod(size)
    idx = R.reshape(indices, (planes, -1)) if planes else R.reshape(indices, (0, 0))
    message = (
        "Found an invalid max index: {} (output volumes are of size "
        + "x".join(str(n) for n in size)
        + ")"
    )
    idx = check(idx, in_range(idx, 0, p), RuntimeError, message, detail=idx)
    value = _unpool_value(size, lead)
    return with_rule(_UNPOOL, value, input, idx, name=f"MaxUnpool{nd}DBackward0")


def max_unpool1d(
    input: Tensor,
    indices: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
) -> Tensor:
    """Inverse of max_pool1d: each value back at its index, zeros elsewhere (via 2-d)."""
    k = dims(kernel_size, 1, "max_unpool1d", "kernel_size", False)
    s = k if stride is None else dims(stride, 1, "max_unpool1d", "stride", False)
    p = dims(padding, 1, "max_unpool1d", "padding", False)
    size = _unpool_size(input, k, s, p, output_size)
    x, i = R.unsqueeze(input, -1), R.unsqueeze(indices, -1)
    return R.squeeze(_max_unpool(2, x, i, (size[0], 1)), -1)


@autocast_op("max_unpool2d")
def max_unpool2d(
    input: Tensor,
    indices: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
) -> Tensor:
    """Inverse of max_pool2d: each value back at its flat per-plane index, zeros elsewhere."""
    k = dims(kernel_size, 2, "max_unpool2d", "kernel_size", False)
    s = k if stride is None else dims(stride, 2, "max_unpool2d", "stride", False)
    p = dims(padding, 2, "max_unpool2d", "padding", False)
    return _max_unpool(2, input, indices, _unpool_size(input, k, s, p, output_size))


@autocast_op("max_unpool3d")
def max_unpool3d(
    input: Tensor,
    indices: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
) -> Tensor:
    """Inverse of max_pool3d: each value back at its flat per-volume index, zeros elsewhere."""
    k = dims(kernel_size, 3, "max_unpool3d", "kernel_size", False)
    s = k if stride is None else dims(stride, 3, "max_unpool3d", "stride", False)
    p = dims(padding, 3, "max_unpool3d", "padding", False)
    return _max_unpool(3, input, indices, _unpool_size(input, k, s, p, output_size))


# ---- fractional max pooling ---------------------------------------------------------------------
# Note [fractional windows]: PyTorch draws one uniform sample u per (batch, channel, dim) (the
# Python wrapper's ``torch.rand(N, C, nd)``, so our PyTorch-identical generator draws the same)
# and starts window i of a dim at ``int((i + u) a) - int(u a)``, a = (n - k) / (o - 1), in the
# input's dtype, the last one at n - k. Those starts are computed here with tensor ops (they
# depend on the samples, which may be traced), turned into a flat index table per plane, and
# the windows are gathered from the flattened planes. 2-d planes read u[0] for the width and
# u[1] for the height; 3-d volumes u[0], u[1], u[2] for time, height and width.
_SAMPLE_OF = {2: (1, 0), 3: (0, 1, 2)}
_DIM_WORDS = {2: ("height", "width"), 3: ("time", "height", "width")}


def _starts(u: Tensor, n: int, k: int, o: int) -> Tensor:
    """(B, C, o) window starts from the (B, C) samples ``u`` (Note [fractional windows])."""
    b, c = u.shape
    last = Tensor._make(np.full((b, c, 1), n - k, np.int64))
    if o == 1:
        return last
    dt = u.dtype.np
    alpha = Tensor._make(np.asarray(dt(n - k) / dt(o - 1), dt))
    i = Tensor._make(np.arange(o - 1, dtype=dt))
    u3 = R.unsqueeze(u, -1)
    first = R.trunc((i + u3) * alpha).long() - R.trunc(u3 * alpha).long()
    return R.cat([first, last], -1)


def _fractional_table(
    u: Tensor, size: tuple[int, ...], k: tuple[int, ...], out: tuple[int, ...]
) -> Tensor:
    """(B, C, K, L) flat input indices of every window element."""
    nd = len(size)
    b, c = u.shape[:2]
    total = None
    for d in range(nd):
        start = _starts(R.select(u, 2, _SAMPLE_OF[nd][d]), size[d], k[d], out[d])
        at = R.unsqueeze(start, 2) + Tensor._make(np.arange(k[d], dtype=np.int64)[:, None])
        shape_at = [b, c] + [1] * (2 * nd)
        shape_at[2 + d], shape_at[2 + nd + d] = k[d], out[d]
        term = R.reshape(at, tuple(shape_at)) * math.prod(size[d + 1 :])
        total = term if total is None else total + term
    assert total is not None
    full = (b, c, *k, *out)
    return R.reshape(R.expand(total, full), (b, c, math.prod(k), math.prod(out)))


def _fractional(
    nd: int, input: Tensor, kernel_size: Any, output_size: Any, output_ratio: Any, samples: Any
) -> tuple[Tensor, Tensor]:
    op = f"fractional_max_pool{nd}d"
    if output_size is None and output_ratio is None:
        raise ValueError(f"{op} requires specifying either an output_size or an output_ratio")
    if output_size is None:
        if nd == 2 and len(output_ratio) > 2:  # (a number fails here too, as in PyTorch)
            raise ValueError(
                f"{op} requires output_ratio to either be a single Int or tuple of Ints."
            )
        ratio = (
            (output_ratio,) * nd if isinstance(output_ratio, int | float) else tuple(output_ratio)
        )
        if len(ratio) == 1:
            ratio = ratio * nd
        output_size = [int(input.shape[input.ndim - nd + d] * ratio[d]) for d in range(nd)]
    if samples is None:
        n_batch = 1 if input.ndim == nd + 1 else input.shape[0]
        samples = R.rand(n_batch, input.shape[-nd - 1], nd, dtype=input.dtype)
    k = dims(kernel_size, nd, op, "kernel_size", False)
    out = dims(output_size, nd, op, "output_size", False)
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"{op}(): Expected {nd + 1}D or {nd + 2}D tensor, but got: {list(input.shape)}"
        )
    batched = input.ndim == nd + 2
    n = input.shape[0] if batched else 1
    c = input.shape[-nd - 1]
    size = tuple(input.shape[-nd:])
    if samples.dtype is not input.dtype:
        raise RuntimeError("Expect _random_samples to have the same dtype as input")
    if samples.ndim != 3:
        raise RuntimeError(f"Expect _random samples to have 3 dimensions, got {samples.ndim}")
    if samples.shape[0] < n:
        raise RuntimeError("Expect _random_samples.size(0) no less then input batch size.")
    if samples.shape[1] != c:
        raise RuntimeError("Expect _random_samples.size(1) equals to input channel size.")
    if samples.shape[2] != nd:
        raise RuntimeError(
            f"Expect _random_samples.size(2) equals to {nd}; got {samples.shape[2]}."
        )
    where = "_out" if nd == 3 else ""
    for word, kk, oo, nn in zip(_DIM_WORDS[nd], k, out, size, strict=True):
        if oo + kk - 1 > nn or (nd == 3 and oo + kk - 1 == nn):  # (3-d: PyTorch's "<")
            raise RuntimeError(
                f"{op}{where}(): pool {word} {kk} too large relative to input {word} {nn}"
            )
    with no_grad():
        u = samples.detach()
        u = u if u.shape[0] == n else R.narrow(u, 0, 0, n)
        table = _fractional_table(u, size, k, out)
    firsts: list[Tensor] = []

    def decomposition(a: Tensor) -> Tensor:
        flat = R.reshape(a, (n, c, math.prod(size)))
        picks = R.reshape(table, (n, c, -1)) if n * c else table
        cols = R.reshape(R.gather(flat, 2, picks), tuple(table.shape))
        y, first = W.first_max(cols, None)
        firsts.append(first)
        return R.reshape(y, (*input.shape[:-nd], *out))

    y = composite(f"FractionalMaxPool{nd}DBackward0", decomposition, input)
    with no_grad():
        idx = R.reshape(W.picked_index(table, firsts[0].detach()), tuple(y.shape))
    return y, idx


def fractional_max_pool2d_with_indices(
    input: Tensor,
    kernel_size: Any,
    output_size: Any = None,
    output_ratio: Any = None,
    return_indices: bool = False,
    _random_samples: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    return _fractional(2, input, kernel_size, output_size, output_ratio, _random_samples)


@autocast_op("fractional_max_pool2d")
def fractional_max_pool2d(
    input: Tensor,
    kernel_size: Any,
    output_size: Any = None,
    output_ratio: Any = None,
    return_indices: bool = False,
    _random_samples: Tensor | None = None,
) -> Any:
    """Max over pseudo-random windows (Note [fractional windows]), PyTorch's draws."""
    y, idx = _fractional(2, input, kernel_size, output_size, output_ratio, _random_samples)
    return (y, idx) if return_indices else y


def fractional_max_pool3d_with_indices(
    input: Tensor,
    kernel_size: Any,
    output_size: Any = None,
    output_ratio: Any = None,
    return_indices: bool = False,
    _random_samples: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    return _fractional(3, input, kernel_size, output_size, output_ratio, _random_samples)


@autocast_op("fractional_max_pool3d")
def fractional_max_pool3d(
    input: Tensor,
    kernel_size: Any,
    output_size: Any = None,
    output_ratio: Any = None,
    return_indices: bool = False,
    _random_samples: Tensor | None = None,
) -> Any:
    """3-d max over pseudo-random windows (Note [fractional windows]), PyTorch's draws."""
    y, idx = _fractional(3, input, kernel_size, output_size, output_ratio, _random_samples)
    return (y, idx) if return_indices else y
