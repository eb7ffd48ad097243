"""Schedule each collective (and the equations it needs) as early as its operands allow."""

from __future__ import annotations

import heapq

from ..ir.graph import Eqn, Graph, Var
from ..ir.ops import GroupOp, Op

# Note [collectives as early as possible]
# A compiled training step with DistributedDataParallel inside records a bucket's all-reduce
# when the trace's backward() calls the gradient hooks: after the whole backward, in trace
# order. Fusion and the executor run equations in graph order, so the communication would
# start only when the backward is over, with nothing left to overlap it with. This pass
# reorders the graph (a list scheduling): among the equations whose operands exist, those the
# first collective needs (directly or not) run first, then those the second one needs, and
# so on, each collective as soon as its operand exists; the equations no collective needs
# come last, each group in graph order. Effects (draws, collectives) stay in their relative
# order: each one waits for the one before it (every rank issues its collectives in the same
# sequence, and draws come from one generator). The executor then starts the collective at
# its place and waits just before its first reader (Note [collectives in the IR] in
# ir/collectives.py).


def early_collectives(graph: Graph) -> Graph:
    """``graph`` with collectives and their operands' equations moved up (see the Note)."""
    eqns = graph.eqns
    if not any(e.op is Op.COLLECTIVE for e in eqns):
        return graph
    made_by = {e.out: i for i, e in enumerate(eqns)}
    before: list[list[int]] = []  # per equation: the equations it must follow
    last_effect = -1
    for i, e in enumerate(eqns):
        deps = {made_by[a] for a in e.inputs if isinstance(a, Var) and a in made_by}
        if e.op in GroupOp.EFFECTS:
            if last_effect >= 0:
                deps.add(last_effect)
            last_effect = i
        before.append(sorted(deps))
    # an equation's priority: the first collective needing it (then its own position);
    # equations no collective needs come after every ready one that some collective needs
    collectives = [i for i, e in enumerate(eqns) if e.op is Op.COLLECTIVE]
    rank = [len(collectives)] * len(eqns)
    for k, c in enumerate(collectives):
        todo = [c]
        while todo:
            i = todo.pop()
            if rank[i] > k:
                rank[i] = k
                todo.extend(before[i])
    waiting = [len(d) for d in before]
    after: list[list[int]] = [[] for _ in eqns]
    for i, needs in enumerate(before):
        for d in needs:
            after[d].append(i)
    ready = [(rank[i], i) for i, n in enumerate(waiting) if n == 0]
    heapq.heapify(ready)
    order: list[Eqn] = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(eqns[i])
        for j in after[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, (rank[j], j))
    if all(a is b for a, b in zip(order, eqns, strict=True)):
        return graph
    return graph.replace(eqns=tuple(order))
