"""The suite: its workloads in table order, the presets (full, quick, tiny), and one run."""

from __future__ import annotations

from . import latency, models, symbolic_cost, w1, w2, w3, w4, w5
from .harness import CaseResult, Settings, Timing, Workload
from .progress import Progress

WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        w1.WORKLOAD,
        w2.WORKLOAD,
        w3.WORKLOAD,
        w4.WORKLOAD,
        w5.WORKLOAD,
        models.EAGER_WORKLOAD,
        latency.WORKLOAD,
        symbolic_cost.WORKLOAD,
        models.MODELS_WORKLOAD,
    )
}
# run only when named (--only models): minutes of compiling and timing (Note [model workloads])
OPT_IN = ("models",)

SLOW_TORCH_COMPILE = "skipped in quick runs: torch.compile's first compile takes ~30 s"

PRESETS: dict[str, Settings] = {
    "full": Settings("full", Timing(rounds=9, min_rounds=3, min_sample_ms=5.0, budget_s=15.0)),
    "quick": Settings(
        "quick",
        Timing(rounds=3, min_rounds=2, min_sample_ms=2.0, budget_s=1.5),
        skip={"torch.compile": SLOW_TORCH_COMPILE},
        latency_repeats=1,
    ),
    # the tests' preset: the quick path on tiny sizes
    "tiny": Settings(
        "tiny",
        Timing(rounds=2, min_rounds=1, min_sample_ms=0.2, budget_s=0.2),
        skip={"torch.compile": SLOW_TORCH_COMPILE},
        latency_repeats=1,
    ),
}


def run_suite(
    settings: Settings, only: list[str] | None = None, progress: Progress | None = None
) -> dict[str, list[CaseResult]]:
    """Every selected workload's results, in table order."""
    progress = progress or Progress()
    names = [n for n in WORKLOADS if (n in only if only is not None else n not in OPT_IN)]
    return {name: WORKLOADS[name].results(settings, progress) for name in names}
