"""DDP's construction-time agreement: the same parameter shapes on every rank, then rank 0's
parameters and buffers broadcast to all (PyTorch's ``_verify_param_shape_across_processes``
and ``_sync_module_states``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adjit.ir import dtypes
from adjit.runtime.creation import tensor, zeros
from adjit.runtime.grad_mode import no_grad
from adjit.runtime.ops_movement import cat
from adjit.runtime.tensor import Tensor


def _gathered(dist: Any, group: Any, value: int) -> list[int]:
    """Every rank's ``value`` (an all-reduce of one-hot rows: each rank fills its own)."""
    size, rank = dist.get_world_size(group), dist.get_rank(group)
    row = zeros(size, dtype=dtypes.int64)
    row[rank] = value
    dist.all_reduce(row, group=group)
    return [int(v) for v in row.tolist()]


def _metadata(params: Sequence[Tensor]) -> list[int]:
    out: list[int] = []
    for p in params:
        out += list(p.shape) + list(p.stride())
    return out


def verify_params(dist: Any, group: Any, root: int, params: Sequence[Tensor]) -> None:
    """Refuse (on every rank, never a hang) models whose parameter count, sizes or strides
    differ from rank 0's, with PyTorch's messages on the ranks that differ."""
    rank = dist.get_rank(group)
    counts = _gathered(dist, group, len(params))
    for other, count in enumerate(counts):
        if count != len(params):
            raise RuntimeError(
                f"DDP expects same model across all ranks, but Rank {rank} has {len(params)} "
                f"params, while rank {other} has inconsistent {count} params."
            )
    mine = _metadata(params)
    longest = max(_gathered(dist, group, len(mine)))
    padded = tensor(mine + [-1] * (longest - len(mine)), dtype=dtypes.int64)
    dist.broadcast(padded, src=root, group=group)
    control = padded.tolist()
    problem = _first_mismatch(params, control, rank)
    flags = _gathered(dist, group, int(problem is not None))
    if problem is not None:
        raise RuntimeError(problem)
    bad = [r for r, f in enumerate(flags) if f]
    if bad:
        raise RuntimeError(
            f"DDP expects same model across all ranks, but the parameters of rank(s) {bad} do "
            "not match the sizes or strides of the same params in process 0 (see the error "
            "raised there)."
        )


def _first_mismatch(params: Sequence[Tensor], control: list[int], rank: int) -> str | None:
    i = 0
    for p, t in enumerate(params):
        for what, values in (("sizes", list(t.shape)), ("strides", list(t.stride()))):
            theirs = control[i : i + len(values)]
            i += len(values)
            if theirs != values:
                return (
                    f"[{rank}]: params[{p}] in this process with {what} {values} appears not to "
                    f"match {what} of the same param in process 0."
                )
    return None


def broadcast_states(dist: Any, group: Any, root: int, states: Sequence[Tensor]) -> None:
    """Overwrite ``states`` (parameters, buffers) with rank 0's: one broadcast per dtype of
    the flattened tensors (PyTorch's ``_broadcast_coalesced``)."""
    by_dtype: dict[Any, list[Tensor]] = {}
    for t in states:
        by_dtype.setdefault(t.dtype, []).append(t)
    with no_grad():
        for group_ in by_dtype.values():
            flat = cat([t.detach().reshape(-1) for t in group_])
            dist.broadcast(flat, src=root, group=group)
            start = 0
            for t in group_:
                n = t.numel()
                t.copy_(flat[start : start + n].view(t.shape))
                start += n
