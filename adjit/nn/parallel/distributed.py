"""``DistributedDataParallel``: one model replica per process, gradients averaged over the
process group during the backward (PyTorch's ``torch.nn.parallel.DistributedDataParallel``)."""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from adjit.frontend.each_call import each_call
from adjit.frontend.reach import reached
from adjit.nn.module import Module
from adjit.runtime import trace_state
from adjit.runtime.grad_mode import is_grad_enabled

from . import errors
from .buckets import BucketCaps, assign
from .reducer import Reducer, root_rank
from .sync import broadcast_states, verify_params
from .unused import find_tensors, unused_parameters

BROADCAST_BUFFERS_DEPRECATED = (
    "`broadcast_buffers` is deprecated. Use `forward_sync_buffers` instead. IMPORTANT: unlike "
    "`broadcast_buffers=False`, `forward_sync_buffers=False` still syncs buffers at init. If "
    "you rely on buffers NOT being synced at init (e.g. rank-local buffers), keep using "
    "`broadcast_buffers=False` until `init_sync_buffers` is available."
)
BOTH_BUFFER_FLAGS = (
    "Both `broadcast_buffers` and `forward_sync_buffers` were specified. `broadcast_buffers` "
    "is deprecated and its value is ignored when `forward_sync_buffers` is provided."
)
CHECK_REDUCTION_DEPRECATED = (
    "The `check_reduction` argument in `DistributedDataParallel` module is deprecated. Please "
    "avoid using it."
)


# Note [DDP under adjit.compile]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# DDP's work around the wrapped module's forward is traced without graph breaks, split by
# kind (Note [eager on every call] in frontend/each_call.py):
# - Python bookkeeping (before the forward: PyTorch's "Expected to have finished reduction"
#   check and the rebuild of the buckets after the first reduced backward, whose order is an
#   eager broadcast; after it: arming the reducer for the backward) runs eagerly on every
#   call, live while tracing and replayed around the compiled program afterwards (before it,
#   so the check raises before anything runs, and after it).
# - The buffers' broadcast before each forward is tensor work: traced, a COLLECTIVE on the
#   buffers' values, written back by the compiled call.
# - find_unused_parameters: which parameters the forward's output reaches is a property of
#   the trace (frontend/reach.py walks its equations), so it is found once when tracing and
#   replayed; in a whole step the used flags' all-reduce is read by Python (which ``.grad``
#   to write), a graph break (``Reducer.launch_used_flags`` is ``compiler.disable``d).
# - A backward traced in the same program (a whole step compiled) runs the reducer's hooks on
#   tracers, in the order the program makes the gradients: the bucket all-reduces become
#   COLLECTIVE equations of the one program (started as soon as a bucket's last gradient is
#   made: passes/early_collectives.py), the averaged gradients are stored as ``.grad`` for the
#   optimizer traced after them, and each hook registers a replay of its bookkeeping alone
#   (``Reducer.replay_hook``: readiness, the first iteration's order, the end of the
#   reduction), so the reducer's state after a compiled call is an eager step's.
# Guards (what the program assumes about state when a call starts): the bucket plan the next
# backward uses (``Reducer.next_plan``: the first call reduces in one bucket, the call after
# it rebuilds the buckets, which traces once more) and whether buffers are broadcast, checked
# by the first DDP forward in a trace (later ones see the state the traced code made); and,
# for a backward traced in the program, ``require_backward_grad_sync`` as the forward read it
# (``Reducer.sync_guard``: a step traced under no_sync has no all-reduce, so a synchronizing
# call traces again). When the backward runs outside the program, ``no_sync`` is read at each
# call by the replayed bookkeeping, so gradient accumulation does not retrace (unless the module
# has buffers: the forward after a no_sync one does not broadcast them, a different program);
# a ``no_sync`` entered inside the compiled function is its own code, replayed as traced.
# ``DDP(adjit.compile(model))`` needs none of this: the compiled backward node accumulates the
# gradients and calls the hooks (Note [gradients as they are made]).
class DistributedDataParallel(Module):
    """Data parallelism: parameters and buffers broadcast from rank 0 at construction, each
    rank runs its own batch, the backward averages the gradients over the process group in
    buckets all-reduced as they fill (Note [DDP reducer], Note [DDP bucket plan])."""

    # bookkeeping flags a compiled call guards through its replays' keys (Note [eager on every
    # call]), not as constants of the trace (Module._compile_guard)
    _compile_unguarded = frozenset(
        ("require_backward_grad_sync", "require_forward_param_sync", "_has_rebuilt_buckets")
    )

    def __init__(
        self,
        module: Module,
        device_ids: Any = None,
        output_device: Any = None,
        dim: int = 0,
        broadcast_buffers: bool | None = None,
        init_sync: bool = True,
        process_group: Any = None,
        bucket_cap_mb: float | None = None,
        find_unused_parameters: bool = False,
        check_reduction: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
        delay_all_reduce_named_params: Any = None,
        param_to_hook_all_reduce: Any = None,
        mixed_precision: Any = None,
        device_mesh: Any = None,
        skip_all_reduce_unused_params: bool = False,
        bucket_cap_mb_list: list[int] | None = None,
        batched_grad_copy: bool = False,
        forward_sync_buffers: bool | None = None,
    ) -> None:
        super().__init__()
        import adjit.distributed as dist

        for name, value in (
            ("delay_all_reduce_named_params", delay_all_reduce_named_params),
            ("param_to_hook_all_reduce", param_to_hook_all_reduce),
            ("mixed_precision", mixed_precision),
            ("device_mesh", device_mesh),
            ("bucket_cap_mb_list", bucket_cap_mb_list),
        ):
            if value is not None:
                raise NotImplementedError(f"DistributedDataParallel({name}=...) in adjit")
        if skip_all_reduce_unused_params:
            raise NotImplementedError(
                "DistributedDataParallel(skip_all_reduce_unused_params=True) in adjit"
            )
        if process_group is None:
            dist.get_world_size()  # PyTorch's ValueError before init_process_group
            process_group = dist.group.WORLD
        self.process_group = process_group
        self.parameters_to_ignore = set(getattr(module, "_ddp_params_and_buffers_to_ignore", ()))
        self._module_parameters = [
            p for n, p in module.named_parameters() if n not in self.parameters_to_ignore
        ]
        if not any(p.requires_grad for p in self._module_parameters):
            raise RuntimeError(errors.NO_PARAMS)
        if device_ids is not None and len(device_ids) > 1:
            raise ValueError("device_ids can only be None or contain a single element.")
        if device_ids or output_device:
            devices = {p.device for p in self._module_parameters}
            raise ValueError(
                "DistributedDataParallel device_ids and output_device arguments only work with "
                "single-device/multiple-device GPU modules or CPU modules, but got device_ids "
                f"{device_ids}, output_device {output_device}, and module parameters {devices}."
            )
        self.device_ids = None
        self.output_device = None
        self.device_type = "cpu"
        self.is_multi_device_module = False
        self.dim = dim
        self.module = module
        self.device = self._module_parameters[0].device
        if broadcast_buffers is not None:
            warnings.warn(
                BOTH_BUFFER_FLAGS
                if forward_sync_buffers is not None
                else BROADCAST_BUFFERS_DEPRECATED,
                FutureWarning,
                stacklevel=2,
            )
        if forward_sync_buffers is not None:
            self.forward_sync_buffers = forward_sync_buffers
            init_sync_buffers = True
        else:
            self.forward_sync_buffers = True if broadcast_buffers is None else broadcast_buffers
            init_sync_buffers = self.forward_sync_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.batched_grad_copy = batched_grad_copy
        self.mixed_precision = None
        if check_reduction:
            warnings.warn(CHECK_REDUCTION_DEPRECATED, FutureWarning, stacklevel=2)
        self.broadcast_bucket_size = 250 * 1024 * 1024
        self._caps = BucketCaps.create(bucket_cap_mb)
        self.bucket_bytes_cap = self._caps.bucket_bytes_cap
        self.bucket_bytes_cap_default = bucket_cap_mb is None
        self.static_graph = static_graph
        parameters, names = self._build_params_for_reducer()
        root = root_rank(dist, self.process_group)
        if init_sync:
            verify_params(dist, self.process_group, root, parameters)
            states: list[Any] = [
                p for n, p in module.named_parameters() if n not in self.parameters_to_ignore
            ]
            if init_sync_buffers:
                states += self.modules_buffers
            broadcast_states(dist, self.process_group, root, states)
        sizes = [(p.numel() * p.element_size(), p.dtype) for p in parameters]
        limits = self._caps.initial_limits(static_graph, find_unused_parameters)
        self.reducer = Reducer(
            parameters,
            names,
            list(reversed(assign(sizes, limits))),
            self.process_group,
            self._caps,
            find_unused_parameters,
            gradient_as_bucket_view,
            static_graph,
        )
        self._has_rebuilt_buckets = False
        # the trace whose code last ran a forward of this DDP / set require_backward_grad_sync
        # (no_sync inside a compiled function): Note [DDP under adjit.compile]
        self._forward_in: Any = None
        self._sync_set_in: Any = None

    def _build_params_for_reducer(self) -> tuple[list[Any], list[str]]:
        """The parameters that require grad, each once, in module order, with their names."""
        seen: set[int] = set()
        params, names = [], []
        for module_name, m in self.module.named_modules():
            for param_name, p in m.named_parameters(recurse=False):
                fqn = f"{module_name}.{param_name}"  # PyTorch's name (".weight" at the root)
                if p.requires_grad and fqn not in self.parameters_to_ignore and id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
                    names.append(fqn)
        self.modules_buffers = [
            b for n, b in self.module.named_buffers() if n not in self.parameters_to_ignore
        ]
        return params, names

    @property
    def broadcast_buffers(self) -> bool:
        return self.forward_sync_buffers

    @broadcast_buffers.setter
    def broadcast_buffers(self, value: bool) -> None:
        self.forward_sync_buffers = value

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Gradients of the forward-backward passes inside accumulate locally; the first
        backward after the context reduces them (the forward must be inside)."""
        old, old_in = self.require_backward_grad_sync, self._sync_set_in
        self.require_backward_grad_sync = False
        self._sync_set_in = _current_trace()
        try:
            yield
        finally:
            self.require_backward_grad_sync, self._sync_set_in = old, old_in

    def will_sync_module_buffers(self) -> bool:
        return (
            self.require_forward_param_sync
            and self.forward_sync_buffers
            and len(self.modules_buffers) > 0
        )

    def _pre_forward(self, *inputs: Any, **kwargs: Any) -> tuple[tuple, dict]:
        """Before the module's forward (Note [DDP under adjit.compile]): the reduction
        bookkeeping (eager, on every call), then the buffers' broadcast (traced)."""
        grad = is_grad_enabled()
        trace = _current_trace()
        first = trace is None or _deref(self._forward_in) is not trace()
        self._forward_in = trace
        key = self._plan_key if first else None  # (later ones: state the trace made)
        each_call(self._pre_bookkeeping, grad, before=True, key=key)
        if self.will_sync_module_buffers():
            import adjit.distributed as dist

            root = root_rank(dist, self.process_group)
            broadcast_states(dist, self.process_group, root, self.modules_buffers)
        return inputs, kwargs

    def _pre_bookkeeping(self, grad: bool) -> None:
        if grad and self.reducer.rebuild_buckets():
            self._has_rebuilt_buckets = True

    def _plan_key(self) -> tuple:
        """What a compiled call's program assumes about DDP's state when it starts: the
        bucket plan (a traced backward's all-reduces) and whether buffers are broadcast."""
        return (self.reducer.next_plan(), self.will_sync_module_buffers())

    def _post_forward(self, output: Any) -> Any:
        """After the module's forward: expect the gradient hooks (a synchronizing forward),
        with the unused parameters found from the output (from the traced program inside
        adjit.compile: which parameters it reaches is a property of the trace)."""
        grad = is_grad_enabled()
        unused = None
        if grad and self.reducer.searches_unused():
            outputs = list(find_tensors(output))
            found = reached(outputs, self.reducer.params)
            if found is None:  # eager values: walk their autograd graph
                unused = unused_parameters(self.reducer.params, outputs)
            else:
                unused = [i for i, r in enumerate(found) if not r]
        trace = _current_trace()
        if trace is not None and _deref(self._sync_set_in) is trace():
            sync: bool | None = self.require_backward_grad_sync  # (no_sync in the function)
        else:  # read at each call; a traced backward's hooks guard it (Reducer.sync_guard)
            sync = None
            self.reducer.sync_guard = (trace, self._sync_key, self.require_backward_grad_sync)
        each_call(self._post_bookkeeping, grad, sync, unused)
        return output

    def _sync_key(self) -> bool:
        return self.require_backward_grad_sync

    def _post_bookkeeping(self, grad: bool, sync: bool | None, unused: list[int] | None) -> None:
        if sync is None:
            sync = self.require_backward_grad_sync
        if grad and sync:
            self.require_forward_param_sync = True
            self.reducer.prepare_for_backward((), unused)
        else:
            self.require_forward_param_sync = False

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        inputs, kwargs = self._pre_forward(*inputs, **kwargs)
        return self._post_forward(self.module(*inputs, **kwargs))

    def train(self, mode: bool = True) -> DistributedDataParallel:
        super().train(mode)
        return self


def _current_trace() -> Any:
    """A weak reference to the trace being recorded, or None."""
    trace = trace_state.current()
    return None if trace is None else weakref.ref(trace)


def _deref(ref: Any) -> Any:
    return None if ref is None else ref()
