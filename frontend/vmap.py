"""``vmap``: torch.func.vmap as a transform of the graph IR (trace once, batch, replay).

Note [vmap as a pass]
~~~~~~~~~~~~~~~~~~~~~
``vmap(f)(*args)`` traces ``f`` once, in a fresh Trace, on inputs of the per-example shapes
(the mapped dim of each batched argument dropped; tensors ``f`` reaches from outside are
lifted as further inputs, the same for every example), batches the graph with the batching
pass (passes/batching.py, rules in ir/batching.py) and replays the batched graph on the real
arguments (frontend/replay.py). Replayed eagerly, each equation records eager autograd, so
gradients flow through vmap; replayed inside a trace (under adjit.compile, or inside another
transform), the batched program is emitted into that trace and compiled and fused like any
other, with no loop over the examples. vmap(vmap(f)) is the inner vmap traced by the outer
one. A Python use of a tensor's value inside ``f`` (``.item()``, ``if t:``) raises
torch.func's vmap errors (the trace's session, ``_Session``). In-place writes: into a batched
argument, they reach the caller's tensor after the call (PyTorch writes through its batched
view; recorded by eager autograd as a copy_); into an unbatched argument or a tensor from
outside, the write lands once when the written value is the same for every example, and is
PyTorch's error when it differs per example.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, cast

import numpy as np

from ..ir.aval import Aval
from ..ir.batching import Dim
from ..ir.derivatives import conform
from ..ir.graph import Var
from ..runtime.generator import get_rng_state, set_rng_state
from ..runtime.grad_mode import is_grad_enabled, no_grad
from ..runtime.tensor import Tensor
from .batch_builder import batched_graph
from .each_call import hand_over
from .pytree import flatten, unflatten
from .replay import replay
from .tracer import Trace, Tracer, tracing
from .vmap_args import (
    broadcast_prefix,
    check_out_dims,
    flat_out_dims,
    func_name,
    process_inputs,
    unbatch,
)

ITEM_ERROR = (
    "vmap: It looks like you're calling .item() on a Tensor. We don't support vmap over "
    "calling .item() on a Tensor, please try to rewrite what you're doing with other "
    "operations. If error is occurring somewhere inside PyTorch internals, please file a bug "
    "report."
)
CONTROL_FLOW_ERROR = (
    "vmap: It looks like you're attempting to use a Tensor in some data-dependent control "
    "flow. We don't support that yet, please file an issue at "
    "https://github.com/pytorch/pytorch/issues ."
)
NO_STORAGE_ERROR = "Cannot access data pointer of Tensor that doesn't have storage"
INPLACE_ERROR = (
    "vmap: inplace arithmetic(self, *extra_args) is not possible because there exists a "
    "Tensor `other` in extra_args that has more elements than `self`. This happened due to "
    "`other` being vmapped over but `self` not being vmapped over in a vmap. Please try to use "
    "out-of-place operators instead of inplace arithmetic. If said operator is being called "
    "inside the PyTorch framework, please file a bug report instead."
)
ARGUMENT_WRITE_ERROR = (
    "vmap: an in-place op changed the shape or dtype of an argument of the vmapped function, "
    "which adjit.vmap does not support; use the out-of-place op"
)
BATCH_NORM_ERROR = (
    "Batch norm got a batched tensor as input while the running_mean or running_var, which "
    "will be updated in place, were not batched.\nIf you are using a module and do not need "
    "eval mode, please set `track_running_stats` to be False.If you are using a prebuilt "
    "module and do not need eval mode, please see the functorch website for resources on how "
    "to patch your module to work with vmap"
)
# what the tracer says it needed -> torch.func's error for it
_VALUE_ERRORS = {
    "Tensor.item()": ITEM_ERROR,
    "float(tensor)": ITEM_ERROR,
    "int(tensor)": ITEM_ERROR,
    "a tensor used as a Python index": ITEM_ERROR,
    "Tensor.tolist()": NO_STORAGE_ERROR,
    "Tensor.numpy()": NO_STORAGE_ERROR,
    "conversion to a NumPy array": NO_STORAGE_ERROR,
}


class _VmapTrace(Trace):
    """The per-example trace: a read of a traced value is torch.func's error, never a graph
    break; a tensor from outside is concrete and the same for every example (it is read)."""

    def __init__(self) -> None:
        super().__init__()
        self.session = _Session(self)

    def read_outside(self, t: Tensor, what: str) -> None:
        return None

    def split(self, reason: str, error: str) -> Any:
        raise RuntimeError(_dynamic_error(reason))

    def eager_call(self, reason: str, fn: Any, *args: Any) -> Any:
        raise RuntimeError(_dynamic_error(reason))

    # autograd.grad of eager values with per-example cotangents runs the eager engine here: its
    # rules record the cotangents' work into this trace (PyTorch vmaps its engine the same way)
    autograd_in_place = True

    def make_leaf(self, t: Tracer, requires_grad: bool) -> None:
        super().make_leaf(t, requires_grad)
        self.made_leaves_at[id(t)] = t._var  # (a new value, not a write into the argument)

    def hide_arguments(self) -> list[Var]:
        """The argument inputs so far, kept out of ``input_vars``: an in-place op on an
        argument rebinds its tracer (written into the caller's tensor after the call, as
        PyTorch's vmap writes through its batched view) instead of being refused."""
        hidden = list(self.input_vars)
        self.input_vars.clear()
        self.made_leaves_at: dict[int, Var] = {}
        return hidden


def _dynamic_error(what: str) -> str:
    return (
        f"vmap: {what}: the values of a batched tensor are not known to vmap (the function is "
        "traced once for all examples); operators whose output shape depends on the values "
        'cannot be batched, as in PyTorch ("vmap: We do not support batching operators that '
        'can output dynamic shape")'
    )


class _Session:
    """The vmap trace's answer to a Python use of a value: torch.func's error (a value of a
    tensor from outside is known, and the same for every example: it may be read)."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace

    def graph_break(self, what: str, error: str | None = None, value: Any = None) -> None:
        if what.startswith("bool(tensor)"):
            raise RuntimeError(CONTROL_FLOW_ERROR)
        raise RuntimeError(_VALUE_ERRORS.get(what) or _dynamic_error(what))

    def resolve(self, t: Any) -> NoReturn:
        raise RuntimeError(CONTROL_FLOW_ERROR)


# ---- the transform -------------------------------------------------------------------------------
def batched_call(
    func: Callable[..., Any],
    flat_args: list[Any],
    flat_in_dims: Sequence[Dim],
    args_spec: Any,
    kwargs: dict[str, Any],
    size: int,
    randomness: str,
) -> tuple[Any, list[Any], list[Dim]]:
    """``func`` traced per example, batched and replayed: (the output's tree spec, its
    leaves, each tensor leaf's batch dim: 0 or None)."""
    trace = _VmapTrace()
    grad_on = is_grad_enabled()
    tensors: list[Tensor] = []
    dims: list[Dim] = []
    with tracing(trace):
        leaves = []
        for a, d in zip(flat_args, flat_in_dims, strict=True):
            if not isinstance(a, Tensor):
                leaves.append(a)
                continue
            shape = tuple(a.shape)
            if d is not None:
                shape = shape[:d] + shape[d + 1 :]
            leaves.append(trace.new_input(Aval(shape, a.dtype), grad_on and a.requires_grad))
            tensors.append(a)
            dims.append(d)
        arg_vars = trace.hide_arguments()
        out = func(*unflatten(args_spec, leaves), **kwargs)
        flat_out, out_spec = flatten(out)
        outs = [t for t in flat_out if isinstance(t, Tensor)]
        tracers = [x for x in leaves if isinstance(x, Tracer) and x._trace is trace]
        written = [
            (k, t)
            for k, t in enumerate(tracers)
            if t._var is not arg_vars[k] and t._var is not trace.made_leaves_at.get(id(t))
        ]
        graph = trace.graph(outs, [t for _, t in written])
        graph = graph.replace(inputs=(*arg_vars, *graph.inputs))
    hand_over(trace)  # Note [eager on every call]
    mutated = [t for t, _ in trace.mutated.values()]
    in_dims = [*dims, *[None] * len(trace.lifted)]
    batched, out_dims = batched_graph(graph, in_dims, size, randomness)
    results = replay(batched, [*tensors, *trace.lifted])
    n = len(outs)
    m = n + len(mutated)
    for t, value, d in zip(mutated, results[n:m], out_dims[n:m], strict=True):
        if d is not None:
            raise RuntimeError(_inplace_error(trace, t))
        with no_grad():
            cast(Any, t).copy_(value)
    for (k, t), value, d in zip(written, results[m:], out_dims[m:], strict=True):
        _write_back(tensors[k], dims[k], t, value, d)
    it = iter(zip(results[:n], out_dims[:n], strict=True))
    values: list[Any] = []
    value_dims: list[Dim] = []
    for x in flat_out:
        v, d = next(it) if isinstance(x, Tensor) else (x, None)
        values.append(v)
        value_dims.append(d)
    return out_spec, values, value_dims


def _inplace_error(trace: Trace, t: Tensor) -> str:
    """PyTorch's error for a batched value written into ``t``: its batch norm text when ``t``
    holds running statistics of a module the function called."""
    for m in trace.modules.values():
        if any(getattr(m, n, None) is t for n in ("running_mean", "running_var")):
            return BATCH_NORM_ERROR
    return INPLACE_ERROR


def _write_back(target: Any, td: Dim, tracer: Tracer, value: Any, d: Dim) -> None:
    """An argument the function wrote in place: the caller's tensor gets the new values."""
    per_example = list(target.shape)
    if td is not None:
        del per_example[td]
    if list(tracer.shape) != per_example or tracer.dtype is not target.dtype:
        raise RuntimeError(ARGUMENT_WRITE_ERROR)
    if td is None and d is not None:
        raise RuntimeError(INPLACE_ERROR)
    if td is not None:
        value = value.movedim(0, td) if d is not None else value.unsqueeze(td)
    target.copy_(value)


def _flat_vmap(
    func: Callable[..., Any],
    size: int,
    flat_in_dims: list[Dim],
    flat_args: list[Any],
    args_spec: Any,
    out_dims: Any,
    randomness: str,
    kwargs: dict[str, Any],
) -> Any:
    spec, values, dims = batched_call(
        func, flat_args, flat_in_dims, args_spec, kwargs, size, randomness
    )
    outputs = unflatten(spec, values)
    flat_dims = flat_out_dims(out_dims, outputs, spec, func)
    name = func_name(func)
    unbatched = [
        unbatch(name, v, d, od, size) for v, d, od in zip(values, dims, flat_dims, strict=False)
    ]
    return unflatten(spec, unbatched)


def _chunk_sizes(total: int, chunk_size: int) -> list[int]:
    sizes = [chunk_size] * (total // chunk_size)
    if total % chunk_size:
        sizes.append(total % chunk_size)
    return sizes


def _chunked_vmap(
    func: Callable[..., Any],
    size: int,
    flat_in_dims: list[Dim],
    flat_args: list[Any],
    args_spec: Any,
    out_dims: Any,
    randomness: str,
    chunk_size: int,
    kwargs: dict[str, Any],
) -> Any:
    """PyTorch's chunked vmap: a vmap per chunk of examples, outputs concatenated."""
    from ..runtime.functional import cat

    bounds = np.cumsum([0, *_chunk_sizes(size, chunk_size)])
    state = get_rng_state() if randomness == "same" else None
    results = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        if hi == lo:
            continue
        chunk = [
            a if d is None else a.narrow(d, int(lo), int(hi - lo))
            for a, d in zip(flat_args, flat_in_dims, strict=True)
        ]
        if state is not None:
            set_rng_state(state)
        results.append(
            _flat_vmap(
                func, int(hi - lo), flat_in_dims, chunk, args_spec, out_dims, randomness, kwargs
            )
        )
    flat_results = [flatten(r) for r in results]
    spec = flat_results[0][1]
    flat_dims = broadcast_prefix(out_dims, spec)
    assert flat_dims is not None
    joined = []
    for k, d in enumerate(flat_dims):  # torch.cat's checks, as PyTorch's chunked vmap meets them
        parts = [leaves[k] for leaves, _ in flat_results]
        for i, x in enumerate(parts):
            if not isinstance(x, Tensor):
                raise TypeError(
                    f"expected Tensor as element {i} in argument 0, but got {type(x).__name__}"
                )
        if not isinstance(d, int):
            raise TypeError(f"cat(): argument 'dim' must be int, not {type(d).__name__}")
        joined.append(cat(parts, dim=d))
    return unflatten(spec, joined)


def vmap(
    func: Callable[..., Any],
    in_dims: Any = 0,
    out_dims: Any = 0,
    randomness: str = "error",
    *,
    chunk_size: int | None = None,
) -> Callable[..., Any]:
    """torch.func.vmap: ``func`` mapped over a dim of its inputs, as one batched program."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(
            "Only allowed values for randomness are 'error', 'different', or 'same'. "
            f"Got {randomness}"
        )
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        check_out_dims(out_dims, func)
        size, flat_in_dims, flat_args, spec = process_inputs(in_dims, args, func)
        if chunk_size is not None:
            return _chunked_vmap(
                func, size, flat_in_dims, flat_args, spec, out_dims, randomness, chunk_size,
                kwargs,
            )  # fmt: skip
        return _flat_vmap(func, size, flat_in_dims, flat_args, spec, out_dims, randomness, kwargs)

    with contextlib.suppress(AttributeError, TypeError):
        functools.update_wrapper(wrapped, func)
    return wrapped


class VmappedRule:
    """A CUSTOM_VJP rule for a batch of examples, from a per-example rule that has no
    ``batched`` method of its own (PyTorch's formulas attached with ``with_rule``): its
    ``vjp`` is the per-example one, vmapped."""

    def __init__(self, rule: Any, in_dims: tuple[Any, ...], size: int) -> None:
        self.rule, self.in_dims, self.size = rule, in_dims, size

    def __repr__(self) -> str:
        return repr(self.rule)

    def vjp(self, g: Any, out: Any, inputs: Sequence[Any], needs: tuple[bool, ...]) -> tuple:
        rule, d0 = self.rule, self.in_dims[0]
        wanted: list[int] = []

        def per_example(g: Any, out: Any, *ins: Any) -> list[Any]:
            cts = rule.vjp(g, out, ins, needs)
            wanted[:] = [i for i, c in enumerate(cts) if c is not None]
            return [conform(cts[i], tuple(ins[i].shape), ins[i].dtype) for i in wanted]

        args = [g, out, *inputs]
        dims = [d0, d0, *self.in_dims]
        dims = [d if isinstance(a, Tensor) else None for a, d in zip(args, dims, strict=True)]
        _, values, vdims = batched_call(
            per_example, args, dims, flatten(args)[1], {}, self.size, "error"
        )
        found: list[Any] = [None] * len(inputs)
        for i, v, d in zip(wanted, values, vdims, strict=True):
            found[i] = v if d is not None else unbatch("vjp", v, None, 0, self.size)
        return tuple(found)
