"""Check every contender against adjit, then time the agreeing ones interleaved, by medians."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .progress import Progress

Outputs = tuple[Any, ...]
Step = Callable[[], Outputs]
Setup = Callable[[], Step]  # builds a contender's step (may raise Unavailable); called once

BASELINE = "adjit compiled"


class Unavailable(Exception):
    """A contender that cannot run on this machine (its library is not installed)."""


@dataclass
class Case:
    """One workload at one size: the contenders (the first is the baseline) and the truth.

    ``reference`` gives the float64 NumPy outputs the baseline must match; ``scales`` maps an
    output index to the magnitude its error is measured against (default: the output's largest
    absolute value; a sum of cancelling terms passes the sum of their absolute values).
    ``floors`` are timed but not checked: they bound what the hardware allows."""

    workload: str
    label: str
    params: dict[str, Any]
    contenders: dict[str, Setup]
    reference: Callable[[], Outputs] | None = None
    scales: dict[int, float] = field(default_factory=dict)
    floors: dict[str, Setup] = field(default_factory=dict)
    tolerance: float = 1e-3

    def __post_init__(self) -> None:
        if next(iter(self.contenders), None) != BASELINE:
            raise ValueError(f"a case's first contender is the baseline, {BASELINE!r}")


@dataclass
class Measurement:
    """One contender on one case: its status, median time, ratio to the baseline and error."""

    status: str  # ok | disagrees | failed | unavailable | skipped | floor
    median_ms: float | None = None
    iqr_ms: float | None = None  # the samples' interquartile range (their spread)
    ratio: float | None = None  # median / the baseline's median (> 1: adjit compiled is faster)
    error: float | None = None  # scaled max abs difference from the baseline (its own: float64)
    first_call_ms: float | None = None  # includes tracing and compiling
    rounds: int = 0
    number: int = 0  # calls per timed sample
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class CaseResult:
    workload: str
    label: str
    params: dict[str, Any]
    measurements: dict[str, Measurement]
    reference_error: float | None = None  # the baseline against float64 NumPy
    baseline: str = BASELINE


@dataclass(frozen=True)
class Timing:
    """How long to time: rounds (each runs every contender once), the shortest sample, and a
    budget that lowers the rounds of a slow case (never below ``min_rounds``)."""

    rounds: int = 7
    min_rounds: int = 3
    min_sample_ms: float = 5.0
    budget_s: float = 20.0


@dataclass(frozen=True)
class Settings:
    """One run's configuration: the preset's sizes, timing, and contenders skipped (and why)."""

    preset: str  # full | quick | tiny: which sizes each workload runs
    timing: Timing = Timing()
    skip: dict[str, str] = field(default_factory=dict)
    latency_repeats: int = 3
    threads: int = 1  # every contender's (peers.set_threads)
    isolate: bool = False  # each contender in a process of its own (Note [one process a contender])


@dataclass(frozen=True)
class Workload:
    """A named benchmark: sizes per preset and how to build one case per size; or, for the
    ones that do not fit check-then-time (compile latency), a ``run`` of its own."""

    name: str
    title: str
    sizes: dict[str, list[Any]]
    build: Callable[[Any], Case] | None = None
    run: Callable[[Settings, Progress], list[CaseResult]] | None = None

    def results(self, settings: Settings, progress: Progress) -> list[CaseResult]:
        if self.run is not None:
            return self.run(settings, progress)
        assert self.build is not None
        return [
            run_case(
                self.build(size),
                settings.timing,
                settings.skip,
                progress,
                (self.name, settings.preset, i) if settings.isolate else None,
                settings.threads,
            )  # fmt: skip
            for i, size in enumerate(self.sizes[settings.preset])
        ]


def thread_env(threads: int) -> dict[str, str]:
    """Environment variables that give every library ``threads`` threads: adjit, BLAS,
    OpenMP (PyTorch), XLA (JAX; read when JAX loads), and the bench children's PyTorch."""
    env = {k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    env["XLA_FLAGS"] = (
        f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
        f"intra_op_parallelism_threads={threads}"
    )
    env["ADJIT_NUM_THREADS"] = env["ADJIT_BENCH_TORCH_THREADS"] = str(threads)
    return env


def child_env(threads: int, cache: str) -> dict[str, str]:
    """The environment of a benchmark's child process: ``threads`` for every library (adjit,
    BLAS, OpenMP and XLA), JAX on the CPU, and cold compile caches (adjit's and inductor's)
    under ``cache``."""
    env = dict(os.environ) | thread_env(threads)
    env["JAX_PLATFORMS"] = "cpu"
    env["ADJIT_CACHE_DIR"] = os.path.join(cache, "adjit")
    env["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(cache, "inductor")
    return env


def child_json(cmd: list[str], env: dict[str, str], timeout: float) -> dict[str, Any] | str:
    """Run a benchmark child process; its last stdout line parsed as JSON, or why it failed
    (its last stderr line, or the timeout)."""
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False,
                             timeout=timeout)  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"failed: over --timeout {timeout} s"
    if out.returncode != 0:
        return f"failed: {out.stderr.strip().splitlines()[-1:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def first_and_median(make: Callable[[], Callable[[], Any]], rounds: int) -> dict[str, Any]:
    """A fresh child's measurement: ``make()`` builds the step and the first call runs it (the
    first call's seconds include both), then ``rounds`` timed calls: their median and
    interquartile range in ms, and the first call's result."""
    t0 = time.perf_counter()
    step = make()
    result = step()
    first = time.perf_counter() - t0
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    q = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    return {
        "result": result,
        "first_s": first,
        "median_ms": q[1] * 1e3,
        "iqr_ms": (q[2] - q[0]) * 1e3,
    }


def to_numpy(value: Any) -> np.ndarray:
    """A contender's output (adjit/torch tensor, JAX array, NumPy value) as a NumPy array."""
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value, dtype=np.float64)


def disagreement(got: Outputs, want: Outputs, scales: dict[int, float]) -> float:
    """The largest ``max|got - want| / scale`` over the outputs (inf on a shape mismatch/NaN)."""
    if len(got) != len(want):
        return math.inf
    worst = 0.0
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        g, w = to_numpy(g), to_numpy(w)
        if g.shape != w.shape:
            return math.inf
        scale = scales.get(i) or max(float(np.max(np.abs(w), initial=0.0)), 1e-30)
        err = float(np.max(np.abs(g - w), initial=0.0)) / scale
        worst = max(worst, err if math.isfinite(err) else math.inf)
    return worst


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:200]


def _start(name: str, setup: Setup, skip: dict[str, str]) -> tuple[Step | None, Any, Measurement]:
    """Set up and call a contender once; returns (step, outputs, measurement so far)."""
    if name in skip:
        return None, None, Measurement("skipped", note=skip[name])
    try:
        step = setup()
        t0 = time.perf_counter()
        out = tuple(to_numpy(v) for v in step())
        first = (time.perf_counter() - t0) * 1e3
    except Unavailable as e:
        return None, None, Measurement("unavailable", note=str(e))
    except Exception as e:  # a contender that crashes is reported, never fatal
        return None, None, Measurement("failed", note=_first_line(e))
    return step, out, Measurement("ok", first_call_ms=first)


def check(
    case: Case, skip: dict[str, str], progress: Progress
) -> tuple[dict[str, Step], dict[str, Measurement], float | None]:
    """Run every contender once; those not agreeing with the baseline are marked, not timed.

    The baseline (the first contender) is checked against float64 NumPy first; if it fails or
    disagrees, nothing is timed. Returns (steps to time, measurements, the baseline's error)."""
    contenders = iter(case.contenders.items())
    name, setup = next(contenders)
    progress.step(f"checking {name}")
    step, want, base = _start(name, setup, skip)
    measurements = {name: base}
    if step is None:
        return {}, measurements, None
    base.error = 0.0
    if case.reference is not None:
        ref = tuple(to_numpy(v) for v in case.reference())
        base.error = disagreement(want, ref, case.scales)
        if base.error > case.tolerance:
            base.status, base.note = "disagrees", f"differs from float64 NumPy by {base.error:.2e}"
            return {}, measurements, base.error
    steps = {name: step}
    for name, setup in contenders:
        progress.step(f"checking {name}")
        step, out, m = _start(name, setup, skip)
        measurements[name] = m
        if step is None:
            continue
        m.error = disagreement(out, want, case.scales)
        if m.error > case.tolerance:
            m.status = "disagrees"
            m.note = f"differs from {BASELINE} by {m.error:.2e} (tolerance {case.tolerance})"
        else:
            steps[name] = step
    for name, setup in case.floors.items():
        step, _, m = _start(name, setup, skip)
        measurements[name] = m
        if step is not None:
            m.status, m.note = "floor", "a bound, not a contender"
            steps[name] = step
    return steps, measurements, base.error if case.reference is not None else None


# Note [warm calibration]
# Calibration doubled the calls from one, and the first batch is a single call: the second call
# of the step (the first ran in the check), which for adjit writes the call's trampoline and for
# torch.compile may recompile on its guards. A contender whose second call lasted min_sample_ms
# kept one call a sample whatever its warm speed: adjit's W2 batch-128 step at 2 threads was
# timed one call at a time (number 1, each after settle()'s sleep: a cold cache and sleeping
# workers) against NumPy's eight, 3.2 ms against 1.4-1.9 warm. So WARM_CALLS calls run first,
# untimed, for every contender alike.
WARM_CALLS = 3


def _calibrate(step: Step, min_sample_ms: float) -> tuple[int, float]:
    """Calls per sample so that a sample lasts at least ``min_sample_ms``, and one call's ms:
    after WARM_CALLS untimed calls (Note [warm calibration]), batches double until one lasts
    that long (as ``timeit.autorange``). Samples of a handful of calls measure cold caches,
    not the step."""
    sample(step, WARM_CALLS)
    n = 1
    while True:
        ms = max(sample(step, n)[0] * 1e3, 1e-4)
        if ms >= min_sample_ms:
            return n, ms / n
        n *= 2


# Note [awake before a sample]
# settle() sleeps before every sample, and on this VM an idle core's threads wake slowly: the
# first parallel region after the sleep waited for the other core (adjit compiled, W2 batch 8 at
# 2 threads, one call a sample: 1.0 ms against ~0.15 back to back; PyTorch's MKL GEMM floor 20
# ms against well under 1). A training loop runs its steps back to back, so every sample, for
# every contender alike, starts with one untimed call that wakes its threads and warms its
# caches; then ``n`` calls are timed.


def sample(step: Step, n: int) -> tuple[float, float]:
    """One untimed call (Note [awake before a sample]), then ``n`` calls of ``step``: (wall
    seconds, CPU seconds); a contender in a process of its own (isolated.RemoteStep) is timed
    there the same way."""
    remote = getattr(step, "sample", None)
    if remote is not None:
        return remote(n)  # type: ignore[no-any-return]
    step()
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        step()
    return time.perf_counter() - t0, time.process_time() - c0


def spread(samples: list[float]) -> tuple[float, float]:
    """(median, interquartile range) of samples (range 0 for one sample)."""
    if len(samples) < 2:
        return samples[0], 0.0
    q = statistics.quantiles(samples, n=4, method="inclusive")
    return statistics.median(samples), q[2] - q[0]


# Note [cores used]
# ``--threads`` is a setting each library may or may not honour (a BLAS that ignores its
# environment, a library's helper threads, a benchmark script that sets one library after the
# harness did). So every timed sample also reads the process's CPU time: CPU seconds over wall
# seconds is the number of cores the contender really kept busy. The JSON keeps the median per
# contender (``extra["cores"]``) and the report flags anyone above the thread count. A flagged
# run is not a fair comparison. (PyTorch's OpenMP workers spin a little after each op, so at
# more than one thread a few percent may be billed to whoever runs next: the margin.)
CORES_MARGIN = 0.25


# Note [quiet between contenders]
# Libraries' worker threads spin for a while after their work: OpenBLAS's tens of ms after a
# multi-threaded product (NumPy's contender), PyTorch's OpenMP workers, adjit's native pool
# 100 µs. Timed in one process at 2 threads, whoever ran next found a core taken: the W2
# batch-128 step measured 4.8 ms for adjit there against 1.4-1.8 ms alone. So before each
# timed sample the harness sleeps in slices of SETTLE_SLICE_S until the process used under
# SETTLE_BUSY of a core in one (no thread spins), at most SETTLE_MAX_S: each contender starts
# on a quiet machine, and its own threads' spinning is billed to it alone.
SETTLE_SLICE_S = 0.005
SETTLE_BUSY = 0.1
SETTLE_MAX_S = 1.0


def settle() -> float:
    """Sleep until no thread of this process is busy (Note [quiet between contenders]);
    returns the seconds waited."""
    start = time.perf_counter()
    while True:
        c0, t0 = time.process_time(), time.perf_counter()
        time.sleep(SETTLE_SLICE_S)
        now = time.perf_counter()
        if time.process_time() - c0 < SETTLE_BUSY * (now - t0) or now - start >= SETTLE_MAX_S:
            return now - start


def time_interleaved(
    steps: dict[str, Step], timing: Timing, progress: Progress
) -> dict[str, tuple[float, float, int, int, float]]:
    """Each round runs every step (``number`` calls each); per step: (median ms, IQR ms,
    rounds, number, median cores used (Note [cores used]))."""
    numbers: dict[str, int] = {}
    round_ms = 0.0
    for name, step in steps.items():
        progress.step(f"warming up {name}")
        numbers[name], ms = _calibrate(step, timing.min_sample_ms)
        round_ms += numbers[name] * ms
    affordable = int(timing.budget_s * 1e3 / max(round_ms, 1e-9))
    rounds = max(timing.min_rounds, min(timing.rounds, affordable))
    samples: dict[str, list[float]] = {name: [] for name in steps}
    cores: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for r in range(rounds):
        progress.step(f"timing round {r + 1}/{rounds}")
        # each round starts one further along: no contender always follows the same one (whose
        # worker threads may still be spinning, see Note [torch threads])
        for name in names[r % len(names) :] + names[: r % len(names)]:
            step, n = steps[name], numbers[name]
            if not hasattr(step, "sample"):  # (a contender's own process settles itself)
                settle()
            wall, cpu = sample(step, n)
            samples[name].append(wall * 1e3 / n)
            cores[name].append(cpu / max(wall, 1e-9))
    return {
        k: (*spread(v), rounds, numbers[k], statistics.median(cores[k])) for k, v in samples.items()
    }


def set_ratios(measurements: dict[str, Measurement]) -> None:
    """Each timed contender's median over the baseline's (adjit compiled), when both exist."""
    base = measurements.get(BASELINE)
    if base is not None and base.median_ms:
        for m in measurements.values():
            if m.median_ms is not None:
                m.ratio = m.median_ms / base.median_ms


def run_case(
    case: Case, timing: Timing, skip: dict[str, str], progress: Progress,
    origin: tuple[str, str, int] | None = None, threads: int = 1,
) -> CaseResult:  # fmt: skip
    """Check, then time, one case; ratios are against the baseline's median. With ``origin``
    (workload, preset, size index) each contender runs in a process of its own with
    ``threads`` threads (Note [one process a contender])."""
    progress.case(case.workload, case.label)
    opened: list[Any] = []  # the contenders' processes, stopped when the case is done
    if origin is not None:
        from .isolated import remote

        case = replace(
            case,
            contenders={n: remote(origin, n, threads, opened) for n in case.contenders},
            floors={n: remote(origin, n, threads, opened) for n in case.floors},
        )
    try:
        steps, measurements, ref_err = check(case, skip, progress)
        if steps:
            timed = time_interleaved(steps, timing, progress)
            for name, (ms, iqr, rounds, number, used) in timed.items():
                m = measurements[name]
                m.median_ms, m.iqr_ms, m.rounds, m.number = ms, iqr, rounds, number
                m.extra["cores"] = round(used, 2)
    finally:
        for step in opened:
            step.close()
    set_ratios(measurements)
    result = CaseResult(case.workload, case.label, case.params, measurements, ref_err)
    progress.done(result)
    return result
