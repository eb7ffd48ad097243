"""The optimization pipeline: one visible, ordered list of named passes, timed and checkable.

Environment flags (FLAGS below is the one table of adjit's environment flags):

- ``ADJIT_PRINT_AFTER``: comma-separated pass names, or ``all``; prints the IR after each of
  those passes to stderr, with the pass's time and equation count.
- ``ADJIT_VERIFY``: ``1`` runs the verifier on the input and after every pass (as
  ``verify=True`` does); a failure names the pass that broke the graph. The tests set it.
- ``ADJIT_CACHE_DIR``: the folder of the kernel cache and of the sympy results (default: the
  user's cache dir, see ``passes/cache_folder.py``, ``codegen/kernel_cache.py`` and
  ``passes/symbolic_cache.py``); ``off``: no disk cache.
- ``ADJIT_STABILITY``: ``0`` turns the stability rewrites off (``passes/stability.py``, on by
  default: Note [stability rewrites]); compiled programs then overflow where eager ones do.
- ``ADJIT_SYMBOLIC``: ``1`` adds the sympy simplification pass (``passes/symbolic.py``) to
  every compile. Off by default because of the first (cold) compile: with sympy's results on
  disk a warm process pays ~4 ms for it and never imports sympy, but a cold one imports sympy
  (~0.4 s alone) and runs the bounded rewrites: the README example's first step 325 -> 1035 ms
  (2 cores, load 2-3; ``python -m adjit.benchmarks.symbolic_cost``), far above the 150 ms
  the pass may cost to be on by default (issue 19). (Regions with ``where`` are always
  differentiated symbolically, from the same disk cache: that is about correctness.)

Passes that come later (the sympy pass over fused elementwise regions) plug in through
``run_pipeline(..., extra=[(name, pass)])``: they run after the cleanup passes, on a graph with
no dead or duplicated code, and a second cse + dce then cleans up what they emitted.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..ir.graph import Graph
from ..ir.verify import VerifyError, verify
from .algebra import algebra
from .cse import cse
from .dce import dce
from .early_collectives import early_collectives
from .fold import fold
from .gemm import gemm
from .index_writes import index_writes
from .layout import concatenated_heads, layout
from .rule_identities import drop_rule_identities
from .stability import stabilize

Pass = Callable[[Graph], Graph]

FLAGS: dict[str, str] = {
    "ADJIT_PRINT_AFTER": "comma-separated pass names or 'all': print the IR after them (stderr)",
    "ADJIT_VERIFY": "'1': verify the graph before the pipeline and after every pass",
    "ADJIT_SYMBOLIC": "'1': run the sympy simplification pass in every compile (off: cold cost)",
    "ADJIT_STABILITY": "'0': no stability rewrites (compiled overflows where eager does)",
    "ADJIT_CACHE_DIR": "where kernels and sympy results are cached on disk, 'off' for nowhere",
    "ADJIT_COMPILE_WORKER": "'0': run LLVM in this process, not in the compile worker (codegen)",
    "ADJIT_NUM_THREADS": "threads for kernels and BLAS at start (adjit.set_num_threads; runtime)",
    "ADJIT_NATIVE_POOL": "'0': split kernels run on Python worker threads, not the native pool",
    "ADJIT_DIST_TIMEOUT": "seconds: adjit.distributed's default collective timeout (else 30 min)",
    "ADJIT_DIST_START_TIMEOUT": "seconds all ranks may take to reach init_process_group (else "
    "the timeout, at least 60 s)",
    "ADJIT_COLLECTIVE_POLL": "'0': no MPI progress tests between steps during a collective",
    "ADJIT_BLAS": "compiled products: 'auto' (default) MKL, large ones on the fastest of MKL, "
    "NumPy's BLAS and adjit's float32 GEMM, timed (runtime/blas_choice.py); 'mkl'; 'numpy'; "
    "'adjit' (its GEMM wherever it takes the operands)",
    "ADJIT_MKL_THREADS": "'0': MKL sequential, products split on adjit's threads (mkl_threads)",
    "ADJIT_WINOGRAD": "3x3 stride-1 convolutions by Winograd F(2x2,3x3): 'auto' (large shapes), "
    "'all', 'off' (runtime/winograd.py)",
}

PIPELINE: list[tuple[str, Pass]] = [
    # internal rules' identities, used by the adjoint (Note [rule identities after the adjoint])
    ("rule_identities", drop_rule_identities),
    ("fold", fold),  # constants first: the rules then see literal values
    # stable forms of log(1 + exp(x)) & co. (Note [stability rewrites]); frontend/plans.py
    # also runs it on the forward before the adjoint, so here it meets backward patterns
    ("stability", stabilize),
    ("gemm", gemm),  # a batch of products summed as one GEMM (Note [one GEMM over the batch])
    ("layout", layout),  # transposed products computed untransposed (Note [matmul layout])
    ("algebra", algebra),  # exact local rules, to a fixed point
    ("index_writes", index_writes),  # summed slab gradients as one CAT (Note [index writes])
    ("heads", concatenated_heads),  # merged heads concatenated (Note [concatenated heads])
    ("cse", cse),  # the rules make equal equations (e.g. three `mul ct 2`)
    ("dce", dce),  # everything the others orphaned
    # all-reduces started as soon as their operand exists (Note [collectives as early as
    # possible]); a no-op without collectives
    ("collectives", early_collectives),
]

# after extra passes (the symbolic slot): clean up what they emitted
CLEANUP: list[tuple[str, Pass]] = [("cse", cse), ("dce", dce)]


class PassError(VerifyError):
    """A pass produced a graph the verifier rejects; the message names the pass."""


@dataclass(frozen=True)
class PassRecord:
    """One pass's result and how long it took."""

    name: str
    seconds: float
    graph: Graph


def flag(name: str) -> str:
    """The value of one of the FLAGS ('' when unset)."""
    assert name in FLAGS, f"undocumented adjit flag {name}: add it to FLAGS"
    return os.environ.get(name, "").strip()


def run_pipeline(
    graph: Graph,
    passes: Sequence[tuple[str, Pass]] = PIPELINE,
    *,
    extra: Sequence[tuple[str, Pass]] = (),
    verify: bool | None = None,
) -> tuple[Graph, list[PassRecord]]:
    """Run ``passes`` (with ``extra`` in the symbolic slot) in order; returns the final graph
    and one record per pass. ``verify=None`` follows ADJIT_VERIFY."""
    checking = flag("ADJIT_VERIFY") == "1" if verify is None else verify
    shown = {n.strip() for n in flag("ADJIT_PRINT_AFTER").split(",") if n.strip()}
    todo = [*passes, *extra, *CLEANUP] if extra else list(passes)
    if checking:
        _check(graph, "the pipeline was given an invalid graph")
    records = []
    for name, run in todo:
        start = time.perf_counter()
        graph = run(graph)
        seconds = time.perf_counter() - start
        records.append(PassRecord(name, seconds, graph))
        if checking:
            _check(graph, f"pass {name!r} produced an invalid graph")
        if name in shown or "all" in shown:
            print(
                f"== IR after {name} ({seconds * 1e3:.2f} ms, {len(graph.eqns)} equations)\n"
                f"{graph}",
                file=sys.stderr,
            )
    return graph, records


def _check(graph: Graph, problem: str) -> None:
    try:
        verify(graph)
    except VerifyError as e:
        raise PassError(f"{problem}: {e}") from e
