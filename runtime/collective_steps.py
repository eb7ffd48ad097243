"""A COLLECTIVE equation as two steps: start where it is scheduled, wait before its first reader."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir.graph import Lit, Var
from ..ir.interpreter import lit_array
from ..ir.ops import Op
from ..passes.pipeline import flag
from ..passes.record import Record
from .buffer_plan import StepIO
from .executor import STEP_IO, Buffers, Env, ExternStep

# Note [collective steps]
# The start copies the operand into the result's buffer (the operand's memory may be reused
# as soon as the step is over: Note [buffer planning]) and starts the collective in place on
# it (``coll.start``, Note [collectives in the IR] in ir/collectives.py); the handle is kept
# in the call's own environment, keyed by the step. The wait, placed before the first step
# that reads the result (or at the end), completes it. The result is a pooled value that the
# wait reads too, so no other value is planned into its memory while the message is in
# flight. MPICH moves a nonblocking collective's data only inside MPI calls: unless
# ADJIT_COLLECTIVE_POLL=0, a poll step after every step in between tests the handles in
# flight (``is_completed``), so the exchange proceeds while the kernels run.


class CollectiveStart(Record):
    __slots__ = FIELDS = ("eqn",)

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:
        e = self.eqn
        x = e.inputs[0]
        value = lit_array(x) if isinstance(x, Lit) else env[x]
        out, p = bufs.get(e.out)
        np.copyto(out, value)
        env[self] = e.attrs["coll"].start(out)  # type: ignore[index]
        env[e.out], ptrs[e.out] = out, p


class CollectiveWait(Record):
    __slots__ = FIELDS = ("start",)
    start: CollectiveStart

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:
        env.pop(self.start).wait()  # type: ignore[call-overload]


class CollectivePoll(Record):
    """Lets the collectives in flight progress (see the Note)."""

    __slots__ = FIELDS = ("starts",)
    starts: tuple[CollectiveStart, ...]

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:
        for s in self.starts:
            handle = env.get(s)  # type: ignore[call-overload]
            if handle is not None:
                handle.is_completed()


STEP_IO[CollectiveStart] = lambda s: StepIO(s.eqn.inputs, (s.eqn.out,), ())
STEP_IO[CollectiveWait] = lambda s: StepIO((s.start.eqn.out,), (), ())
STEP_IO[CollectivePoll] = lambda s: StepIO((), (), ())


def with_collective_steps(steps: Sequence[Any]) -> list[Any]:
    """``steps`` with each COLLECTIVE extern split into a start, a wait before the first step
    reading its result, and poll steps in between (see the Note)."""
    if not any(type(s) is ExternStep and s.eqn.op is Op.COLLECTIVE for s in steps):
        return list(steps)
    polling = flag("ADJIT_COLLECTIVE_POLL") != "0"
    out: list[Any] = []
    open_: dict[Var, CollectiveStart] = {}  # results in flight -> their start
    for s in steps:
        reads = STEP_IO[type(s)](s).reads
        for v in [v for v in reads if isinstance(v, Var) and v in open_]:
            out.append(CollectiveWait(open_.pop(v)))
        if type(s) is ExternStep and s.eqn.op is Op.COLLECTIVE:
            start = CollectiveStart(s.eqn)
            out.append(start)
            open_[s.eqn.out] = start
            continue
        out.append(s)
        if polling and open_:
            out.append(CollectivePoll(tuple(open_.values())))
    out.extend(CollectiveWait(start) for start in open_.values())
    return out
