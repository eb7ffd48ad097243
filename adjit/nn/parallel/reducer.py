"""DDP's reducer: a hook per parameter marks its gradient ready; a bucket whose gradients are
all ready is flattened and all-reduced asynchronously while the backward goes on; when the
last bucket is launched, the averaged gradients are written back (PyTorch's ``Reducer``)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from adjit.frontend.breaks import disable
from adjit.frontend.each_call import guard, on_each_call
from adjit.ir import dtypes
from adjit.runtime import trace_state
from adjit.runtime.creation import tensor, zeros
from adjit.runtime.grad_mode import no_grad
from adjit.runtime.ops_movement import cat
from adjit.runtime.tensor import Tensor

from . import errors
from .buckets import BucketCaps, assign
from .unused import unused_parameters

# Note [DDP reducer]
# ~~~~~~~~~~~~~~~~~~
# Each parameter's post-accumulate-grad hook (run by the eager engine and by a compiled
# backward node alike) marks it ready. When every parameter of the next bucket in order is
# ready, the bucket's gradients are flattened (``cat`` of ``grad.reshape(-1)``, times
# 1/world_size as PyTorch's ``mul_out`` into the bucket view) and ``all_reduce(...,
# async_op=True)`` is issued; later buckets wait for earlier ones (every rank issues the same
# sequence). When the last bucket is issued, the reducer waits for all of them and copies each
# slice back into ``.grad`` (``copy_`` into an existing gradient, a new one otherwise), or with
# gradient_as_bucket_view makes ``.grad`` a view of the bucket's persistent buffer, so the
# next backward accumulates into the bucket itself. Everything is tensor ops (no NumPy on
# ``._data``) so that the same code traces when the hooks run inside ``adjit.compile``.
#
# Unused parameters (find_unused_parameters): the forward's outputs are walked back through
# the autograd graph; parameters not reached are marked ready at the first hook (their slots
# are zeros), and a second all-reduce of the "used" flags (a parameter counts as used when any
# backward since the last reduction, no_sync ones included, gave it a gradient) tells which
# are unused on every rank: their ``.grad`` is left as it was (None stays None). Without
# find_unused_parameters a parameter that got no gradient leaves the reduction unfinished,
# and the next forward raises PyTorch's error naming its index.


class Bucket:
    """The parameters of one all-reduce: their slots in the flat buffer and this iteration's
    state (gradients still missing, the flat tensor and its work handle)."""

    def __init__(self, indices: list[int], params: Sequence[Tensor], as_view: bool) -> None:
        self.indices = indices
        self.shapes = [tuple(params[i].shape) for i in indices]
        self.numels = [params[i].numel() for i in indices]
        self.offsets = [sum(self.numels[:k]) for k in range(len(indices))]
        self.dtype = params[indices[0]].dtype
        self.pending = len(indices)
        self.flat: Tensor | None = None
        self.work: Any = None
        self.buffer: Tensor | None = None  # gradient_as_bucket_view: the persistent bucket
        self.views: list[Tensor] = []
        if as_view:
            self.buffer = zeros(sum(self.numels), dtype=self.dtype)
            self.views = [self.slot(self.buffer, k) for k in range(len(indices))]

    def slot(self, flat: Tensor, k: int) -> Tensor:
        """Parameter ``k``'s gradient inside ``flat``, shaped as the parameter (a view)."""
        start = self.offsets[k]
        return flat[start : start + self.numels[k]].view(self.shapes[k])


class Reducer:
    """Averages the parameters' gradients over the process group during the backward."""

    def __init__(
        self,
        params: list[Tensor],
        names: list[str],
        bucket_indices: list[list[int]],
        process_group: Any,
        caps: BucketCaps,
        find_unused_parameters: bool,
        gradient_as_bucket_view: bool,
        static_graph: bool,
    ) -> None:
        import adjit.distributed as dist

        self.dist = dist
        self.params = params
        self.names = names
        self.process_group = process_group
        self.rank = dist.get_rank(process_group)
        self.world_size = dist.get_world_size(process_group)
        self.root = root_rank(dist, process_group)
        self.caps = caps
        self.find_unused = find_unused_parameters
        self.as_view = gradient_as_bucket_view
        self.static_graph = static_graph
        n = len(params)
        self.ready = [False] * n  # marked ready in this iteration
        self.local_used = [False] * n  # got a gradient since the last reduction
        self.global_used: list[bool] | None = None  # static graph: the first iteration's
        self.unused: list[int] = []
        self.marked_unused = False
        self.expect_hooks = False  # a synchronizing forward ran and its reduction is open
        self.require_finalize = False
        self.num_iterations = 0
        self.rebuilt: list[int] = []  # the first reduced backward's order of readiness
        self.has_rebuilt = False
        self.used_work: Any = None
        self.used_flags: Tensor | None = None
        self.plan_version = -1  # one more per bucket plan installed
        self.replaying = False  # Note [DDP under adjit.compile]: bookkeeping only
        # (trace, key, value): the DDP flag the last forward read at each call; a backward
        # traced in that trace guards it (its reduction depends on it)
        self.sync_guard: tuple[Any, Any, Any] | None = None
        self.install(bucket_indices)
        self.handles = [
            p.register_post_accumulate_grad_hook(functools.partial(self.autograd_hook, i))
            for i, p in enumerate(params)
        ]

    def install(self, bucket_indices: list[list[int]]) -> None:
        self.buckets = [Bucket(ix, self.params, self.as_view) for ix in bucket_indices]
        self.bucket_of = {i: b for b, ix in enumerate(bucket_indices) for i in ix}
        self.next_bucket = 0
        self.plan_version += 1

    # ---- per forward ---------------------------------------------------------------------
    def dynamic_find_unused(self) -> bool:
        return self.find_unused and not self.static_graph

    def static_first_iteration(self) -> bool:
        return self.static_graph and self.num_iterations == 1

    def should_rebuild(self) -> bool:
        return (self.static_graph or not self.find_unused) and not self.has_rebuilt

    def next_plan(self) -> int:
        """The bucket plan the next forward's backward uses (after a pending rebuild): a
        compiled step that traced the reduction is guarded on it."""
        return self.plan_version + int(self.should_rebuild() and bool(self.rebuilt))

    def ensure_prior_reduction_finished(self) -> None:
        if self.require_finalize:
            unmarked = [i for i, r in enumerate(self.ready) if not r]
            raise RuntimeError(
                errors.unfinished_reduction(
                    self.static_graph, self.find_unused, self.rank, unmarked
                )
            )

    def rebuild_buckets(self) -> bool:
        """Before a forward: the buckets again, in the order the first reduced backward made
        the gradients ready (rank 0's order, broadcast), once (Note [DDP bucket plan])."""
        self.ensure_prior_reduction_finished()
        if not self.should_rebuild() or not self.rebuilt:
            return False
        order = self.rebuilt + [i for i in range(len(self.params)) if i not in self.rebuilt]
        shared = _int_tensor(order)
        self.dist.broadcast(shared, src=self.root, group=self.process_group)
        order = [int(i) for i in shared.tolist()]
        sizes = [(p.numel() * p.element_size(), p.dtype) for p in self.params]
        self.install(assign(sizes, self.caps.rebuild_limits(), order))
        self.has_rebuilt = True
        self.rebuilt = []
        return True

    def searches_unused(self) -> bool:
        """Whether the next ``prepare_for_backward`` walks the graph for unused parameters."""
        return self.dynamic_find_unused() or self.static_graph and self.num_iterations == 0

    def prepare_for_backward(
        self, outputs: Sequence[Tensor], unused: list[int] | None = None
    ) -> None:
        """After a synchronizing forward: expect the hooks; search the unused parameters
        (``unused``: found already, from a traced program)."""
        self.expect_hooks = True
        self.num_iterations += 1
        self.ready = [False] * len(self.params)
        for bucket in self.buckets:
            bucket.pending = len(bucket.indices)
            bucket.flat = bucket.work = None
        self.next_bucket = 0
        self.marked_unused = False
        if self.dynamic_find_unused() or self.static_first_iteration():
            self.unused = unused_parameters(self.params, outputs) if unused is None else unused

    # ---- per gradient --------------------------------------------------------------------
    def replay_hook(self, index: int) -> None:
        """A hook that ran inside a compiled program (its all-reduce and gradient writes are
        the program's): this call's bookkeeping only (Note [DDP under adjit.compile])."""
        self.replaying = True
        try:
            self.autograd_hook(index, self.params[index])
        finally:
            self.replaying = False

    def autograd_hook(self, index: int, param: Tensor) -> None:
        if self.sync_guard is not None and self.sync_guard[0] is not None:
            trace, key, value = self.sync_guard
            if trace() is trace_state.current():
                guard(key, value)
                self.sync_guard = None
        on_each_call(self.replay_hook, index)
        if param.grad is not None:  # also under no_sync: the reduction after it counts it
            self.local_used[index] = True
        if not self.expect_hooks:
            return
        if not self.marked_unused:
            self.marked_unused = True
            for i in self.unused:
                self.mark_ready(i)
        if self.should_rebuild() and index not in self.rebuilt:
            self.rebuilt.append(index)
        self.mark_ready(index)

    def mark_ready(self, index: int) -> None:
        if self.ready[index]:
            raise RuntimeError(errors.MARKED_TWICE.format(index=index, name=self.names[index]))
        self.ready[index] = True
        self.require_finalize = True
        bucket = self.buckets[self.bucket_of[index]]
        bucket.pending -= 1
        if bucket.pending:
            return
        while self.next_bucket < len(self.buckets) and not self.buckets[self.next_bucket].pending:
            self.launch(self.buckets[self.next_bucket])
            self.next_bucket += 1
        if self.next_bucket == len(self.buckets):
            if self.dynamic_find_unused() or self.static_first_iteration():
                self.launch_used_flags()
            self.finalize()

    def launch(self, bucket: Bucket) -> None:
        """Flatten the bucket's gradients (times 1/world_size) and start their all-reduce."""
        if self.replaying:
            return
        if bucket.buffer is not None:
            self.launch_view(bucket)
            return
        with no_grad():
            parts = []
            for k, i in enumerate(bucket.indices):
                grad = self.params[i].grad
                if grad is None:
                    parts.append(zeros(bucket.numels[k], dtype=bucket.dtype))
                else:
                    parts.append(grad.reshape(-1))
            flat = cat(parts).mul_(1.0 / self.world_size)
        bucket.flat = flat
        bucket.work = self.dist.all_reduce(flat, group=self.process_group, async_op=True)

    @disable  # in place into a bucket the gradients are views of: a graph break when traced
    def launch_view(self, bucket: Bucket) -> None:
        """gradient_as_bucket_view: the gradients copied (times 1/world_size) into the bucket's
        persistent buffer, unless they are its views already, and its all-reduce started."""
        assert bucket.buffer is not None
        with no_grad():
            for k, i in enumerate(bucket.indices):
                grad, view = self.params[i].grad, bucket.views[k]
                if grad is None:
                    view.zero_()
                elif grad is view:
                    view.div_(self.world_size)
                else:
                    view.copy_(grad).mul_(1.0 / self.world_size)
        bucket.flat = bucket.buffer
        bucket.work = self.dist.all_reduce(bucket.flat, group=self.process_group, async_op=True)

    @disable  # Python reads the flags (which .grad to write): a graph break when traced
    def launch_used_flags(self) -> None:
        flags = _int_tensor([int(u) for u in self.local_used])
        self.used_flags = flags
        self.used_work = self.dist.all_reduce(flags, group=self.process_group, async_op=True)

    def finalize(self) -> None:
        """Wait for every bucket and write the averaged gradients back."""
        if self.replaying:  # the compiled program waited and wrote them
            self.finished()
            return
        for bucket in self.buckets:
            bucket.work.wait()
        if self.used_work is not None:
            self.used_work.wait()
            assert self.used_flags is not None
            self.global_used = [bool(u) for u in self.used_flags.tolist()]
            self.used_work = self.used_flags = None
        check_used = self.find_unused or self.static_graph
        with no_grad():
            for bucket in self.buckets:
                assert bucket.flat is not None
                for k, i in enumerate(bucket.indices):
                    if check_used and self.global_used and not self.global_used[i]:
                        continue  # unused on every rank: .grad untouched
                    p = self.params[i]
                    if bucket.buffer is not None:
                        if p.grad is not bucket.views[k]:
                            p.grad = bucket.views[k]
                    elif p.grad is None or p.grad._is_tracer:  # (traced: a new value; the
                        # compiled call stores it, Note [DDP under adjit.compile])
                        p.grad = bucket.slot(bucket.flat, k).clone()
                    else:
                        p.grad.copy_(bucket.slot(bucket.flat, k))
                bucket.flat = bucket.work = None
        self.finished()

    def finished(self) -> None:
        """The reduction's end: no hooks expected until the next synchronizing forward."""
        self.expect_hooks = False
        self.require_finalize = False
        self.local_used = [False] * len(self.params)


def _int_tensor(values: list[int]) -> Tensor:
    return tensor(values, dtype=dtypes.int64)


def root_rank(dist: Any, group: Any) -> int:
    """The global rank of the group's rank 0 (collectives take global ranks, as PyTorch)."""
    return 0 if group is None else int(dist.get_global_rank(group, 0))
