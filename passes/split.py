"""Split a joint graph into a forward graph (outputs + saved residuals) and a backward graph.

Residuals are forward values the backward reads. Cheap elementwise values computed from the
inputs alone are recomputed in the backward instead of saved, when that saves memory: the
inputs are alive anyway (the caller holds them), a residual is an extra buffer. Checkpointed
regions and an activation-memory budget below 1 choose the residuals by a minimum cut instead
(passes/remat.py, Note [rematerialization]).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

from ..ir.graph import Atom, Eqn, Graph, Var
from ..ir.ops import GroupOp, Op
from .adjoint import Joint
from .fusion import FUSIBLE, REDUCTIONS
from .remat import Choice, Partition, choose

RECOMPUTE_DEPTH = 4  # longest elementwise chain from the inputs that is recomputed, not saved
# ops the default split may recompute from residuals to save fewer bytes (Note [cheap recompute])
CHEAP = frozenset({Op.RESHAPE, Op.PERMUTE, Op.EXPAND, Op.UNFOLD})
FUSED = FUSIBLE | REDUCTIONS  # readers a recomputed elementwise value fuses into

# Note [cheap recompute]
# The depth-limited chains above start at the inputs; a value computed cheaply from *other*
# residuals was still saved: a convolution's unfolded columns, k*k times the bytes of the
# image the backward reads anyway (VGG-11 b8 saved 70 MB of columns next to 19 MB of
# activations), or the stages of a decomposed GELU, each as large as its input. The split
# therefore also takes the minimum cut in which these are recomputable, and nothing else
# (products, reductions: what PyTorch's formulas save too), and keeps it when it saves fewer
# bytes: the moves of CHEAP (a view, or one copy: the columns are unfolded again just before
# the weight's gradient, as PyTorch's convolution keeps only its input), and elementwise
# values whose every reader is elementwise or a reduction (``_fused_only``): recomputed, they
# fuse into the backward's kernels. An elementwise value a GEMM (or any extern) reads is not
# recomputed: the backward would write it, and the stages it is made of, into the arena
# again (recomputing every elementwise value grew the transformer block's backward arena
# 18 -> 42 MB and its step ~5%). Forward outputs are never recomputed: they are alive anyway.
# Measured at 1 thread (benchmarks/step_memory.py): transformer block 83 -> 63 MB, resnet18
# b8 105 -> 67 MB, VGG-11 b8 152 -> 87 MB; CPU per step unchanged for the transformer, ~+5%
# for resnet18 (the im2col copies; CHEAP without UNFOLD saves the columns again). This is the
# b = 1 split of Note [rematerialization]: a budget below 1 and checkpoint regions start from
# it, with these values outside regions recomputable. Recomputation is placed late
# (late_recompute), so a layer's columns live only while its weight's gradient is computed.


@dataclass
class Split:
    """The two halves and what passes between them."""

    forward: Graph  # inputs: the forward inputs; outputs: forward outputs + residuals
    backward: Graph  # inputs: residuals, forward inputs it reads, cotangents; outputs: grads
    residuals: tuple[Var, ...]
    saved_inputs: tuple[int, ...]  # forward input positions the backward reads
    recomputed: list[str] = field(default_factory=list)
    memory: Choice | None = None  # the budget's numbers, when residuals were chosen by a cut

    @property
    def saved_bytes(self) -> int:
        return sum(prod(v.aval.shape) * v.aval.dtype.itemsize for v in self.residuals)


def _producers(g: Graph) -> dict[Var, Eqn]:
    return {e.out: e for e in g.eqns}


def _slice(roots: list[Atom], producers: dict[Var, Eqn], stop: set[Var]) -> set[Eqn]:
    """Equations needed to compute ``roots``, not looking through values in ``stop``."""
    needed: set[Eqn] = set()
    stack = [r for r in roots if isinstance(r, Var)]
    while stack:
        v = stack.pop()
        e = producers.get(v)
        if e is None or e in needed or v in stop:
            continue
        needed.add(e)
        stack.extend(a for a in e.inputs if isinstance(a, Var))
    return needed


def _recomputable(v: Var, producers: dict[Var, Eqn], inputs: set[Var], depth: int) -> bool:
    e = producers.get(v)
    if e is None:
        return v in inputs
    if depth == 0 or e.op not in GroupOp.ELEMENTWISE:
        return False
    return all(
        _recomputable(a, producers, inputs, depth - 1) for a in e.inputs if isinstance(a, Var)
    )


def _forward_effects(g: Graph, cotangents: set[Var]) -> list[Var]:
    """Every draw of the forward, used or not (Note [random numbers in compiled code]): it runs
    in the forward program, and the backward reads what it needs of a sample as a residual,
    never drawing again. (A draw made from a cotangent, in a custom backward, stays there.)"""
    backward = set(cotangents)
    found = []
    for e in g.eqns:
        if any(a in backward for a in e.inputs if isinstance(a, Var)):
            backward.add(e.out)
        elif e.op in GroupOp.EFFECTS:
            found.append(e.out)
    return found


def late_recompute(eqns: list[Eqn], rerun: set[Eqn], outputs: list[Atom]) -> tuple[Eqn, ...]:
    """The backward's equations with each recomputed forward one moved down to just before
    its first reader: a checkpointed region's activations then live only while its own
    gradient is computed, as eager checkpointing recomputes a region when backward reaches it
    (in joint order the whole forward would be recomputed first, all of it alive at once)."""
    if not rerun:
        return tuple(eqns)
    made = {e.out: e for e in rerun}
    done: set[Eqn] = set()
    out: list[Eqn] = []

    def place(root: Eqn) -> None:  # root after what it reads of ``rerun`` (iterative DFS)
        stack = [(root, False)]
        while stack:
            e, ready = stack.pop()
            if e in done:
                continue
            if ready:
                done.add(e)
                out.append(e)
                continue
            stack.append((e, True))
            for a in reversed(e.inputs):
                p = made.get(a) if isinstance(a, Var) else None
                if p is not None and p not in done:
                    stack.append((p, False))

    for e in eqns:
        if e not in rerun:
            place(e)
    for o in outputs:  # a gradient that is a recomputed forward value itself
        if isinstance(o, Var) and o in made:
            place(made[o])
    assert len(out) == len(eqns), "every backward equation is placed once"
    return tuple(out)


def _fused_only(g: Graph) -> set[Var]:
    """Elementwise values every reader of which fuses with them (Note [cheap recompute])."""
    unfused = {a for e in g.eqns if e.op not in FUSED for a in e.inputs if isinstance(a, Var)}
    unfused.update(o for o in g.outputs if isinstance(o, Var))
    return {e.out for e in g.eqns if e.op in GroupOp.ELEMENTWISE and e.out not in unfused}


def _cheap_cut(
    fwd: list[Eqn], boundary: set[Var], saved: set[Var], free: set[Var], outputs: set[Var],
    fused_only: set[Var],
) -> tuple[set[Var], set[Var]]:  # fmt: skip
    """The residuals of the minimum cut recomputing only CHEAP ops, ``fused_only`` values
    and the chains the heuristic recomputes, when fewer bytes than ``saved``; and the values
    recomputable so (Note [cheap recompute])."""
    cheap = free | {
        e.out
        for e in fwd
        if (e.op in CHEAP or e.out in fused_only) and not e.remat and e.out not in outputs
    }
    p = Partition(fwd, boundary)
    cut = p.cut({i for i, e in enumerate(fwd) if e.out not in cheap}, set())
    return (cut if p.bytes_of(cut) < p.bytes_of(saved) else saved), cheap


# Note [reshaped residuals]
# A residual the backward reads only through reshapes, which is a permuted view in the forward
# (attention's heads put back side by side: ``(att @ v).transpose(1, 2)``, reshaped to
# (B, S, d) for the output projection), is read as a reshape that must copy: the forward
# copies it for its own product, and the backward's reshape (to the (B S, d) matrix of the
# projection's weight gradient) copied it again, into a fresh array (the residual arrives
# strided: Note [strided inputs] in runtime/executor.py). When the forward reshapes the same
# value, that reshape's result is saved instead (as many bytes), and the backward reshapes it:
# a reshape of a reshape is the reshape of the original, the same elements in the same order,
# and of the forward's contiguous copy, a view. (A transformer block's step: 2 MB less at its
# peak, one 2 MB copy less.)


def _reshaped_residuals(
    saved: set[Var], bwd: set[Eqn], fwd: list[Eqn], producers: dict[Var, Eqn], grads: list[Atom]
) -> tuple[set[Var], set[Eqn], dict[Eqn, Eqn]]:
    """``saved`` with each permuted residual the backward only reshapes replaced by the
    forward's reshape of it, the backward's equations then, and the reshapes of the backward
    rewritten to read it (Note [reshaped residuals])."""
    swap: dict[Eqn, Eqn] = {}
    outputs = {o for o in grads if isinstance(o, Var)}
    order = {e.out: i for i, e in enumerate(fwd)}
    for r in sorted(saved, key=lambda v: order.get(v, -1)):
        if producers[r].op is not Op.PERMUTE or r in outputs:
            continue
        own = next(
            (e for e in fwd if e.op is Op.RESHAPE and e.inputs[0] is r and e.out not in outputs),
            None,
        )
        if own is None:
            continue
        trial = (saved - {r}) | {own.out}
        trial_bwd = _slice(grads, producers, trial)
        readers = [e for e in trial_bwd if r in e.inputs]
        if not readers or any(e.op is not Op.RESHAPE or e in fwd for e in readers):
            continue
        for e in readers:
            swap[e] = Eqn(Op.RESHAPE, (own.out,), e.attrs, e.out, e.loc, e.no_grad, e.remat)
        saved = trial
        producers = producers | {e.out: swap[e] for e in readers}
        bwd = _slice(grads, producers, saved)
    return saved, bwd, swap


def split(joint: Joint, budget: float = 1.0) -> Split:
    """Partition the joint graph; see the module docstring for what is saved. ``budget``:
    the activation-memory budget in [0, 1] (Note [rematerialization])."""
    g = joint.graph
    n_in = len(g.inputs) - len(joint.cotangent_of)
    fwd_inputs, cotangents = g.inputs[:n_in], g.inputs[n_in:]
    fwd_outputs, grads = list(g.outputs[: joint.n_outputs]), list(g.outputs[joint.n_outputs :])
    producers = _producers(g)
    fwd_eqns = _slice([*fwd_outputs, *_forward_effects(g, set(cotangents))], producers, set())
    # a loop's parts the backward reads (its saved carries) are read in the forward: a tuple
    # is never a residual (Note [loops in the IR])
    fwd_eqns |= {
        e
        for e in g.eqns
        if e.op is Op.GET and isinstance(e.inputs[0], Var) and producers[e.inputs[0]] in fwd_eqns
    }
    inputs = set(fwd_inputs) | {v for v, _ in g.consts}
    # values the backward reads that the forward computes: save, or recompute when cheap
    bwd_all = _slice(grads, producers, set())
    boundary = {
        a
        for e in bwd_all - fwd_eqns
        for a in e.inputs
        if isinstance(a, Var) and producers.get(a) in fwd_eqns
    } | {o for o in grads if isinstance(o, Var) and producers.get(o) in fwd_eqns}
    saved = set()
    free = set()
    for v in boundary:
        if _recomputable(v, producers, inputs, RECOMPUTE_DEPTH) and v not in set(fwd_outputs):
            free |= {e.out for e in _slice([v], producers, inputs)}
        else:
            saved.add(v)
    memory = None
    forward_order = [e for e in g.eqns if e in fwd_eqns]
    out_vars = {o for o in fwd_outputs if isinstance(o, Var)}
    saved, free = _cheap_cut(forward_order, boundary, saved, free, out_vars, _fused_only(g))
    if budget < 1 or any(e.remat for e in forward_order):
        memory = choose(forward_order, boundary, saved, free, budget)
        saved = memory.saved
    recomputed = [f"{producers[v].op.name.lower()} -> {v.aval}" for v in boundary if v not in saved]
    bwd_eqns = _slice(grads, producers, saved)
    saved, bwd_eqns, swap = _reshaped_residuals(saved, bwd_eqns, forward_order, producers, grads)
    order = {e: i for i, e in enumerate(g.eqns)}
    residuals = tuple(sorted(saved, key=lambda v: order[producers[v]]))
    used = {a for e in bwd_eqns for a in e.inputs if isinstance(a, Var)} | set(grads)
    saved_inputs = tuple(i for i, v in enumerate(fwd_inputs) if v in used)
    forward = Graph(
        tuple(fwd_inputs),
        tuple(e for e in g.eqns if e in fwd_eqns),
        tuple(fwd_outputs) + residuals,
        g.consts,
    )
    backward = Graph(
        residuals + tuple(fwd_inputs[i] for i in saved_inputs) + tuple(cotangents),
        late_recompute(
            [swap.get(e, e) for e in g.eqns if swap.get(e, e) in bwd_eqns],
            bwd_eqns & fwd_eqns,
            grads,
        ),
        tuple(grads),
        g.consts,
    )
    return Split(forward, backward, residuals, saved_inputs, recomputed, memory)
