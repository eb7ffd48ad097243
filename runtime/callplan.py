"""Prepared calls: a kernel-only program's buffers and addresses fixed once, so a call is a few
copies and one foreign call per kernel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import prod
from typing import TYPE_CHECKING, Any

import numpy as np

from ..ir.graph import Lit, Var
from ..ir.interpreter import lit_array
from ..passes.record import Record
from .kernels import prebuilt

if TYPE_CHECKING:
    from .executor import Buffers, Executable, KernelStep

# Note [prepared calls]
# A ctypes call costs ~1 µs, but finding an array's address (``a.ctypes.data``) costs ~2 µs
# and a fresh small array ~0.4 µs: for a tiny program those, not the kernels, were the call.
# A CallPlan gives every value a home decided once:
#   - STAGED: a small graph input is copied (a ~70 ns store) into a buffer of the plan's,
#     whose address is baked into the kernels' argument lists;
#   - FIXED: values no caller can see (intermediates) and small outputs live in the plan's
#     own buffers; small outputs are handed out as copies, so a result the caller keeps is
#     never overwritten by the next call; intermediates are views of the Executable's planned
#     arena (Note [buffer planning]: values with disjoint live ranges share memory);
#   - INPUT: a large graph input is read in place (its address is looked up once per new
#     array object: the same array passed again costs nothing);
#   - POOLED: a large output comes from the refcount-checked Buffers pool (Note [buffer reuse]).
# Kernels whose arguments are all fixed are called with a prebuilt argument tuple.
# A plan is for one thread at a time: the Executable runs concurrent calls on the generic path.

SMALL_BYTES = 4096  # values up to this size are staged / copied out instead of addressed


def _small(v: Var) -> bool:
    return prod(v.aval.shape) * np.dtype(v.aval.dtype.np).itemsize <= SMALL_BYTES


def _home(shape: tuple[int, ...], dtype: np.dtype) -> tuple[np.ndarray, int]:
    a = np.zeros(shape, dtype)
    return a, a.ctypes.data


class _Call(Record):
    """One kernel: its argument template; ``dynamic`` lists (argument slot, value id) pairs
    filled per call, ``outs`` the output arrays (None where pooled: filled per call)."""

    __slots__ = FIELDS = ("bare", "run", "template", "dynamic", "outs", "out_ids", "serial")

    bare: Callable[..., None]  # the kernel, for prebuilt arguments (Note [prebuilt arguments])
    run: Callable[[list[int], Sequence[np.ndarray]], None]
    template: list[int]
    dynamic: list[tuple[int, int]]
    outs: list[np.ndarray | None]
    out_ids: list[int]
    serial: tuple[int, int] | None  # (lo, hi) when the runner would not split the range


class CallPlan:
    """A kernel-only Executable's calls with every buffer and address decided up front."""

    def __init__(self, ex: Executable, steps: list[KernelStep]) -> None:
        g = ex.graph
        self.graph = g
        ids: dict[Var, int] = {}  # value -> slot in the per-call tables
        self.fixed: dict[int, tuple[np.ndarray, int]] = {}
        self.staged: list[tuple[int, np.ndarray, bool]] = []  # (input index, home, is 0-d)
        self.addressed: list[tuple[int, int]] = []  # (input index, value id)
        self.pooled: list[tuple[Var, int]] = []
        self.shapes = [v.aval.shape for v in g.inputs]
        self.dtypes = [v.aval.dtype.np for v in g.inputs]
        outputs = {o for o in g.outputs if isinstance(o, Var)}

        def vid(v: Var) -> int:
            return ids.setdefault(v, len(ids))

        for i, v in enumerate(g.inputs):
            if v in ids:
                continue
            if _small(v):
                home = _home(v.aval.shape, v.aval.dtype.np)
                self.fixed[vid(v)] = home
                self.staged.append((i, home[0], v.aval.shape == ()))
            else:
                self.addressed.append((i, vid(v)))
        for v, a in ex.consts.items():
            self.fixed[vid(v)] = (a, a.ctypes.data)
        self.calls: list[_Call] = []
        for step in steps:
            k = step.kernel
            for v in k.outputs:
                if v in ids:
                    continue
                if v in outputs and not _small(v):
                    self.pooled.append((v, vid(v)))
                elif v in ex.buffer_plan.offset_of:  # Note [buffer planning]
                    self.fixed[vid(v)] = ex.buffers.get(v)
                else:
                    self.fixed[vid(v)] = _home(v.aval.shape, v.aval.dtype.np)
            self.calls.append(self._call(step, [vid(v) for v in k.outputs + k.inputs]))
        self.names = [step.kernel.name for step in steps]
        self.results = [
            self._result_rule(o, ex, ids, k < ex.public) for k, o in enumerate(g.outputs)
        ]
        self.n_values = len(ids)
        fixed_calls = all(not c.dynamic and c.serial is not None for c in self.calls)
        self.static = (
            [(c.bare, prebuilt(c.template, *c.serial)) for c in self.calls if c.serial is not None]
            if fixed_calls and not self.addressed and not self.pooled
            else None
        )
        copies = [x for how, x in self.results if how == "copy"]
        self.copies = copies if len(copies) == len(self.results) else None

    def _result_rule(
        self, o: Var | Lit, ex: Executable, ids: dict[Var, int], public: bool
    ) -> tuple[str, Any]:
        """How output ``o`` is handed out (see RESULTS; Note [internal outputs])."""
        if isinstance(o, Lit):
            return "as_is" if public else "shared", lit_array(o)
        if o in self.graph.inputs:
            i = self.graph.inputs.index(o)
            return "input" if public else "input_shared", (i, self.dtypes[i])
        if o in ex.consts:
            return "as_is" if public else "shared", ex.consts[o]
        j = ids[o]
        return ("copy", self.fixed[j][0]) if j in self.fixed else ("pooled", j)

    def _call(self, step: KernelStep, args: list[int]) -> _Call:
        template = [self.fixed[i][1] if i in self.fixed else 0 for i in args]
        runner = step.runner_for(template)  # Note [kernel steps in place]
        dynamic = [(slot, i) for slot, i in enumerate(args) if i not in self.fixed]
        n_out = len(step.kernel.outputs)
        outs = [self.fixed[i][0] if i in self.fixed else None for i in args[:n_out]]
        serial = runner.ranges[0] if not runner.parallel else None
        return _Call(runner.bare, runner.run, template, dynamic, outs, args[:n_out], serial)

    def __call__(self, arrays: Sequence[np.ndarray], bufs: Buffers) -> list[np.ndarray]:
        if len(arrays) != len(self.shapes):
            raise TypeError(f"graph takes {len(self.shapes)} inputs, got {len(arrays)}")
        for i, home, scalar in self.staged:
            a = arrays[i]
            shape = a.shape if isinstance(a, np.ndarray) else np.shape(a)
            if shape != home.shape:
                raise ValueError(f"input {i}: expected shape {home.shape}, got {shape}")
            if scalar:
                home[()] = a
            else:
                home[...] = a
        if self.static is not None:  # every kernel serial, every argument fixed
            for fn, args in self.static:
                fn(*args)
            if self.copies is not None:
                return [h.copy() for h in self.copies]
            return [RESULTS[how](x, arrays, []) for how, x in self.results]
        table: list[Any] = [None] * self.n_values
        ptrs = [0] * self.n_values
        for i, j in self.addressed:
            a = np.asarray(arrays[i], self.dtypes[i])
            if a.shape != self.shapes[i]:
                raise ValueError(f"input {i}: expected shape {self.shapes[i]}, got {a.shape}")
            if not a.flags.c_contiguous:
                a = np.ascontiguousarray(a)
            table[j], ptrs[j] = a, a.ctypes.data
        for v, j in self.pooled:
            table[j], ptrs[j] = bufs.get(v)
        for c in self.calls:
            args = list(c.template)
            for slot, j in c.dynamic:
                args[slot] = ptrs[j]
            outs = [table[j] if o is None else o for o, j in zip(c.outs, c.out_ids, strict=True)]
            c.run(args, outs)
        return [RESULTS[how](x, arrays, table) for how, x in self.results]


COPIED = frozenset({"copy", "as_is", "input"})  # kinds handed out as a new array

# output kind -> the array handed to the caller
RESULTS: dict[str, Callable[[Any, Sequence[np.ndarray], list[Any]], np.ndarray]] = {
    "as_is": lambda x, arrays, table: x.copy(),  # a constant: the caller may write to it
    "shared": lambda x, arrays, table: x,  # a constant, for an internal output
    "input": lambda x, arrays, table: np.array(arrays[x[0]], x[1]),  # a copy: never an alias
    "input_shared": lambda x, arrays, table: np.asarray(arrays[x[0]], x[1]),  # internal
    "copy": lambda x, arrays, table: x.copy(),
    "pooled": lambda x, arrays, table: table[x],
}
