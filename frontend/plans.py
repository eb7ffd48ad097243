"""What runs for one specialization: the optimized forward, or the split forward/backward pair."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..ir.graph import Graph
from ..ir.ops import Op
from ..passes.adjoint import Joint, Region
from ..passes.pipeline import PassRecord, flag, run_pipeline
from ..passes.split import Split, split
from .builder import joint_graph


def optimize(g: Graph) -> tuple[Graph, list[PassRecord]]:
    """The pass pipeline; the sympy pass in its slot when ADJIT_SYMBOLIC=1 (see FLAGS)."""
    if flag("ADJIT_SYMBOLIC") != "1":
        return run_pipeline(g)
    from ..passes.symbolic import simplify

    return run_pipeline(g, extra=[("symbolic", simplify)])


def _regions(fwd: Graph) -> list[Region]:
    """Elementwise regions with ``where`` that are differentiated symbolically, if available."""
    if not any(e.op is Op.WHERE for e in fwd.eqns):
        return []  # nothing to find: skip importing the symbolic passes
    try:
        from ..passes.symbolic import where_regions
    except ImportError:  # pragma: no cover
        return []
    return where_regions(fwd)


@dataclass
class TrainPlan:
    """A forward that also returns residuals, and the backward that consumes them."""

    wrt: tuple[int, ...]
    joint: Joint
    optimized_joint: Graph
    split: Split
    records: list[PassRecord]
    timings: dict[str, float] = field(default_factory=dict)


def train_plan(fwd: Graph, wrt: tuple[int, ...]) -> TrainPlan:
    """Differentiate, optimize and split ``fwd`` for gradients with respect to ``wrt``."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    regions = _regions(fwd)
    joint = joint_graph(fwd, wrt, regions)
    t1 = time.perf_counter()
    optimized, records = optimize(joint.graph)
    t2 = time.perf_counter()
    parts = split(
        Joint(
            optimized, joint.n_forward_eqns, joint.n_outputs, wrt, joint.cotangent_of, joint.pruned
        )
    )
    timings.update(adjoint=t1 - t0, optimize=t2 - t1, split=time.perf_counter() - t2)
    return TrainPlan(wrt, joint, optimized, parts, records, timings)


def inference_graph(fwd: Graph) -> Graph:
    return optimize(fwd)[0]
