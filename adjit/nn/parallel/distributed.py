"""``DistributedDataParallel``: one model replica per process, gradients averaged over the
process group during the backward (PyTorch's ``torch.nn.parallel.DistributedDataParallel``)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from adjit.frontend.breaks import disable
from adjit.nn.module import Module
from adjit.runtime.grad_mode import is_grad_enabled

from . import errors
from .buckets import BucketCaps, assign
from .reducer import Reducer, root_rank
from .sync import broadcast_states, verify_params
from .unused import find_tensors

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
# DDP's work around the wrapped module's forward (the buffers' broadcast and the reduction
# bookkeeping before it; the search for unused parameters and arming the gradient hooks after
# it) is Python with side effects that must happen on every call. ``_pre_forward`` and
# ``_post_forward`` are therefore ``compiler.disable``d: in ``adjit.compile(ddp)`` they are
# graph breaks, so they run eagerly on every call while the module's own forward is compiled
# (as PyTorch's dynamo compiles the module inside a DDP). ``DDP(adjit.compile(model))`` needs
# nothing: the compiled backward node accumulates the gradients and calls the hooks.
class DistributedDataParallel(Module):
    """Data parallelism: parameters and buffers broadcast from rank 0 at construction, each
    rank runs its own batch, the backward averages the gradients over the process group in
    buckets all-reduced as they fill (Note [DDP reducer], Note [DDP bucket plan])."""

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
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def will_sync_module_buffers(self) -> bool:
        return (
            self.require_forward_param_sync
            and self.forward_sync_buffers
            and len(self.modules_buffers) > 0
        )

    @disable
    def _pre_forward(self, *inputs: Any, **kwargs: Any) -> tuple[tuple, dict]:
        """Note [DDP under adjit.compile]: eager on every call."""
        if is_grad_enabled() and self.reducer.rebuild_buckets():
            self._has_rebuilt_buckets = True
        if self.will_sync_module_buffers():
            import adjit.distributed as dist

            root = root_rank(dist, self.process_group)
            broadcast_states(dist, self.process_group, root, self.modules_buffers)
        return inputs, kwargs

    @disable
    def _post_forward(self, output: Any) -> Any:
        if is_grad_enabled() and self.require_backward_grad_sync:
            self.require_forward_param_sync = True
            searching = self.find_unused_parameters or self.static_graph
            self.reducer.prepare_for_backward(list(find_tensors(output)) if searching else [])
        else:
            self.require_forward_param_sync = False
        return output

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        inputs, kwargs = self._pre_forward(*inputs, **kwargs)
        return self._post_forward(self.module(*inputs, **kwargs))

    def train(self, mode: bool = True) -> DistributedDataParallel:
        super().train(mode)
        return self
