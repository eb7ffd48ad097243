"""``torch.segment_reduce``: sum, prod, mean, max or min over consecutive segments of one
axis, the segments given by their lengths or offsets."""

from __future__ import annotations

import math
from typing import Any

from adjit.ir.shapes import norm_axis
from adjit.runtime import functional as R
from adjit.runtime.checks import check
from adjit.runtime.creation import arange, full, zeros
from adjit.runtime.tensor import Tensor

__all__ = ["segment_reduce"]

# Note [segment_reduce]
# ~~~~~~~~~~~~~~~~~~~~~
# As ATen's segment_reduce (CPU): ``lengths`` (or ``offsets``, which win when both are given)
# has the data's leading dims up to ``axis`` and one entry per segment (offsets one more); each
# position along ``axis`` goes to the segment whose [offset, next offset) holds it (positions
# outside every segment go nowhere). The reduction is one scatter_reduce into a buffer with a
# spare segment for those positions, started at ``initial`` (or the reduction's identity: 0,
# 1, -inf, inf), so an empty segment gives ``initial`` or the identity; mean is the sum (with
# ``initial``) over the count, NaN for an empty segment without ``initial``. Every step is a
# differentiable op, so gradients and the tracer need nothing of their own; the checks on the
# lengths' values are run-time checks (runtime/checks.py).

_REDUCES = {"sum": "sum", "prod": "prod", "mean": "mean", "max": "amax", "amax": "amax"}
_REDUCES |= {"min": "amin", "amin": "amin"}
_IDENTITY = {"sum": 0.0, "prod": 1.0, "mean": 0.0, "amax": -math.inf, "amin": math.inf}


def segment_reduce(
    data: Tensor,
    reduce: str,
    *,
    lengths: Tensor | None = None,
    indices: Tensor | None = None,
    offsets: Tensor | None = None,
    axis: int = 0,
    unsafe: bool = False,
    initial: Any = None,
) -> Tensor:
    """The ``reduce`` of each segment of ``data`` along ``axis`` (Note [segment_reduce])."""
    op = _REDUCES.get(reduce)
    if op is None:
        raise RuntimeError(
            f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}"
        )
    if indices is not None:
        raise RuntimeError("segment_reduce(): indices based reduction is not supported yet.")
    if lengths is None and offsets is None:
        raise RuntimeError("segment_reduce(): Either lengths or offsets must be defined.")
    axis = norm_axis(axis, data.ndim)
    given, what = (offsets, "offsets") if offsets is not None else (lengths, "lengths")
    assert given is not None
    if given.ndim - 1 != axis:
        raise RuntimeError(
            f"segment_reduce(): Expected axis to be the last dimension of {what} but got {axis}."
        )
    if not data.dtype.is_floating_point:
        raise NotImplementedError(
            f"\"_segment_reduce_cpu\" not implemented for '{data.dtype.type_name}'"
        )
    if offsets is None:
        offsets = _offsets(_checked(given, data.shape[axis], unsafe))
    return _reduce(data, offsets, axis, op, initial)


def _checked(lengths: Tensor, size: int, unsafe: bool) -> Tensor:
    if unsafe:
        return lengths
    lengths = check(lengths, R.all(lengths >= 0), RuntimeError, "lengths contains negative value!")
    return check(
        lengths,
        R.all(R.sum(lengths, -1) == size),
        RuntimeError,
        "segment_reduce(): Expected all rows of lengths along axis to sum to "
        "data.size(lengths.dim()-1) when !unsafe.",
    )


def _offsets(lengths: Tensor) -> Tensor:
    lead = tuple(lengths.shape[:-1])
    start = zeros(*lead, 1, dtype=lengths.dtype)
    return R.cat([start, R.cumsum(lengths, -1)], -1)


def _reduce(data: Tensor, offsets: Tensor, axis: int, op: str, initial: Any) -> Tensor:
    lead, n = tuple(data.shape[:axis]), data.shape[axis]
    trailing = data.ndim - axis - 1
    segments = offsets.shape[-1] - 1
    offsets = offsets.long()
    pos = R.expand(arange(n), (*lead, n)).contiguous()
    seg = R.searchsorted(offsets, pos, right=True) - 1
    first, last = R.narrow(offsets, -1, 0, 1), R.narrow(offsets, -1, segments, 1)
    inside = R.logical_and(pos >= first, pos < last)
    seg = R.where(inside, seg, segments)  # (the spare segment)
    index = R.expand(R.reshape(seg, (*lead, n, *[1] * trailing)), tuple(data.shape))
    shape = (*lead, segments + 1, *data.shape[axis + 1 :])
    start = _IDENTITY[op] if initial is None else float(initial)
    if op != "mean":
        buf = full(shape, start, dtype=data.dtype)
        out = R.scatter_reduce(buf, axis, index, data, op, include_self=True)
        return R.narrow(out, axis, 0, segments)
    sums = R.scatter_reduce(full(shape, start, dtype=data.dtype), axis, index, data, "sum")
    sums = R.narrow(sums, axis, 0, segments)
    counts = R.narrow(offsets, -1, 1, segments) - R.narrow(offsets, -1, 0, segments)
    counts = R.reshape(counts, (*lead, segments, *[1] * trailing)).to(data.dtype)
    empty = math.nan if initial is None else float(initial)
    return R.where(counts == 0, empty, sums / R.clamp(counts, 1, None))
