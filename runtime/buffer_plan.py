"""Liveness-based buffer planning: a program's pooled intermediates share a few slots."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import NamedTuple

import numpy as np

from ..ir.graph import Lit, Var

# Note [buffer planning]
# A compiled program writes its kernels' (and BLAS's, and a scan's stacked) results into pooled
# buffers (Note [buffer reuse]). One buffer per value made a program hold the sum of its values;
# the plan makes it hold about their peak. From the step order it finds each pooled value's
# live range: from the step that writes it to the last step that reads it *or reads anything
# that may alias it*. A step that hands out an array it did not write into a pooled buffer (the
# NumPy reference of a RESHAPE, PERMUTE, INDEX, GET, CHECK; a loop's carries; a kernel the code
# generator refused) may return a view of any of its inputs, so its result keeps every pooled
# value its inputs may alias alive for as long as it is read (``roots`` below). A pooled value
# that may alias a program output escapes: the caller gets it (or a view of it), so it keeps a
# buffer of its own, handed out again only when its reference count says nobody holds it (the
# per-value pool, as before). The rest are placed greedily, largest first, each into the
# smallest slot whose values' live ranges are all disjoint from its own (best fit; a new slot
# when none is free); a slot is one byte buffer, viewed with each value's dtype and shape. Two
# values live at the same step (a step's inputs and outputs included) never share a slot, so a
# kernel never writes over what it reads.


class StepIO(NamedTuple):
    """What a step does to buffers: values it reads, values it writes into pooled buffers, and
    values it returns that may alias what it reads (or its pooled values)."""

    reads: Sequence[Var | Lit]
    pooled: Sequence[Var]
    aliased: Sequence[Var]


def nbytes(v: Var) -> int:
    return prod(v.aval.shape) * np.dtype(v.aval.dtype.np).itemsize


class BufferPlan:
    """Which pooled values share which slot; values not in ``slot_of`` escape (or are empty)
    and keep a pooled buffer each."""

    __slots__ = ("slot_of", "slot_bytes", "live", "escaping")

    def __init__(
        self,
        slot_of: dict[Var, int],
        slot_bytes: list[int],
        live: dict[Var, tuple[int, int]],
        escaping: frozenset[Var],
    ) -> None:
        self.slot_of, self.slot_bytes, self.live, self.escaping = (
            slot_of,
            slot_bytes,
            live,
            escaping,
        )

    @property
    def nbytes(self) -> int:
        """Bytes of all slots."""
        return sum(self.slot_bytes)

    def __repr__(self) -> str:
        return (
            f"BufferPlan({len(self.slot_of)} values in {len(self.slot_bytes)} slots, "
            f"{self.nbytes} bytes; {len(self.escaping)} escaping)"
        )


def live_ranges(
    steps: Sequence[StepIO], outputs: Sequence[Var | Lit]
) -> tuple[dict[Var, tuple[int, int]], frozenset[Var]]:
    """Each pooled value's (first, last) step, the last counting readers of its aliases; and
    the pooled values that may alias an output (Note [buffer planning])."""
    roots: dict[Var, frozenset[Var]] = {}
    live: dict[Var, tuple[int, int]] = {}
    for i, s in enumerate(steps):
        read_roots: set[Var] = set()
        for a in s.reads:
            if isinstance(a, Var):
                read_roots.update(roots.get(a, ()))
        for r in read_roots:
            live[r] = (live[r][0], i)
        for v in s.pooled:
            live[v] = (i, i)
            roots[v] = frozenset((v,))
        if s.aliased:
            may = frozenset(read_roots.union(s.pooled))
            for v in s.aliased:
                roots[v] = roots.get(v, frozenset()) | may
    escaping: set[Var] = set()
    for o in outputs:
        if isinstance(o, Var):
            escaping.update(roots.get(o, ()))
    return live, frozenset(escaping)


def plan_buffers(steps: Sequence[StepIO], outputs: Sequence[Var | Lit]) -> BufferPlan:
    """Slots for the pooled values that do not escape (Note [buffer planning])."""
    live, escaping = live_ranges(steps, outputs)
    order = sorted(
        (v for v in live if v not in escaping and nbytes(v) > 0),
        key=lambda v: (-nbytes(v), live[v][0]),
    )
    slot_of: dict[Var, int] = {}
    slot_bytes: list[int] = []
    ranges: list[list[tuple[int, int]]] = []
    for v in order:
        lo, hi = live[v]
        free = [
            j
            for j, taken in enumerate(ranges)
            if all(hi < a or b < lo for a, b in taken)  # disjoint from every value there
        ]
        if free:  # sizes only shrink: every free slot is big enough; take the smallest
            j = min(free, key=lambda j: slot_bytes[j])
        else:
            j = len(slot_bytes)
            slot_bytes.append(nbytes(v))
            ranges.append([])
        ranges[j].append((lo, hi))
        slot_of[v] = j
    return BufferPlan(slot_of, slot_bytes, live, escaping)


def peak_live_bytes(plan: BufferPlan) -> int:
    """The most bytes of planned values live at one step (the floor for the slots' bytes)."""
    ends = [hi for v, (_, hi) in plan.live.items() if v in plan.slot_of]
    peak = 0
    for t in range(max(ends, default=-1) + 1):
        peak = max(
            peak,
            sum(nbytes(v) for v in plan.slot_of if plan.live[v][0] <= t <= plan.live[v][1]),
        )
    return peak
