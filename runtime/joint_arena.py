"""One arena for a training step's forward and backward programs, planned by live range."""

from __future__ import annotations

import sys
import weakref
from collections.abc import Sequence

import numpy as np

from .buffer_plan import BufferPlan, plan_training
from .chunk_fit import fit
from .executor import _SPARE, STEP_IO, Buffers, Executable, Step, buffer_plan

# Note [one arena for a training step]
# A training step's forward hands its residuals to the backward (passes/split.py). Planned
# separately, each residual kept a buffer of its own for the whole step and the backward's
# values an arena next to them, so the step held every residual *and* the backward's peak,
# where PyTorch frees a saved tensor once its node's backward has run and reuses its memory
# for the next node's temporaries (a transformer block: 40 MB of residuals + an 18 MB
# backward arena, PyTorch 42 MB in all). ``link_training`` plans the two programs as one
# sequence of steps (buffer_plan.plan_training): a residual lives from the forward step that
# writes it to the backward's last read of it, and the backward's values are placed over
# residuals already read. The forward then writes its values and residuals into one arena
# of this pair (not the process's shared one: the residuals must outlive the call), and:
# - an arena is handed to a forward only when nothing it gave out of the arena is alive
#   (weak references to the residual arrays it returned, Buffers.uncached keeping the pool
#   from holding them): a second forward before the first one's backward (two graphs alive,
#   a loss kept with its graph) takes another arena; _SPARE of them are kept;
# - the backward writes over residuals only when they are never read again: the donating
#   call (``Executable.donating``), which a compiled node's seeded backward makes when it
#   is not asked to retain the graph and drops its residuals right after. Every other
#   backward (retain_graph, the autograd engine's walk) runs on its own plan, with the
#   residuals as read-only inputs, exactly as before;
# - a donating call whose residuals are not in one of this pair's arenas (a forward that ran
#   while another thread held its buffers made an arena of its own) runs the plain way too.
# Step peak above resident state, 1 thread (benchmarks/step_memory.py), before -> after:
# transformer block 63 -> 53 MB (torch 45; 48.8 since softmax saves its result only, Note
# [softmax's gradient] in runtime/ops_reduce.py), resnet18 b8 67 -> 61, VGG-11 b8 88 -> 81
# (and with Note [weight gradient by chunks] 58 and 66; torch 56 and 65). What stays above
# PyTorch there: the gradients' buffers are held for the whole step (they escape to .grad),
# where PyTorch's peak comes mid-backward with part of them made and part of its saved
# tensors freed. Since then (Note [reshape copies], the weight gradient by channels without
# a product buffer in Note [weight gradient by chunks]): VGG-11 b8 66.0 -> 64.8 MB (torch
# 65.5; arena 30.75 -> 29.5), resnet18 b8 58.4 -> 58.3 (torch 55.5; arena 13.75 -> 13.63),
# the transformer block 49.0 (torch 44.9). resnet18 stays above: its arena's peak (13.5 MB
# live: the stem's and layer1's residuals, 8.5 MB read last at the very end, and layer2-3's
# working set) comes after 42 of its 44.6 MB of gradients are made, and the gradients'
# buffers (pooled, warm, handed out as .grad) are resident all step, so the step holds the
# arena's peak plus all gradients; PyTorch's peak (in layer3's backward, 12.5 MB of saved
# tensors) comes with 40.7 MB of gradients made, its allocator giving freed saved tensors'
# memory to the gradients made next. The transformer block's step then held three 8 MB
# values where PyTorch holds two at its peak, and did better than PyTorch: its GELU written
# over the GEMM's result and the GELU's backward over the incoming gradient (Note [kernels in
# place] in codegen/loops.py), w2's gradient made before the GELU output's (Note [the
# weight's gradient first] in ir/derivatives.py), and no 2 MB copy of the merged heads in the
# backward (Note [reshaped residuals] in passes/split.py): 49.0 -> 41.0 MB (torch 44.9; its
# arena 44 -> 38 MB), resnet18 b8 and VGG-11 b8 unchanged (58.3, 64.7).

# Note [gradients in the step's arena]
# The backward's outputs (the parameters' gradients) escaped the plan: a buffer each, pooled,
# resident all step, where PyTorch's allocator makes each gradient in memory its freed saved
# tensors left. ``plan_training`` now also plans, in the step's one arena, every value the
# donating backward writes that its outputs may alias, live from the step that writes it past
# the last step (``BufferPlan.held``), when that arena is smaller than the arena without them
# plus their own buffers; a gradient then takes the place of residuals and values already
# dead. What the step hands out must never be written over by a later step, so:
# - a held value is a view of the arena's *owner*, an array over the arena's bytes through a
#   memoryview (NumPy makes such an array, not the arena, the base of every view of it), one
#   per arena, made with it; views of a gradient (``g[0]``, ``g.view(-1)``, a hook's copy of
#   the reference) hold the owner too, and the pool never keeps one (``Buffers._view``);
# - ``take`` hands an arena to a forward only when its owner's reference count says nothing
#   outside the pair holds it (as a per-value buffer's, Note [buffer reuse]); a gradient
#   kept across steps (``zero_grad(set_to_none=False)`` accumulating into it, ``g = p.grad``,
#   a post-accumulate hook's list) leaves its arena to the user and the next step takes
#   another (the pair keeps _SPARE). A step's gradients are therefore never the next step's
#   memory while anything can see them; what costs is memory: a kept gradient pins its whole
#   arena (resnet18 b8: 56.3 MB where its buffer was 44.6 MB of gradients and the step's
#   arena 13.6 apart; steps accumulating into .grad without zero_grad hold two arenas, 112.6
#   MB pooled, where they held one arena and two sets of gradient buffers, 102.8 MB);
# - only the donating backward writes held values (the owner is set for its call); the
#   backward on its own plan (retain_graph, the engine's walk, hooks) keeps pooled outputs.
# Step peak above resident state, 1 thread (benchmarks/step_memory.py, median of 5):
# transformer block 41.0 -> 38.0 MB (torch 45.0; its 3 MB of gradients fit in the arena's
# gaps), VGG-11 b8 64.7 -> 63.3 (torch 65.5), resnet18 b8 58.3 -> 56.3 (torch 55.4-55.6):
# resnet18's arena is its peak of live bytes plus 0.16 MB of packing. The peak, 56.1 MB,
# comes in layer2's backward, 43.7 MB of gradients made and 9.75 MB of residuals live (the
# stem's 2 + 2 + 1, layer1's 8 x 0.5, layer2's last 0.75), with a 2 MB chunk buffer of a
# FoldProduct (7 of the 8 images; the weight gradients by channels just before hold 2 MB of
# columns too, Note [weight gradient by chunks]) where PyTorch's per-image columns are 0.3
# MB. Smaller chunks of channels round the weight gradient differently (its GEMM's width
# changes the bits); with both at most 1 MB the arena was 55.55 MB (step 55.59, torch 55.4-
# 55.6), bounded then by the max-pool's backward (a 4.5 MB (8, 64, 9, 256) masked product
# folded into a 2 MB image, with every gradient made) and packing.


class JointArena:
    """The arenas of one forward/backward pair and what each has handed out."""

    __slots__ = ("plan", "arenas", "held", "owners")

    def __init__(self, plan: BufferPlan) -> None:
        self.plan = plan
        self.arenas: list[np.ndarray] = []
        self.held: dict[int, list[weakref.ref[np.ndarray]]] = {}  # id(arena) -> its arrays out
        # id(arena) -> the array the donating backward's held values are views of (Note
        # [gradients in the step's arena])
        self.owners: dict[int, np.ndarray] = {}

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arenas)

    def _free(self, arena: np.ndarray) -> bool:
        # references to its owner: ``owners``, the getrefcount argument; any more are views
        # handed out (a gradient, or a view of one) that the next step must not write over
        if sys.getrefcount(self.owners[id(arena)]) > 2:
            return False
        return all(r() is None for r in self.held.get(id(arena), ()))

    def take(self) -> np.ndarray:
        """An arena nothing handed out of is alive in, kept for later calls when there is room."""
        for a in self.arenas:
            if self._free(a):
                return a
        a = np.empty(self.plan.arena_bytes, np.uint8)
        if len(self.arenas) < _SPARE:
            self.arenas.append(a)
            # (a view of ``a`` through a memoryview: NumPy makes it the base of views of it)
            self.owners[id(a)] = np.frombuffer(memoryview(a), np.uint8)
        return a

    def owner(self, arena: np.ndarray) -> np.ndarray:
        """The array the held values of the backward donating ``arena`` are views of."""
        return self.owners[id(arena)]

    def hand_out(self, arena: np.ndarray, outs: Sequence[np.ndarray]) -> None:
        """Note the forward's results that are (views of) ``arena``, one of this pair's."""
        if any(arena is a for a in self.arenas):
            self.held[id(arena)] = [weakref.ref(o) for o in outs if o.base is arena]

    def arena_of(self, arrays: Sequence[np.ndarray]) -> np.ndarray | None:
        """The arena (of this pair's) the backward's residual arguments are in, if any."""
        for x in arrays:
            base = x.base
            if base is not None:
                for a in self.arenas:
                    if base is a:
                        return a
        return None


def _adopt(ex: Executable, steps: list[Step]) -> None:
    """``ex`` running ``steps`` (its own with other chunks), planned on its own too (a
    backward that does not donate, a forward left unlinked)."""
    if any(a is not b for a, b in zip(steps, ex.steps, strict=True)):
        ex.steps = steps
        ex.buffer_plan = buffer_plan(ex.graph, steps)
        ex.buffers = Buffers(ex.buffer_plan)


def link_training(forward: object, backward: object) -> None:
    """Plan ``forward`` and ``backward`` (a split training step's programs) in one arena when
    both run step by step (not a prepared call, not a symbolic program), before either runs
    (Note [one arena for a training step])."""
    if type(forward) is not Executable or type(backward) is not Executable:
        return
    if forward.joint is not None or forward._plan is not None or backward._plan is not None:
        return
    fo, public = forward.graph.outputs, forward.public
    n_res = len(fo) - public
    if n_res == 0 or len(backward.graph.inputs) < n_res:
        return
    if any(a is not b for a, b in zip(fo[public:], backward.graph.inputs, strict=False)):
        return  # (the split's backward reads the residuals as its first inputs)
    f = len(forward.steps)

    def plans(steps: Sequence[Step]) -> tuple[BufferPlan, BufferPlan]:
        io = [STEP_IO[type(s)](s) for s in steps]
        return plan_training(io[:f], fo, public, io[f:], backward.graph.outputs)

    # (the column steps at the plan's peak with smaller chunks: Note [chunks fitted to the peak])
    steps, (plan, backward_plan) = fit([*forward.steps, *backward.steps], plans)
    _adopt(forward, steps[:f])
    _adopt(backward, steps[f:])
    residuals = frozenset(v for v in fo[public:] if v in plan.offset_of)  # type: ignore[operator]
    if not residuals:
        return
    joint = JointArena(plan)
    forward.buffer_plan, forward.buffers = plan, Buffers(plan)
    forward.buffers.uncached, forward.buffers.joint = residuals, joint
    backward.donor = Buffers(backward_plan)
    forward.joint = backward.joint = joint
