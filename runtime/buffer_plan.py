"""Liveness-based buffer planning: pooled intermediates share one arena by live range."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import Any, NamedTuple

import numpy as np

from ..ir.graph import Lit, Var

ALIGN = 64  # bytes: every planned value starts at a multiple (a cache line, an AVX-512 vector)

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
# per-value pool, as before). The rest live in one arena (a byte buffer; each value a view
# with its dtype and shape at its offset), placed greedily, each at the start of the smallest
# gap left by the values already placed whose live ranges meet its own (TFLite's greedy-by-size
# offsets), largest first: for a transformer block's backward 1.2-1.3x the peak of live
# bytes, its forward the peak itself (first-made-first placement was never smaller). Two
# values live at the same step (a step's inputs and outputs included) never overlap, so a
# kernel never writes over what it reads, except in place: a kernel step may offer (output,
# input) pairs it can compute in place (Note [kernels in place] in codegen/loops.py), and an
# output takes its input's bytes when that input dies there: the kernel is its last reader,
# no reader of anything aliasing it comes later, no other operand of the step may alias it,
# neither escapes (``_in_place``). The two are then one block, placed once over both live
# ranges. (A transformer block's GELU over its GEMM's result and the GELU's backward over
# the incoming gradient; with Note [the weight's gradient first], its step's arena 44 -> 38
# MB.)


class StepIO(NamedTuple):
    """What a step does to buffers: values it reads, values it writes into pooled buffers,
    values it returns that may alias what it reads (or its pooled values), and (pooled output,
    read input) pairs it may write in place (Note [buffer planning])."""

    reads: Sequence[Var | Lit]
    pooled: Sequence[Var]
    aliased: Sequence[Var]
    in_place: Sequence[tuple[Var, Var]] = ()


def nbytes(v: Var) -> int:
    return prod(v.aval.shape) * np.dtype(v.aval.dtype.np).itemsize


class BufferPlan:
    """Where each planned value lives in one arena of ``arena_bytes``: ``offset_of``; values
    not there escape (or are empty) and keep a pooled buffer each."""

    __slots__ = ("offset_of", "arena_bytes", "live", "escaping", "shared", "held")

    def __init__(
        self,
        offset_of: dict[Var, int],
        arena_bytes: int,
        live: dict[Var, tuple[int, int]],
        escaping: frozenset[Var],
        shared: dict[Var, Var] | None = None,
        held: frozenset[Var] = frozenset(),
    ) -> None:
        self.offset_of, self.arena_bytes = offset_of, arena_bytes
        self.live, self.escaping = live, escaping
        self.shared = {} if shared is None else shared  # output -> the input it is written over
        # planned values the call hands out (a training step's gradients in its arena, Note
        # [gradients in the step's arena]): live to the end, viewed through the arena's owner
        self.held = held

    def __repr__(self) -> str:
        return (
            f"BufferPlan({len(self.offset_of)} values in {self.arena_bytes} bytes; "
            f"{len(self.escaping)} escaping)"
        )


def live_ranges(
    steps: Sequence[StepIO], outputs: Sequence[Var | Lit]
) -> tuple[dict[Var, tuple[int, int]], frozenset[Var]]:
    """Each pooled value's (first, last) step, the last counting readers of its aliases; and
    the pooled values that may alias an output (Note [buffer planning])."""
    live, escaping, _, _ = _liveness(steps, outputs)
    return live, escaping


def _liveness(
    steps: Sequence[StepIO],
    outputs: Sequence[Var | Lit],
    kept: Sequence[Var | Lit] = (),
    keepable: frozenset[Var] = frozenset(),
) -> tuple[dict[Var, tuple[int, int]], frozenset[Var], dict[Var, Var], frozenset[Var]]:
    """``live_ranges``'s, the in-place pairs taken: output -> input (``_in_place``), and the
    pooled values ``kept`` (more outputs) may alias that are ``keepable`` and not escaping:
    held, live past the last step (Note [gradients in the step's arena])."""
    roots: dict[Var, frozenset[Var]] = {}
    live: dict[Var, tuple[int, int]] = {}
    offers: list[tuple[int, Var, Var, list[frozenset[Var]]]] = []
    for i, s in enumerate(steps):
        read_roots: set[Var] = set()
        for a in s.reads:
            if isinstance(a, Var):
                read_roots.update(roots.get(a, ()))
        if s.in_place:
            per_read = [roots.get(a, frozenset()) for a in s.reads if isinstance(a, Var)]
            offers.extend((i, o, x, per_read) for o, x in s.in_place)
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
    held: set[Var] = set()
    for o in kept:
        if isinstance(o, Var):
            for r in roots.get(o, ()):
                (held if r in keepable else escaping).add(r)
    held.difference_update(escaping)
    for r in held:
        live[r] = (live[r][0], len(steps))
    shared = _in_place(offers, live, roots, frozenset(escaping))
    return live, frozenset(escaping), shared, frozenset(held)


def _in_place(
    offers: list[tuple[int, Var, Var, list[frozenset[Var]]]],
    live: dict[Var, tuple[int, int]],
    roots: dict[Var, frozenset[Var]],
    escaping: frozenset[Var],
) -> dict[Var, Var]:
    """The offered (output, input) pairs an output may take its input's bytes in: the input
    a pooled value of its own (not a view of another) that dies at the step, which no other
    operand of the step may alias, neither escaping, each input taken once (Note [buffer
    planning])."""
    taken: dict[Var, Var] = {}
    used: set[Var] = set()
    for i, o, x, per_read in offers:
        if o in taken or x in used or o in escaping or x in escaping:
            continue
        if live.get(o, (-1, -1))[0] != i or live.get(x, (-1, -1))[1] != i:
            continue
        if roots.get(x) != frozenset((x,)) or nbytes(o) != nbytes(x) or nbytes(x) == 0:
            continue
        if sum(x in r for r in per_read) != 1:  # another operand may be a view of it
            continue
        taken[o] = x
        used.add(x)
    return taken


def _aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _offsets(order: list[Var], live: dict[Var, tuple[int, int]]) -> tuple[dict[Var, int], int]:
    """Each value in ``order`` at the start of the smallest gap that holds it between the
    values already placed whose live ranges meet its own (else after them all)."""
    offset_of: dict[Var, int] = {}
    end = 0
    for v in order:
        lo, hi = live[v]
        need = _aligned(nbytes(v))
        taken = sorted(
            (offset_of[u], offset_of[u] + _aligned(nbytes(u)))
            for u in offset_of
            if not (live[u][1] < lo or hi < live[u][0])  # live at a common step
        )
        best, at = None, 0
        for a, b in taken:
            if a - at >= need and (best is None or a - at < best[0]):
                best = (a - at, at)
            at = max(at, b)
        offset_of[v] = best[1] if best is not None else at
        end = max(end, offset_of[v] + need)
    return offset_of, end


def _blocks(
    live: dict[Var, tuple[int, int]], shared: dict[Var, Var]
) -> tuple[dict[Var, tuple[int, int]], dict[Var, Var]]:
    """Values written in place merged into blocks: each block's live range (keyed by its
    first value) and each value's block."""
    block: dict[Var, Var] = {}
    for v in live:
        b = v
        while b in shared:
            b = shared[b]
        block[v] = b
    ranges: dict[Var, tuple[int, int]] = {}
    for v, b in block.items():
        lo, hi = live[v]
        if b in ranges:
            lo, hi = min(lo, ranges[b][0]), max(hi, ranges[b][1])
        ranges[b] = (lo, hi)
    return ranges, block


def plan_buffers(
    steps: Sequence[StepIO],
    outputs: Sequence[Var | Lit],
    kept: Sequence[Var | Lit] = (),
    keepable: frozenset[Var] = frozenset(),
) -> BufferPlan:
    """Arena offsets for the pooled values that do not escape (Note [buffer planning]),
    largest values placed first (longest-lived first among equals), or largest areas first
    when that takes fewer bytes; a value written in place at its input's offset. The
    ``keepable`` values that ``kept`` outputs may alias are planned too, held to the end
    (Note [gradients in the step's arena])."""
    value_live, escaping, shared, held = _liveness(steps, outputs, kept, keepable)
    live, block = _blocks(value_live, shared)
    planned = [v for v in live if v not in escaping and nbytes(v) > 0]
    # (among values of one size the longest-lived first: with the weight gradient by channels,
    # Note [weight gradient by chunks], resnet18 b8's step arena was 13.88 MB, now 13.63)
    by_size = sorted(planned, key=lambda v: (-nbytes(v), live[v][0] - live[v][1], live[v][0]))
    offset_of, end = _offsets(by_size, live)
    # largest area (bytes x steps live) first, when that packs tighter: a training step's
    # long-lived residuals then go first (VGG-11 b8's step: 34.0 -> 30.75 MB, its peak)
    by_area = sorted(
        planned, key=lambda v: (-nbytes(v) * (live[v][1] - live[v][0] + 1), live[v][0])
    )
    other, other_end = _offsets(by_area, live)
    if other_end < end:
        offset_of, end = other, other_end
    if held:  # the held values first, in the order they are made, stacked as made, when that
        # packs tighter (resnet18 b8's step arena 56.50 -> 56.31 MB, its live peak 56.14)
        kept_blocks = {block[v] for v in held if v in block}
        first = sorted(kept_blocks.intersection(planned), key=lambda v: (live[v][0], -nbytes(v)))
        other, other_end = _offsets(first + [v for v in by_size if v not in kept_blocks], live)
        if other_end < end:
            offset_of, end = other, other_end
    offset_of = {v: offset_of[b] for v, b in block.items() if b in offset_of}
    return BufferPlan(offset_of, end, value_live, escaping, shared, held)


def peak_live_bytes(plan: BufferPlan) -> int:
    """The most bytes of planned values live at one step (the floor for the arena's bytes); a
    value written in place over its input counts once at the step that writes it."""
    ends = [hi for v, (_, hi) in plan.live.items() if v in plan.offset_of]
    peak = 0
    for t in range(max(ends, default=-1) + 1):
        peak = max(
            peak,
            sum(
                nbytes(v)
                for v in plan.offset_of
                if plan.live[v][0] <= t <= plan.live[v][1]
                and not (v in plan.shared and plan.live[v][0] == t)
            ),
        )
    return peak


def plan_training(
    forward: Sequence[StepIO],
    forward_outputs: Sequence[Var | Lit],
    public: int,
    backward: Sequence[StepIO],
    backward_outputs: Sequence[Var | Lit],
) -> tuple[BufferPlan, BufferPlan]:
    """One plan for a training step's forward and backward programs run one after the other,
    the backward's inputs including the forward's outputs from ``public`` on (the residuals,
    the same Vars): a residual lives from the forward step that writes it to the backward's
    last read of it, and the backward's values may take its place after that (Note [one
    arena for a training step]). Escaping: the forward's public outputs and the backward's
    outputs. Returns the forward's plan and the backward's: a forward value the backward
    computes again (passes/split.py recomputes cheap ones) is the same Var in both programs,
    planned as two values, each program's at its own offset."""
    made = {v for s in forward for v in (*s.pooled, *s.aliased)}
    twin = {v: Var(v.aval) for s in backward for v in (*s.pooled, *s.aliased) if v in made}

    def own(xs: Sequence[Any]) -> list[Any]:
        return [twin.get(a, a) if isinstance(a, Var) else a for a in xs]

    steps = [
        *forward,
        *(
            StepIO(own(s.reads), own(s.pooled), own(s.aliased), [tuple(own(p)) for p in s.in_place])
            for s in backward
        ),
    ]
    public_outputs, grads = forward_outputs[:public], own(backward_outputs)
    plan = plan_buffers(steps, [*public_outputs, *grads])
    written = frozenset(own([v for s in backward for v in s.pooled]))
    held = plan_buffers(steps, public_outputs, grads, written)
    # (held when that takes fewer bytes than the arena and the gradients' own buffers)
    if held.held and held.arena_bytes < plan.arena_bytes + sum(map(nbytes, held.held)):
        plan = held
    offset_of, live = dict(plan.offset_of), dict(plan.live)
    for v, t in twin.items():
        offset_of.pop(v, None)
        if t in plan.offset_of:
            offset_of[v] = plan.offset_of[t]
        if t in plan.live:
            live[v] = plan.live[t]
    back = {t: v for v, t in twin.items()}
    escaping = frozenset(back.get(v, v) for v in plan.escaping)
    shared = {back.get(o, o): back.get(x, x) for o, x in plan.shared.items()}
    kept = frozenset(back.get(v, v) for v in plan.held)
    return plan, BufferPlan(offset_of, plan.arena_bytes, live, escaping, shared, kept)
