"""COLLECTIVE: a value exchanged with the other processes of a group (all_reduce, broadcast).

Note [collectives in the IR]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~
``adjit.distributed.all_reduce(t)`` (or ``broadcast``) traced inside ``adjit.compile`` (as
DistributedDataParallel's gradient hooks do when the whole training step is compiled) is
recorded as one equation

    t' = collective[coll=all_reduce(SUM, rank 0 of 2)] t

whose result has ``t``'s shape and dtype. ``coll`` is an object of the upper layer's (the
frontend's adapter over ``adjit.distributed``), opaque to the IR, offering the protocol
below: ``start(buffer)`` begins the collective in place on a C-contiguous array of ``t``'s
dtype and returns a handle whose ``wait()`` completes it (``is_completed()`` tests it, and
lets MPI progress). The op is an effect (``GroupOp.EFFECTS``), like a random draw: CSE never
merges two of them (two all-reduces are two messages), DCE never drops one (every rank must
take part, used or not), constant folding never runs one, remat never recomputes one, and
passes keep them in order. Fusion never puts it into a generated kernel: the executor runs it
as two steps (runtime/collective_steps.py), the start right where the equation is scheduled
and the wait just before the first step that reads the result, so the communication runs
while the steps in between compute; the pipeline's ``early_collectives`` pass schedules the
equation (and what it alone needs) as early as its operand allows. The reference rule (the
interpreter's) starts and waits at once. It has no derivative (PyTorch's collectives are not
recorded by autograd; the frontend refuses a traced one on a tensor that requires grad), and
vmap refuses it.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from .aval import Aval


class Handle(Protocol):
    """A collective in flight (``adjit.distributed.Work`` is one)."""

    def wait(self) -> Any: ...

    def is_completed(self) -> bool: ...


class Collective(Protocol):
    """The ``coll`` attribute of a COLLECTIVE equation (see the Note)."""

    def start(self, buffer: np.ndarray) -> Handle: ...


def collective_shape(x: Aval, *, coll: Any) -> Aval:
    """The exchanged value has its operand's shape and dtype."""
    return Aval(x.shape, x.dtype)


def collective_reference(x: np.ndarray, *, coll: Any) -> np.ndarray:
    """Start the collective on a copy of ``x`` and wait for it."""
    buffer = np.array(x, order="C", copy=True)
    coll.start(buffer).wait()
    return buffer


def collective_batching(ctx: Any, args: list[Any], dims: list[Any], *, coll: Any) -> tuple:
    raise RuntimeError(
        f"vmap: {coll} (a collective of adjit.distributed) cannot be batched: call it "
        "outside the vmapped function"
    )
