"""What runs for one specialization: the optimized forward, or the split forward/backward pair."""

from __future__ import annotations

import threading
import time
from functools import partial

from ..ir.graph import Graph
from ..ir.ops import Op
from ..passes.adjoint import Joint, Region
from ..passes.pipeline import PassRecord, flag, run_pipeline
from ..passes.split import Split, split
from ..passes.stability import DROPS_OPERANDS, stabilize_report
from .builder import SYMBOLIC_HOST, joint_graph


def optimize(g: Graph) -> tuple[Graph, list[PassRecord]]:
    """The pass pipeline; the sympy pass in its slot when ADJIT_SYMBOLIC=1 (see FLAGS)."""
    if flag("ADJIT_SYMBOLIC") != "1":
        return run_pipeline(g)
    from ..passes.symbolic import simplify

    return run_pipeline(g, extra=[("symbolic", partial(simplify, host=SYMBOLIC_HOST))])


def _regions(fwd: Graph) -> list[Region]:
    """Elementwise regions with ``where`` that are differentiated symbolically, if available."""
    if not any(e.op is Op.WHERE for e in fwd.eqns):
        return []  # nothing to find: skip importing the symbolic passes
    try:
        from ..passes.symbolic import where_regions
    except ImportError:  # pragma: no cover
        return []
    return where_regions(fwd, host=SYMBOLIC_HOST)


class TrainPlan:
    """A forward that also returns residuals, and the backward that consumes them.

    The joint graph is made up front; its optimized form and the forward/backward split are
    made on first use: ``grad`` and ``value_and_grad`` run the joint graph with its seeds
    folded in (``transforms.seeded``) and never need them, which saves a warm process's first
    call a whole pipeline run."""

    def __init__(
        self, wrt: tuple[int, ...], joint: Joint, adjoint_seconds: float, budget: float = 1.0
    ) -> None:
        self.wrt, self.joint, self.budget = wrt, joint, budget
        self._timings = {"adjoint": adjoint_seconds}
        self._optimized: tuple[Graph, Split, list[PassRecord]] | None = None
        self._lock = threading.Lock()  # threads share one optimized graph and split

    def _optimize(self) -> tuple[Graph, Split, list[PassRecord]]:
        if self._optimized is not None:
            return self._optimized
        with self._lock:
            if self._optimized is not None:
                return self._optimized
            joint = self.joint
            t0 = time.perf_counter()
            optimized, records = optimize(joint.graph)
            t1 = time.perf_counter()
            parts = split(
                Joint(
                    optimized,
                    joint.n_forward_eqns,
                    joint.n_outputs,
                    self.wrt,
                    joint.cotangent_of,
                    joint.pruned,
                ),
                self.budget,
            )
            self._timings.update(optimize=t1 - t0, split=time.perf_counter() - t1)
            self._optimized = optimized, parts, records
            return self._optimized

    @property
    def optimized_joint(self) -> Graph:
        return self._optimize()[0]

    @property
    def split(self) -> Split:
        return self._optimize()[1]

    @property
    def records(self) -> list[PassRecord]:
        return self._optimize()[2]

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per stage: adjoint, optimize, split."""
        self._optimize()
        return self._timings


def train_plan(fwd: Graph, wrt: tuple[int, ...], budget: float = 1.0) -> TrainPlan:
    """Differentiate ``fwd`` for gradients with respect to ``wrt`` (optimized and split on
    first use, see TrainPlan); ``budget``: the activation-memory budget (passes/remat.py)."""
    t0 = time.perf_counter()
    stable, fired = stabilize_report(fwd)  # the stable form's gradient (Note [stability rewrites])
    joint = joint_graph(stable, wrt, _regions(stable))
    if any(rule in DROPS_OPERANDS for rule, _ in fired):  # x*y/y -> x: y still gets a (zero)
        before = joint_graph(fwd, wrt, _regions(fwd)).reached  # gradient, as eager, not None
        joint.reached = tuple(a or b for a, b in zip(joint.reached, before, strict=True))
    return TrainPlan(wrt, joint, time.perf_counter() - t0, budget)


def inference_graph(fwd: Graph) -> Graph:
    return optimize(fwd)[0]
