"""Collectives of ``adjit.distributed`` called on traced tensors: recorded as COLLECTIVE equations.

Note [traced collectives]
~~~~~~~~~~~~~~~~~~~~~~~~~
``adjit.distributed`` hands a collective whose tensor is a tracer to ``traced_collective``
(registered as its trace hook, ``TRACE_HOOK``, by the upper layer: the frontend never imports
it). The call becomes a COLLECTIVE equation (Note [collectives in the IR] in
ir/collectives.py) whose ``coll`` is an ``EagerCollective``: the eager function itself, called
on the program's buffer with ``async_op=True`` when the step runs, so a compiled collective
checks signatures, propagates failures and times out exactly as an eager one. The tensor is
rebound to the equation's result, as any traced in-place op (a tensor from outside the
function, a buffer, is written back after each call; one made from constants inside it is
refused: its exchange would run once, when tracing); with ``async_op=True`` the call
returns a ``TracedWork`` whose ``wait()`` records nothing: the executor waits right before
the first step that reads the result, which is where a correct program's ``wait()`` is (a
read before ``wait()`` is undefined in PyTorch; here it sees the finished value). The entry
is guarded on the process group object (``resolve(group)`` at call time must be the group
seen while tracing: a new ``init_process_group``, another world size or rank, traces again).
A collective on a tensor that requires grad with grad mode on is refused: PyTorch records no
gradient for collectives, and adjit will not guess one.

Why one equation and not a start/wait pair in the IR: a work handle is not a tensor, and a
pair would need every pass to keep its halves together and in order; the one equation says
all the pair would (the operand, the result, where it is first read), and the executor splits
it (Note [collective steps] in runtime/collective_steps.py). What a traced ``work.wait()``
would add, a wait earlier than the first read, only loses overlap.

Where this applies in a DistributedDataParallel step: ``adjit.compile`` of a whole step with
DDP inside traces DDP's hooks on tracers, so its bucket all-reduces are COLLECTIVE equations of
the one program (Note [DDP under adjit.compile]); ``DDP(adjit.compile(model))`` instead runs
them eagerly from the compiled backward node's streamed hooks (Note [gradients as they are
made]), overlapping the rest of that backward.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir.ops import Op
from ..runtime import trace_state
from ..runtime.dispatch import apply
from ..runtime.grad_mode import is_grad_enabled, no_grad
from ..runtime.inplace import inplace
from ..runtime.tensor import Tensor


class EagerCollective:
    """The ``coll`` attribute of a COLLECTIVE equation: ``fn(tensor=..., async_op=True,
    **kwargs)`` on the program's buffer (ir/collectives.py's protocol)."""

    def __init__(self, name: str, fn: Callable[..., Any], kwargs: dict, where: str) -> None:
        self.name, self.fn, self.kwargs, self.where = name, fn, kwargs, where

    def start(self, buffer: np.ndarray) -> Any:
        return self.fn(tensor=Tensor._make(buffer), async_op=True, **self.kwargs)

    def __repr__(self) -> str:
        shown = [f"{k}={v!r}" for k, v in self.kwargs.items() if v is not None]
        return f"{self.name}({', '.join(shown)}; {self.where})"


class TracedWork:
    """What a traced ``async_op=True`` collective returns: ``wait()`` is the executor's."""

    def __init__(self, tensor: Tensor) -> None:
        self._tensor = tensor

    def wait(self, timeout: Any = None) -> bool:
        return True

    def is_completed(self) -> bool:
        return True

    def is_success(self) -> bool:
        return True

    def exception(self) -> None:
        return None

    def result(self) -> list[Tensor]:
        return [self._tensor]

    def __repr__(self) -> str:
        return "<adjit.distributed.Work (traced: waited before the first read)>"


class _Now:
    """A guard binding (``guards.bindings_ok`` reads ``cell_contents``) whose value is found
    at check time: the process group ``resolve(group)`` gives now."""

    def __init__(self, resolve: Callable[[Any], Any], group: Any) -> None:
        self.resolve, self.group = resolve, group

    @property
    def cell_contents(self) -> Any:
        try:
            return self.resolve(self.group)
        except Exception:  # destroyed, or never initialized: not the traced group
            return None


def traced_collective(
    eager: dict[str, Callable[..., Any]],
    resolve: Callable[[Any], Any],
    name: str,
    arguments: dict[str, Any],
) -> Any:
    """``adjit.distributed``'s trace hook (see the Note): ``eager[name]`` is the collective,
    ``resolve(group)`` its process group, ``arguments`` the call's arguments by parameter
    name (``tensor``, ``async_op``, ``group``, ...)."""
    trace = trace_state.current()
    kwargs = dict(arguments)
    t = kwargs.pop("tensor")
    async_op = bool(kwargs.pop("async_op", False))
    traced = getattr(t, "_is_tracer", False)
    if trace is None or (traced and t._trace is not trace):
        raise trace_state.TracingError(
            f"adjit.distributed.{name} inside adjit.compile on a tensor of another trace (a "
            "nested transform's): call it in the compiled function itself"
        )
    if not traced and getattr(t, "_born_in", None) is trace:
        raise trace_state.TracingError(
            f"adjit.distributed.{name} inside adjit.compile on a tensor made from constants "
            "inside the function: its result would be fixed when tracing; make it from the "
            "function's inputs, or call the collective outside the compiled function"
        )
    if t.requires_grad and is_grad_enabled():
        raise RuntimeError(
            f"adjit.distributed.{name} inside adjit.compile on a tensor that requires grad: "
            "collectives have no derivative (PyTorch records none); call it under "
            "adjit.no_grad() or on .detach()"
        )
    group = kwargs.get("group")
    pg = resolve(group)  # (PyTorch's error now when no process group is initialized)
    coll = EagerCollective(name, eager[name], kwargs, f"rank {pg.rank()} of {pg.size()}")
    trace.bindings.append((_Now(resolve, group), name, pg))
    with no_grad():
        exchange = lambda x: apply(Op.COLLECTIVE, x, coll=coll)  # noqa: E731
        if traced:
            inplace(t, exchange)
        else:  # a tensor from outside (a buffer): written back after each call
            trace.mutate(t, exchange)
    return TracedWork(t) if async_op else None


def trace_hook(
    eager: dict[str, Callable[..., Any]], resolve: Callable[[Any], Any]
) -> Callable[..., Any]:
    """``adjit.distributed``'s ``TRACE_HOOK`` entry: ``hook(name, arguments)`` with the call's
    arguments by parameter name, or ``hook(name, args, kwargs)`` with them as passed."""
    names = {k: list(inspect.signature(fn).parameters) for k, fn in eager.items()}

    def hook(name: str, args: Any, kwargs: dict[str, Any] | None = None) -> Any:
        if name not in eager:
            raise NotImplementedError(
                f"adjit.distributed.{name} on a traced tensor (inside adjit.compile) is not "
                "supported: call it outside the compiled function (all_reduce and broadcast "
                "are compiled)"
            )
        if isinstance(args, dict):
            arguments = dict(args)
        else:  # positional, as passed (a prefix of the signature)
            arguments = dict(zip(names[name][: len(args)], args, strict=True))
        arguments.update(kwargs or {})
        return traced_collective(eager, resolve, name, arguments)

    return hook
