"""``adjit.utils.checkpoint``: activation checkpointing (recompute the forward in backward)."""

from __future__ import annotations

import contextlib
import itertools
import warnings
from collections.abc import Callable
from typing import Any

from adjit.autograd import Function, FunctionCtx
from adjit.autograd.graph import saved_tensors_hooks
from adjit.runtime.backward import backward as _backward
from adjit.runtime.generator import get_rng_state, set_rng_state
from adjit.runtime.grad_mode import enable_grad, is_grad_enabled, no_grad
from adjit.runtime.tensor import Tensor
from adjit.runtime.trace_state import current as _current_trace

__all__ = ["CheckpointError", "CheckpointFunction", "checkpoint", "checkpoint_sequential"]
__all__ += ["noop_context_fn"]

# Note [activation checkpointing]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# use_reentrant=False (recommended, as PyTorch): the forward runs under grad mode inside
# saved-tensor hooks (Note [saved tensor hooks] in runtime/saved_hooks.py) whose pack keeps
# only a position; the first unpack in backward reruns the function (with the RNG state it
# had) under hooks that collect what it saves, in the same order, and each unpack takes its
# own. The graph is the ordinary one, so autograd.grad and double backward work.
# use_reentrant=True: a custom Function whose forward runs without grad and whose backward
# reruns the function with grad and calls backward inside backward (PyTorch's older scheme:
# gradients reach the inputs, parameters accumulate into .grad; autograd.grad is refused).

# Note [checkpoint traced]
# ~~~~~~~~~~~~~~~~~~~~~~~~
# Inside adjit.compile (a trace is active) checkpoint neither hooks nor reruns anything: the
# function is traced once, and every equation it records carries a region number (Eqn.remat,
# set through Trace.remat; the adjoint keeps it on the joint graph's forward copies). The
# forward/backward partitioner (passes/remat.py) then must not save any value made in a
# region: the backward program recomputes it from what it can read (the region's inputs, or
# values saved outside it). Random draws are the exception: the forward program draws once and
# the backward reads the sample (Note [random numbers in compiled code]), so the recomputation
# sees the very numbers the forward used, as eager's preserved RNG state gives (with
# preserve_rng_state=False too, where eager would draw afresh). Both use_reentrant values mark
# the region (their gradients agree; the compiled call has no backward-inside-backward), except
# that a reentrant call none of whose inputs requires grad runs without grad, as eagerly (its
# closed-over parameters then get no gradient from it, PyTorch's known reentrant caveat).
# checkpoint_sequential marks each of its segments but the last, as eagerly.
_REGIONS = itertools.count(1)


class _traced_region:
    """While tracing: the equations recorded inside get a fresh checkpoint region number."""

    def __init__(self, trace: Any) -> None:
        self.trace = trace

    def __enter__(self) -> None:
        self.prev = self.trace.remat
        self.trace.remat = next(_REGIONS)

    def __exit__(self, *exc: object) -> None:
        self.trace.remat = self.prev


REENTRANT_WARNING = (
    "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. Starting "
    "in PyTorch 2.9, calling checkpoint without use_reentrant will raise an exception. "
    "use_reentrant=False is recommended, but if you need to preserve the current default "
    "behavior, you can pass use_reentrant=True. Refer to docs for more details on the "
    "differences between the two variants."
)


def noop_context_fn() -> tuple[contextlib.nullcontext, contextlib.nullcontext]:
    """The default ``context_fn``: no context around the forward or the recomputation."""
    return contextlib.nullcontext(), contextlib.nullcontext()


class CheckpointError(RuntimeError):
    """The recomputed forward did not save what the original one did."""


class CheckpointFunction(Function):
    """use_reentrant=True: Note [activation checkpointing]."""

    @staticmethod
    def forward(
        ctx: FunctionCtx, run_function: Callable[..., Any], preserve: bool, *args: Any
    ) -> Any:
        ctx.run_function, ctx.preserve = run_function, preserve  # type: ignore[attr-defined]
        ctx.rng_state = get_rng_state() if preserve else None  # type: ignore[attr-defined]
        ctx.inputs = args  # type: ignore[attr-defined]
        with no_grad():
            return run_function(*args)

    @staticmethod
    def backward(ctx: FunctionCtx, *grads: Any) -> Any:
        inputs = [
            a.detach().requires_grad_(a.requires_grad) if isinstance(a, Tensor) else a
            for a in ctx.inputs  # type: ignore[attr-defined]
        ]
        with _rng_as(ctx.rng_state), enable_grad():  # type: ignore[attr-defined]
            outputs = ctx.run_function(*inputs)  # type: ignore[attr-defined]
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [
            (o, g)
            for o, g in zip(outputs, grads, strict=False)
            if isinstance(o, Tensor) and o.requires_grad
        ]
        if not pairs:
            raise RuntimeError(
                "none of output has requires_grad=True, this checkpoint() is not necessary"
            )
        _backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None, *(a.grad if isinstance(a, Tensor) else None for a in inputs))


class _rng_as:
    """Run a block with the global RNG at ``state`` (when given), restoring it afterwards."""

    def __init__(self, state: Tensor | None) -> None:
        self.state = state

    def __enter__(self) -> None:
        if self.state is not None:
            self.saved = get_rng_state()
            set_rng_state(self.state)

    def __exit__(self, *exc: object) -> None:
        if self.state is not None:
            set_rng_state(self.saved)


class _Frame:
    """One non-reentrant checkpointed call: what its forward saved, recomputed on demand."""

    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict, preserve: bool) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.rng_state = get_rng_state() if preserve else None
        self.count = 0
        self.recomputed: list[Tensor | None] = []
        self.recompute_context: Any = contextlib.nullcontext()

    def pack(self, t: Tensor) -> int:
        self.count += 1
        return self.count - 1

    def unpack(self, position: int) -> Tensor:
        if position >= len(self.recomputed) or self.recomputed[position] is None:
            self._recompute()
        t = self.recomputed[position]
        self.recomputed[position] = None  # each is read once per backward pass
        assert t is not None
        return t

    def _recompute(self) -> None:
        collected: list[Tensor] = []

        def keep(t: Tensor) -> Tensor:
            collected.append(t)
            return t

        hooks = saved_tensors_hooks(keep, lambda t: t)
        with _rng_as(self.rng_state), enable_grad(), hooks, self.recompute_context:
            self.fn(*self.args, **self.kwargs)  # the inputs themselves: double backward
        if len(collected) != self.count:
            raise CheckpointError(
                "torch.utils.checkpoint: A different number of tensors was saved during the "
                "original forward and recomputation.\n"
                f"Number of tensors saved during forward: {self.count}\n"
                f"Number of tensors saved during recomputation: {len(collected)}."
            )
        self.recomputed = list(collected)


def checkpoint(
    function: Callable[..., Any],
    *args: Any,
    use_reentrant: bool | None = None,
    context_fn: Callable[[], Any] = noop_context_fn,
    determinism_check: str = "default",
    debug: bool = False,
    early_stop: bool = True,
    **kwargs: Any,
) -> Any:
    """``function(*args, **kwargs)`` keeping none of its intermediate activations: backward
    recomputes them (Note [activation checkpointing])."""
    if use_reentrant is None:
        warnings.warn(REENTRANT_WARNING, stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if determinism_check not in ("default", "none"):
        raise ValueError(
            f"determinism_check should be one of ['default', 'none'], but got {determinism_check}"
        )
    if use_reentrant:
        if context_fn is not noop_context_fn or debug:
            raise ValueError(
                "Passing `context_fn` or `debug` is only supported when use_reentrant=False."
            )
        if is_grad_enabled() and not any(isinstance(a, Tensor) and a.requires_grad for a in args):
            warnings.warn(
                "None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2
            )
        trace = _current_trace()
        if trace is not None and is_grad_enabled():  # Note [checkpoint traced]
            if not any(isinstance(a, Tensor) and a.requires_grad for a in args):
                with no_grad():  # eager's result: no input requires grad, no history
                    return function(*args)
            with _traced_region(trace):
                return function(*args)
        return CheckpointFunction.apply(function, preserve, *args)
    if not is_grad_enabled():
        return function(*args, **kwargs)
    trace = _current_trace()
    if trace is not None:  # Note [checkpoint traced]
        if context_fn is not noop_context_fn:
            raise NotImplementedError(
                "torch.utils.checkpoint: context_fn is not supported inside adjit.compile (the "
                "checkpointed region is recomputed by the compiled backward, which runs no "
                "Python contexts); call the function eagerly or without context_fn"
            )
        with _traced_region(trace):
            return function(*args, **kwargs)
    frame = _Frame(function, args, kwargs, preserve)
    forward_context, frame.recompute_context = context_fn()
    with saved_tensors_hooks(frame.pack, frame.unpack), forward_context:
        return function(*args, **kwargs)


def checkpoint_sequential(
    functions: Any,
    segments: int,
    input: Tensor,
    use_reentrant: bool | None = None,
    **kwargs: Any,  # noqa: A002
) -> Any:
    """Run ``functions`` (a Sequential or a list of modules) in ``segments`` checkpointed
    chunks; the last chunk runs normally."""
    if use_reentrant is None:
        warnings.warn(REENTRANT_WARNING, stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    fns: list[Any] = (
        list(functions.children()) if hasattr(functions, "children") else list(functions)
    )

    def run(start: int, end: int) -> Callable[[Tensor], Tensor]:
        def forward(x: Tensor) -> Tensor:
            for j in range(start, end + 1):
                x = fns[j](x)
            return x

        return forward

    size = len(fns) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(  # noqa: A001
            run(start, end), input, use_reentrant=use_reentrant, preserve_rng_state=preserve
        )
    return run(end + 1, len(fns) - 1)(input)
