"""Streamed calls: a program's outputs handed to a callback as soon as the step finalizing each ran.

Note [gradients as they are made]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
A compiled backward is one program: run whole, it hands every gradient back at the end, and
a leaf's post-accumulate hooks (DistributedDataParallel's, which start a bucket's all-reduce)
all fire after the last kernel, with nothing left to overlap the communication with. A
streamed call (``Executable(arrays, ready=callback)``) runs the same steps and calls
``callback(k, array)`` for output ``k`` right after the step at which the output is final.
"Final" is more than "written": the callback may keep the array (it becomes a leaf's
``.grad`` uncopied) or start an in-place all-reduce on it, so the output is handed out only
after the last step that *touches* any value sharing its memory (a step's result that may
be a view of what it reads shares memory with it: ``StepIO.aliased``). The table (output ->
that step) is found once per program, on its first streamed call; a call without a callback
runs exactly as before. An output that is (a view of) an input or a constant is copied first,
as ``Executable._generic`` copies it at the end (Note [internal outputs]). Programs that do
not run step by step (the interpreter backend, a symbolic program) hand every output at the
end (``stream``): correct, with nothing overlapped.

Nonblocking communication may need the process to enter the MPI library to make progress
(MPICH progresses a request only inside MPI calls). ``POLLERS`` holds functions a
communication layer registers (adjit.distributed registers one that advances the world
group's pending collectives, unless ADJIT_COLLECTIVE_POLL=0); a streamed call runs them after
every step (none registered: one list test per step). Measured on 2 ranks
(tests/distributed/ranks_compiled.py --measure): without them no all-reduce byte completes
before the backward ends, whatever the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..ir.graph import Lit, Var
from ..ir.interpreter import lit_array, unshared

if TYPE_CHECKING:
    from .executor import Buffers, Executable

Ready = Callable[[int, np.ndarray], None]  # (output index, its final array)

# called after every step of a streamed call while non-empty (see the Note)
POLLERS: list[Callable[[], None]] = []


class ReadyTable:
    """Which outputs are final before the first step (``first``) and after each step."""

    __slots__ = ("first", "after")

    def __init__(self, first: list[int], after: list[list[int]]) -> None:
        self.first, self.after = first, after


def ready_table(ex: Executable) -> ReadyTable:
    """Output index -> the last step touching memory the output may share (see the Note)."""
    from .executor import STEP_IO

    ios = [STEP_IO[type(s)](s) for s in ex.steps]
    parent: dict[Var, Var] = {}

    def find(v: Var) -> Var:
        root = v
        while parent.get(root, root) is not root:
            root = parent[root]
        parent[v] = root
        return root

    for io in ios:  # a result that may be a view of what its step reads: one memory
        for a in io.aliased:
            for r in io.reads:
                if isinstance(r, Var):
                    parent[find(a)] = find(r)
    last: dict[Var, int] = {}
    for i, io in enumerate(ios):
        for v in (*io.reads, *io.pooled, *io.aliased):
            if isinstance(v, Var):
                last[find(v)] = i
    first: list[int] = []
    after: list[list[int]] = [[] for _ in ios]
    for k, o in enumerate(ex.graph.outputs):
        i = last.get(find(o), -1) if isinstance(o, Var) else -1
        (first if i < 0 else after[i]).append(k)
    return ReadyTable(first, after)


def streamed(ex: Executable, arrays: Sequence[np.ndarray], bufs: Buffers, ready: Ready) -> list:
    """``ex._generic(arrays, bufs)``, handing each output to ``ready`` once final."""
    table = ex._ready_table
    if table is None:
        table = ex._ready_table = ready_table(ex)
    env, ptrs = ex._inputs(arrays)
    outputs = ex.graph.outputs
    check = ex._unshare
    if check is None:
        check = ex._unshare = ex._may_share()
    owners = [*ex.consts.values(), *(env[v] for v in ex.graph.inputs)] if check else []
    handed: list[Any] = [None] * len(outputs)

    def give(ks: list[int]) -> None:
        for k in ks:
            o = outputs[k]
            a = lit_array(o) if isinstance(o, Lit) else env[o]
            if k in check:
                a = unshared([a], owners)[0]
            handed[k] = a
            ready(k, a)

    give(table.first)
    after, polls = table.after, POLLERS
    for i, step in enumerate(ex.steps):
        step.run(env, ptrs, bufs)
        if polls:
            for poll in polls:
                poll()
        if after[i]:
            give(after[i])
    return handed


def stream(
    run: Callable[..., list[np.ndarray]],
    arrays: list[np.ndarray],
    ready: Ready,
    donate: bool = False,
) -> list:
    """``run(arrays)`` (``run.donating(arrays)`` with ``donate``: Note [one arena for a
    training step]), each output handed to ``ready`` as soon as it is final: step by step for
    an Executable, at the end for any other program (see the Note)."""
    from .executor import Executable

    if type(run) is Executable:
        return run.donating(arrays, ready) if donate else run(arrays, ready)
    outs = run(arrays)
    for k, a in enumerate(outs):
        ready(k, a)
    return outs
