"""DDP's bucket plan: which parameters' gradients travel together in one all-reduce, as
PyTorch's ``_BucketCapacityConfig`` and ``compute_bucket_assignment_by_size``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_BUCKET_CAP_MB = 25
MB = 1024 * 1024
DEFAULT_FIRST_BUCKET_BYTES = 1024 * 1024  # torch.distributed._DEFAULT_FIRST_BUCKET_BYTES

# Note [DDP bucket plan]
# ~~~~~~~~~~~~~~~~~~~~~~
# As PyTorch: the first iteration (without find_unused_parameters, or with static_graph) puts
# every gradient in one bucket, because the parameters' order need not be the order their
# gradients are produced in; the backward of that iteration records the order the gradients
# became ready in, and the next forward rebuilds the buckets in that order (rank 0's order,
# broadcast, so every rank launches the same all-reduces): the first bucket (the first
# gradients ready) holds up to 1 MiB, each later one up to ``bucket_cap_mb`` (25 MiB), closed as
# soon as it reaches its limit. With find_unused_parameters the buckets are cut at once, in
# parameter order (first bucket 1 MiB, the others 25 MiB), sorted by their first parameter and
# reduced in reverse (the last parameters' gradients come first), and never rebuilt. With an
# explicit bucket_cap_mb the first bucket is as large as the others. Buckets are launched
# strictly in order, so every rank issues its all-reduces in the same sequence even when its
# gradients become ready in a different one.


@dataclass(frozen=True)
class BucketCaps:
    """The byte limits of the buckets: the first one and every later one."""

    bucket_bytes_cap: int
    first_bucket_bytes_cap: int

    @classmethod
    def create(cls, bucket_cap_mb: float | None) -> BucketCaps:
        cap = int((DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb) * MB)
        return cls(cap, DEFAULT_FIRST_BUCKET_BYTES if bucket_cap_mb is None else cap)

    def initial_limits(self, static_graph: bool, find_unused_parameters: bool) -> list[int]:
        """The limits of the buckets cut at construction (one bucket unless unused parameters
        are searched for: Note [DDP bucket plan])."""
        if static_graph or not find_unused_parameters:
            return [sys.maxsize]
        if self.first_bucket_bytes_cap < self.bucket_bytes_cap:
            return [self.first_bucket_bytes_cap, self.bucket_bytes_cap]
        return [self.bucket_bytes_cap]

    def rebuild_limits(self) -> list[int]:
        return [self.first_bucket_bytes_cap, self.bucket_bytes_cap]


def assign(
    sizes: Sequence[tuple[int, Any]], limits: Sequence[int], order: Sequence[int] | None = None
) -> list[list[int]]:
    """Buckets of parameter indices from each parameter's (bytes, dtype), taken in ``order``
    (default: index order): one open bucket per dtype, closed when it reaches its limit, the
    limits used in turn (the last repeats). Without ``order`` the buckets are sorted by their
    smallest index (PyTorch's ``compute_bucket_assignment_by_size``)."""
    indices = list(range(len(sizes))) if order is None else list(order)
    done: list[list[int]] = []
    open_: dict[Any, tuple[list[int], int]] = {}  # dtype -> (indices, bytes)
    step: dict[Any, int] = {}  # dtype -> which limit its open bucket has
    for i in indices:
        nbytes, dtype = sizes[i]
        members, total = open_.get(dtype, ([], 0))
        members.append(i)
        total += nbytes
        k = step.setdefault(dtype, 0)
        if total >= limits[k]:
            done.append(members)
            members, total = [], 0
            step[dtype] = min(k + 1, len(limits) - 1)
        open_[dtype] = (members, total)
    done += [members for members, _ in open_.values() if members]
    if order is None:
        done.sort(key=min)
    return done
