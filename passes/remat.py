"""What the backward recomputes instead of saving: checkpointed regions and the memory budget.

Note [rematerialization]
~~~~~~~~~~~~~~~~~~~~~~~~
The forward/backward split (passes/split.py) must hand the backward every forward value it
reads ("boundary" values). Each one is either saved (a residual: bytes held from the end of the
forward to the backward) or recomputed by the backward from values it can read: forward inputs
and constants (the caller holds them: free) and other residuals. Choosing the residuals is a
minimum cut, as in PyTorch's min-cut partitioner (torch/_functorch/partitioners.py): each
forward value v is an edge v_in -> v_out whose capacity is its bytes (saving v cuts it), data
dependencies are infinite edges, every boundary value has v_out -> sink, and a value that may
not be recomputed gets source -> v_in. A minimum cut is then the fewest saved bytes such that
everything else the backward needs is recomputable; of the minimum cuts we take the one nearest
the sink (the latest values: the least recomputation).

What may be recomputed (``kind``):
- never: random draws (RANDOM: eager's generator advances once per draw; the backward reads the
  forward's sample, Note [random numbers in compiled code]), loops and branches and their parts
  (a tuple is never a residual; the loop runs once), run-time checks.
- expensive: matmul, LAPACK-like LINALG, sorting, special functions: recomputed only when the
  budget cannot be met otherwise (PyTorch bans mm/bmm/convolution/attention the same way).
- cheap: everything else (elementwise, reductions, movement).

Checkpointed regions (Eqn.remat, Note [checkpoint traced] in adjit/utils/checkpoint.py): a
region's values, unless never-recomputable, get v_in -> sink: they are recomputed, whatever
their op, as eager checkpointing recomputes the whole function.

The activation-memory budget b in [0, 1] (PyTorch's ``activation_memory_budget``): let max be
the bytes the default split saves (b = 1: today's heuristic of passes/split.py, with regions
honoured) and min the bytes of the cut where everything but never-ops may be recomputed. The
target is ``min + b * (max - min)``. We try, in order: the cut with cheap ops recomputable;
then, while over target, un-ban expensive ops one at a time, in the order of the bytes that
un-banning each alone saves per unit of recompute work it adds (flops, estimated per op:
``cost``), scored once. The sequence does not depend on b and each step only relaxes the cut,
so saved bytes are monotone in b; its last step is the min cut itself (b = 0 goes there
directly), so the target is always met (``Choice.met`` records it).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..ir.aval import Aval
from ..ir.graph import Eqn, Graph, Var
from ..ir.ops import GroupOp, Op
from ..ir.sizes import SymbolicShapeError

NEVER = GroupOp.EFFECTS | GroupOp.CONTROL | {Op.CHECK}
EXPENSIVE = frozenset({Op.MATMUL, Op.LINALG, Op.SPECIAL}) | GroupOp.SORT
SYMBOL_GUESS = 128  # a symbolic size's stand-in when weighing bytes (templates' splits)


def nbytes(aval: Any) -> int:
    """Bytes of a value (a symbolic size weighs as SYMBOL_GUESS; a tuple is infinite: -1)."""
    if not isinstance(aval, Aval):
        return -1
    n = 1
    for d in aval.shape:
        try:
            n *= int(d)
        except (TypeError, SymbolicShapeError):  # a symbolic size that refuses a value
            n *= SYMBOL_GUESS
    return n * aval.dtype.itemsize


def cost(e: Eqn) -> int:
    """Rough work to recompute ``e``: multiply-adds of a product, n^3 of a factorization,
    elements otherwise."""
    out = max(nbytes(e.out.aval), 0) // e.out.aval.dtype.itemsize if _is_aval(e.out) else 1
    if e.op is Op.MATMUL:
        a = e.inputs[0].aval
        return 2 * out * (_int(a.shape[-1]) if a.ndim else 1)
    if e.op in GroupOp.LINALG or e.op in GroupOp.SORT:
        n = max((_int(d) for a in e.inputs for d in a.aval.shape), default=1)
        return out * n * (n if e.op in GroupOp.LINALG else 1)
    return max(out, 1)


def _is_aval(v: Var) -> bool:
    return isinstance(v.aval, Aval)


def _int(d: Any) -> int:
    try:
        return int(d)
    except (TypeError, SymbolicShapeError):
        return SYMBOL_GUESS


def kind(e: Eqn) -> str:
    if e.op in NEVER:
        return "never"
    return "expensive" if e.op in EXPENSIVE else "cheap"


@dataclass
class Choice:
    """The residuals chosen and the numbers behind them (Note [rematerialization])."""

    saved: set[Var]
    budget: float = 1.0
    saved_bytes: int = 0
    max_bytes: int = 0  # the default split's (b = 1)
    min_bytes: int = 0  # the least any cut saves (everything but never-ops recomputed)
    target_bytes: int = 0
    steps: list[str] = field(default_factory=list)  # how the choice was reached

    @property
    def met(self) -> bool:
        return self.saved_bytes <= self.target_bytes


class _Flow:
    """Dinic's maximum flow on integer capacities."""

    def __init__(self, n: int) -> None:
        self.adj: list[list[int]] = [[] for _ in range(n)]
        self.to: list[int] = []
        self.cap: list[int] = []

    def edge(self, u: int, v: int, c: int) -> None:
        self.adj[u].append(len(self.to))
        self.to.append(v)
        self.cap.append(c)
        self.adj[v].append(len(self.to))
        self.to.append(u)
        self.cap.append(0)

    def run(self, s: int, t: int) -> int:
        total = 0
        while True:
            level = [-1] * len(self.adj)
            level[s] = 0
            q = deque([s])
            while q:
                u = q.popleft()
                for e in self.adj[u]:
                    if self.cap[e] > 0 and level[self.to[e]] < 0:
                        level[self.to[e]] = level[u] + 1
                        q.append(self.to[e])
            if level[t] < 0:
                return total
            it = [0] * len(self.adj)
            while True:
                pushed = self._push(s, t, level, it)
                if not pushed:
                    break
                total += pushed

    def _push(self, s: int, t: int, level: list[int], it: list[int]) -> int:
        """One augmenting path in the level graph (iterative DFS); its flow."""
        path: list[int] = []
        u = s
        while u != t:
            adj = self.adj[u]
            while it[u] < len(adj):
                e = adj[it[u]]
                if self.cap[e] > 0 and level[self.to[e]] == level[u] + 1:
                    break
                it[u] += 1
            else:
                if not path:
                    return 0
                level[u] = -1  # dead end
                e = path.pop()
                u = self.to[e ^ 1]
                it[u] += 1
                continue
            path.append(e)
            u = self.to[e]
        f = min(self.cap[e] for e in path)
        for e in path:
            self.cap[e] -= f
            self.cap[e ^ 1] += f
        return f

    def reaching(self, t: int) -> set[int]:
        """Nodes that still reach ``t`` in the residual graph."""
        seen = {t}
        q = deque([t])
        while q:
            w = q.popleft()
            for f in self.adj[w]:
                x = self.to[f]
                if x not in seen and self.cap[f ^ 1] > 0:
                    seen.add(x)
                    q.append(x)
        return seen


class Partition:
    """The forward part of a joint graph as a cut problem (Note [rematerialization])."""

    def __init__(self, fwd: list[Eqn], boundary: Iterable[Var]) -> None:
        self.eqns = fwd
        self.index = {e.out: i for i, e in enumerate(fwd)}
        self.boundary = [v for v in boundary if v in self.index]
        self.size = [nbytes(e.out.aval) for e in fwd]
        self.inf = 1 + 2 * sum(s for s in self.size if s > 0)

    def cut(self, banned: set[int], forced: set[int]) -> set[Var]:
        """The residuals of the minimum cut: values in ``banned`` are not recomputed, values
        in ``forced`` are."""
        n = len(self.eqns)
        src, sink = 2 * n, 2 * n + 1
        flow = _Flow(2 * n + 2)
        inf = self.inf
        for i, e in enumerate(self.eqns):
            size = self.size[i]
            flow.edge(2 * i, 2 * i + 1, size if size >= 0 else inf)
            if i in banned:
                flow.edge(src, 2 * i, inf)
            if i in forced:
                flow.edge(2 * i, sink, inf)
            for a in e.inputs:
                j = self.index.get(a) if isinstance(a, Var) else None
                if j is not None:
                    flow.edge(2 * j + 1, 2 * i, inf)
        for v in self.boundary:
            flow.edge(2 * self.index[v] + 1, sink, inf)
        value = flow.run(src, sink)
        assert value < inf, "no finite cut: a value must be both saved and recomputed"
        near = flow.reaching(sink)
        return {e.out for i, e in enumerate(self.eqns) if 2 * i not in near and 2 * i + 1 in near}

    def bytes_of(self, saved: Iterable[Var]) -> int:
        return sum(max(self.size[self.index[v]], 0) for v in saved if v in self.index)

    def recompute_cost(self, saved: set[Var]) -> int:
        """Work of the forward equations the backward reruns when ``saved`` are residuals."""
        seen: set[int] = set()
        stack = [self.index[v] for v in self.boundary if v not in saved]
        total = 0
        while stack:
            i = stack.pop()
            if i in seen:
                continue
            seen.add(i)
            total += cost(self.eqns[i])
            for a in self.eqns[i].inputs:
                j = self.index.get(a) if isinstance(a, Var) else None
                if j is not None and a not in saved:
                    stack.append(j)
        return total


def _handed_over(fwd: list[Eqn]) -> set[int]:
    """Region values a later region reads (two checkpointed calls in a row): saved, as
    PyTorch's partitioner saves them (cleanup_recompute_tags), so that each region is
    recomputed from its own inputs and not the whole chain from the first."""
    index = {e.out: i for i, e in enumerate(fwd)}
    found = set()
    for e in fwd:
        for a in e.inputs:
            i = index.get(a) if isinstance(a, Var) else None
            if i is not None and e.remat > fwd[i].remat > 0:
                found.add(i)
    return found


def choose(
    fwd: list[Eqn], boundary: set[Var], default: set[Var], default_free: set[Var], budget: float
) -> Choice:
    """Residuals for ``boundary`` under the checkpoint regions and ``budget``.

    ``default`` is what the plain split saves; ``default_free`` the values it recomputes (with
    their chains), left recomputable when b = 1."""
    p = Partition(fwd, boundary)
    never = {i for i, e in enumerate(fwd) if kind(e) == "never"}
    handed = _handed_over(fwd)
    forced = {i for i, e in enumerate(fwd) if e.remat and i not in never | handed}
    if forced:  # b = 1 with regions: the plain split's choices outside them
        outside = {
            i
            for i, e in enumerate(fwd)
            if (not e.remat or i in handed) and e.out not in default_free and i not in never
        }
        top = p.cut(never | outside, forced)
    else:
        top = set(default)
    choice = Choice(top, budget, max_bytes=p.bytes_of(top))
    least = p.cut(never, forced)
    choice.min_bytes = p.bytes_of(least)
    choice.target_bytes = int(choice.min_bytes + budget * (choice.max_bytes - choice.min_bytes))
    choice.steps.append(f"b=1 split: {choice.max_bytes} bytes")
    if budget >= 1:
        choice.saved_bytes = choice.max_bytes
        return choice
    banned = never | handed
    banned |= {i for i, e in enumerate(fwd) if kind(e) == "expensive" and i not in forced}
    saved = p.cut(banned, forced)
    got = p.bytes_of(saved)
    choice.steps.append(f"cheap ops recomputed: {got} bytes")
    if got > choice.target_bytes == choice.min_bytes:
        saved, got = least, choice.min_bytes  # b = 0: the end of the sequence below
        choice.steps.append(f"everything but draws and loops recomputable: {got} bytes")
    elif got > choice.target_bytes:
        # each banned op's bytes saved per added recompute work, alone; then un-ban in that
        # order until the target is met (2k cuts for k banned ops, not k^2)
        base_cost = p.recompute_cost(saved)
        scored = []
        for i in sorted(banned - never):
            trial = p.cut(banned - {i}, forced)
            extra = max(p.recompute_cost(trial) - base_cost, 1)
            scored.append(((got - p.bytes_of(trial)) / extra, -extra, -i))
        for _, _, i in sorted(scored, reverse=True):
            if got <= choice.target_bytes:
                break
            banned.discard(-i)
            saved = p.cut(banned, forced)
            got = p.bytes_of(saved)
            e = fwd[-i]
            choice.steps.append(f"recompute {e.op.name.lower()} -> {e.out.aval}: {got} bytes")
    choice.saved, choice.saved_bytes = saved, got
    return choice


def live_peak(forward: Graph, backward: Graph, residuals: Sequence[Var]) -> tuple[int, str]:
    """Note [peak activation memory]: the most bytes of buffers the compiled step holds at
    once, and where (a program and a step number), counting what the fused programs
    (passes/fusion.py) write: every kernel output and extern result from the step that writes
    it to its last read, the forward's outputs to the forward's end, residuals from the forward
    step that makes them to their last read in the backward, and the gradients to the
    backward's end. Not counted: the inputs, parameters and constants (the caller holds them
    anyway), a kernel's registers and BLAS's own workspace. A reshape counts as a copy (it may
    be a view), so this is an upper bound on what the fused programs allocate; the executor's
    buffer pools (Note [buffer reuse]) keep some of these buffers between calls."""
    from .fusion import Extern, fuse

    def steps(g: Graph) -> list[tuple[set[Var], list[Var]]]:
        out = []
        for s in fuse(g).steps:
            if isinstance(s, Extern):
                e = s.eqn
                out.append(({a for a in e.inputs if isinstance(a, Var)}, [e.out]))
            else:
                out.append((set(s.inputs), list(s.outputs)))
        return out

    kept = set(residuals)
    best, where = sum(max(nbytes(v.aval), 0) for v in kept), "between forward and backward"
    for name, g, carried in (("forward", forward, ()), ("backward", backward, residuals)):
        plan = steps(g)
        last = {v: i for i, (reads, _) in enumerate(plan) for v in reads}
        ends = {o: len(plan) for o in g.outputs if isinstance(o, Var)}
        live = {v: nbytes(v.aval) for v in carried}
        for i, (_, writes) in enumerate(plan):
            for v in writes:
                live[v] = max(nbytes(v.aval), 0)
            total = sum(live.values())
            if total > best:
                best, where = total, f"{name} step {i + 1} of {len(plan)}"
            for v in list(live):
                if max(last.get(v, -1), ends.get(v, -1)) <= i and not (
                    name == "forward" and v in kept
                ):
                    del live[v]
    return best, where
