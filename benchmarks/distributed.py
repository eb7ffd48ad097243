"""Data-parallel training throughput on 1 vs 2 MPI processes (1 thread each), the time in
all-reduce against the time it overlaps, and a simulated link's prediction across machines."""

# Note [distributed benchmark]
# Run: ``python -m adjit.benchmarks.distributed [--repeats 3] [--json out.json] [--quick]``.
# Weak scaling: every process trains on its own batch of 64 (the examples' batch), so P
# processes train on 64 P samples a step; throughput is 64 P / step time and the scaling
# efficiency throughput(P=2) / (2 throughput(P=1)) = step(1) / step(2). The one-process run
# is plain training (no all-reduce at all): the best a single process does. Every launch is a
# fresh ``mpiexec -n P`` (the wheel's, next to this Python) whose processes each get one
# thread (adjit.set_num_threads, BLAS and OpenMP through the environment: harness.thread_env);
# the configurations of a launch take turns (Note [distributed step phases]), and the table
# gives the median over ``--repeats`` launches of each launch's median step, with the launches'
# min-max. Contenders: adjit eager and adjit compiled (the loss function compiled, backward
# outside), each with the all-reduce after backward (one buffer of every gradient: the
# baseline) and with adjit.nn.parallel.DistributedDataParallel once it exists; PyTorch eager
# with its DDP over gloo as a peer (distributed_torch.py). Before timing, each two-process
# configuration's first steps on one global batch are compared with the one-process run on
# the concatenated batch (``agrees``: the largest relative loss difference). The simulated
# links (Note [simulated link]) run in the same two-process launches, interleaved with the
# real one; the second table gives each one's exposed communication next to what
# distributed_link.predict makes of the same run's gradient ready times, and the third applies
# the prediction to resnet18's measured backward. Columns: ``cpu`` the process's CPU ms per
# step, ``cores`` CPU over wall (below 1: the process waited for a core), ``reduce`` the
# all-reduce after backward (copies, launch, wait), ``blocked`` every wait (DDP's inside the
# backward), ``comm`` the same all-reduces back to back with nothing to hide them (plus the
# modelled link), ``hidden`` = comm - blocked, at least 0.

# Note [distributed benchmark findings]
# Measured 2026-12-06 06:28 UTC, ``python -m adjit.benchmarks.distributed --repeats 3``, on the
# 2-core VM shared with five other sessions (load average 2.2 -> 4.5; two earlier runs at 5-7
# gave the same picture, slower). Medians of three launches:
# - One process (1 thread): MLP step 0.68 ms compiled, 0.64 the whole step compiled, 6.4 eager
#   (2.2 in its fastest launch; cores 0.50: descheduled), PyTorch eager 0.97; CNN 7.0
#   compiled, 5.8 whole step, 15.4 eager, PyTorch 4.9.
# - Two processes: every contender agrees with the one-process step on the concatenated batch
#   (losses within 1e-7 relative). Efficiency (weak scaling): MLP 0.43 compiled with the
#   all-reduce after backward, 0.44 the whole step compiled with DDP (1.45 ms, cores 1.01),
#   0.11 compiled + DDP, 0.62-0.73 eager; CNN 0.40-0.49; PyTorch's DDP over gloo 0.17 (MLP)
#   and 0.46 (CNN). Where the time goes: the waits block 0.2-0.4 ms a step for the compiled
#   MLP and 2-8 ms elsewhere (``blocked``) while the same all-reduces back to back take
#   0.06-0.15 ms (``comm``): that is waiting for the other rank, which at P=2 mostly gets half
#   a core (``cores``): the two processes share the two cores with the other sessions. At
#   most 0.07 ms is hidden (``hidden``): there is next to nothing to hide. (The whole step
#   compiled records its all-reduces in the graph: their waits are timed, their launches not,
#   so its ``comm`` is empty.)
# - Overlap: the small models' gradients (69 kB, 21 kB) fill one bucket of any cap down to
#   0.066 MiB, which closes with the last gradient; with 0.01 MiB buckets (2) the link model
#   hides 56-64% at 1 GB/s. Measured against predicted exposure on the slow links (MLP
#   compiled): after backward 0.65 / 0.79 ms at 100 MB/s and 6.84 / 6.99 at 10 MB/s; DDP 0.01
#   MiB 0.51 / 0.41 and 6.47 / 6.03 (0.1-0.45 ms apart: the real all-reduce's own time runs
#   under the link's, and a wait's polling adds latency of its own). At 1 GB/s and faster the
#   whole gradient is 0.12-0.17 ms on the link, under this machine's collective latency; at
#   P=8 the latency term alone (14 ring steps x 50 us = 0.7 ms per all-reduce) is the MLP's
#   whole compiled step: across machines these models are latency-bound, and a larger batch
#   per process (not bucketing) is the lever.
# - resnet18 (46.8 MB of gradients in 62 tensors; batch 8 of 3x64x64: step 290 ms of CPU,
#   backward 161 ms, gradients ready from 2.0 ms): at 25 and 10 GB/s the whole all-reduce
#   (2.0 and 4.8 ms at P=2, 4.0 and 8.9 at P=8) is about 3% of the step at most, whatever the
#   buckets. At 1 GB/s the all-reduce after backward exposes 47 ms (efficiency 0.86; P=8: 83
#   ms, 0.78), DDP's default buckets (1 MiB, then 25 MiB) 16.5 ms (0.95; P=8: 29 ms, 0.91),
#   5 MiB 4.1 (0.99), 1 MiB 0.6 (1.00; P=8: 1.5): with gradients streaming, smaller buckets
#   hide more, while their latency (14 x 50 us each at P=8) grows: at P=8 and 25 GB/s the link
#   needs 11.7 ms for 1 MiB buckets against 4.7 for 25 MiB (exposed 0.7 and 1.8 ms: both
#   negligible). At 100 MB/s the link needs 468 ms a step (P=2), more than the backward: at
#   least link - backward stays exposed (0.49 at best): compression or larger batches. All of
#   it assumes the gradients stream: before aa0f6f9, in a loop that kept the last loss alive,
#   adjit eager accumulated every gradient at the end of the backward (Note [first backward's
#   ready times]), and DDP's buckets then exposed as much as the all-reduce after backward.

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

from . import distributed_link as dl
from .distributed_models import data_source
from .harness import child_json, thread_env

MODELS = ("mlp", "cnn")
MODES = ("eager", "compiled", "compiled step")
# DDP's bucket_cap_mb for the analytic table (default: 25 MiB after a first bucket of 1 MiB);
# the measured runs take SIM_CAPS: the small models' gradients (69 kB, 21 kB) fit one bucket of
# any of those, 0.01 MiB splits them in two
CAPS = ("1", "5", "25", "default")
SIM_CAPS = ("0.01", "default")
SIM_LINKS = ("shm", "1GB/s", "100MB/s", "10MB/s")
LOSS_TOLERANCE = 1e-4  # float32 means of 64 and 128 terms, three Adam steps apart
ANALYTIC_WORLDS = (2, 8)
ANALYTIC_LINKS = ("25GB/s", "10GB/s", "1GB/s", "100MB/s")


def mpiexec() -> str | None:
    """The mpich wheel's ``mpiexec`` next to this Python, else the one on PATH."""
    here = Path(sys.executable).with_name("mpiexec")
    return str(here) if here.exists() else shutil.which("mpiexec")


def unavailable() -> str | None:
    """Why the benchmark cannot run here (None: it can)."""
    if importlib.util.find_spec("mpi4py") is None:
        return 'mpi4py is not installed: pip install "adjit[mpi]"'
    if mpiexec() is None:
        return "no mpiexec found (the mpich wheel installs one next to python)"
    return None


def ddp_available() -> bool:
    try:
        from adjit.nn.parallel import DistributedDataParallel  # noqa: F401
    except ImportError:
        return False
    return True


def launch(world: int, child: str, args: list[str], a: argparse.Namespace) -> dict[str, Any] | str:
    """One fresh ``mpiexec -n world`` of a child module; its JSON or why it failed."""
    cmd = [mpiexec() or "mpiexec", "-n", str(world), sys.executable, "-m", child, *args]
    cmd += ["--threads", str(a.threads), "--rounds", str(a.rounds), "--steps", str(a.steps)]
    env = dict(os.environ) | thread_env(a.threads)
    return child_json(cmd, env, a.timeout)


def plan(a: argparse.Namespace) -> list[tuple[str, str, int, list[str]]]:
    """Every launch of one repeat: (label, child module, processes, arguments)."""
    ddp = ["ddp"] if ddp_available() else []
    child, peer = "adjit.benchmarks.distributed_child", "adjit.benchmarks.distributed_torch"
    out = []
    for model in a.models:
        for mode in a.modes:
            base = ["--model", model, "--mode", mode]
            out.append((f"{model} adjit {mode}", child, 1, [*base, "--reducers", "none"]))
            if mode == "compiled step":  # DDP inside the compiled step; no NumPy reduction
                if ddp:
                    two = [*base, "--reducers", "ddp", "--caps", "default", "--links", "shm"]
                    out.append((f"{model} adjit {mode}", child, 2, two))
                continue
            two = [*base, "--reducers", "after backward", *ddp, "--links", *a.links]
            out.append((f"{model} adjit {mode}", child, 2, [*two, "--caps", *a.caps]))
        if a.torch:
            for world in (1, 2):
                out.append((f"{model} torch eager", peer, world, ["--model", model]))
    return out


def run_launches(a: argparse.Namespace) -> dict[tuple[str, int], list[dict[str, Any] | str]]:
    """Every planned launch ``--repeats`` times, each repeat one further along the plan."""
    launches = plan(a)
    got: dict[tuple[str, int], list[dict[str, Any] | str]] = {}
    for r in range(a.repeats):
        turn = r % len(launches)
        for label, child, world, args in launches[turn:] + launches[:turn]:
            print(f"  repeat {r + 1}/{a.repeats}: {label} P={world}", file=sys.stderr, flush=True)
            got.setdefault((label, world), []).append(launch(world, child, args, a))
    return got


def _agreement(check: dict[str, Any], ref: dict[str, Any] | None) -> float | None:
    """Largest relative difference of the check steps' losses from the one-process run's."""
    if ref is None:
        return None
    pairs = zip(check["losses"], ref["losses"], strict=True)
    return max(abs(x - y) / max(abs(y), 1e-30) for x, y in pairs)


def rows(got: dict[tuple[str, int], list[dict[str, Any] | str]]) -> list[dict[str, Any]]:
    """One row per (label, processes, configuration): medians over launches, min-max, and the
    agreement with the one-process run."""
    out = []
    for (label, world), runs in got.items():
        ok = [r for r in runs if isinstance(r, dict)]
        if not ok:
            out.append({"label": label, "world": world, "name": "-", "failed": runs[0]})
            continue
        ref_runs = [r for r in got.get((label, 1), []) if isinstance(r, dict)]
        ref = ref_runs[0]["results"][0]["check"] if ref_runs else None
        for i, res in enumerate(ok[0]["results"]):
            launches = [r["results"][i] for r in ok]
            s = {k: statistics.median(x["summary"][k] for x in launches) for k in res["summary"]}
            steps = [x["summary"]["step"] for x in launches]
            world_batch = ok[0]["batch"] * world
            out.append({
                "label": label, "world": world, "name": res["name"], "reducer": res["reducer"],
                "link": res["link"], "summary": s, "step_min": min(steps),
                "step_max": max(steps), "launches": len(launches),
                "samples_per_s": world_batch / s["step"],
                "agrees": None if world == 1 else _agreement(res["check"], ref),
                "ready": res.get("ready"), "sizes": res.get("sizes"),
                "backward_once": res.get("backward_once"), "buckets": res.get("buckets"),
                "backend": ok[0]["backend"], "failed": [r for r in runs if isinstance(r, str)],
            })  # fmt: skip
    return out


def _ms(x: Any) -> str:
    return "-" if x is None else f"{x * 1e3:.3f}"


def throughput_table(table: list[dict[str, Any]]) -> list[str]:
    head = (
        f"{'model / contender':<22} {'P':>1} {'reduction':<16} {'step ms':>8} {'[min-max]':>17} "
        f"{'cpu':>7} {'samples/s':>9} {'eff':>5} {'fwd':>7} {'bwd':>7} {'reduce':>7} "
        f"{'blocked':>7} {'comm':>7} "
        f"{'hidden':>7} {'opt':>7} {'cores':>5} {'agrees':>7}"
    )
    lines = [head]
    one = {r["label"]: r for r in table if r["world"] == 1 and "summary" in r}
    for r in table:
        if "summary" not in r:
            lines.append(f"{r['label']:<22} {r['world']:>1} {r['failed']}")
            continue
        other_cap = r["name"].startswith("ddp ") and "default" not in r["name"]
        if r["link"] not in ("shm", "gloo") or other_cap:  # those are the second table's
            continue
        s, base = r["summary"], one.get(r["label"])
        eff = "-"
        if r["world"] > 1 and base is not None:
            eff = f"{base['summary']['step'] / s['step']:.2f}"
        agrees = "-" if r["agrees"] is None else f"{r['agrees']:.0e}"
        if r["agrees"] is not None and r["agrees"] > LOSS_TOLERANCE:
            agrees += " NO"
        name = r["name"].split(" @")[0]
        spread = f"[{r['step_min'] * 1e3:.3f}-{r['step_max'] * 1e3:.3f}]"
        lines.append(
            f"{r['label']:<22} {r['world']:>1} {name:<16} {_ms(s['step']):>8} {spread:>17} "
            f"{_ms(s['cpu']):>7} {r['samples_per_s']:>9.0f} {eff:>5} {_ms(s.get('forward')):>7} "
            f"{_ms(s.get('backward')):>7} {_ms(s.get('reduce')):>7} {_ms(s.get('blocked')):>7} "
            f"{_ms(s.get('comm')):>7} "
            f"{_ms(s.get('hidden')):>7} {_ms(s.get('optimizer')):>7} {s['cores']:>5.2f} {agrees:>7}"
        )
    return lines


def _limit(r: dict[str, Any]) -> tuple[float, float] | None:
    """The bucket limits of a row's reduction (None: one all-reduce after backward)."""
    if r["reducer"] != "ddp":
        return None
    cap = r["name"].split()[1]
    return dl.limits(None if cap == "default" else float(cap))


def simulation_table(table: list[dict[str, Any]]) -> list[str]:
    """Two-process rows per link: the measured step, the time blocked in waits, the real
    all-reduces' own time, the modelled link's time, its exposed part as measured (what the
    waits slept once the real all-reduce was done) and as predicted from the same run's
    gradient ready times, and the share of the link's time the prediction hides."""
    lines = [
        f"{'model / contender':<22} {'reduction':<16} {'link':<7} {'step ms':>8} {'cpu':>7} "
        f"{'blocked':>8} {'real ar':>8} {'link ms':>8} {'exposed':>8} {'predicted':>9} "
        f"{'hidden':>6} {'buckets':>7}"
    ]
    for r in table:
        if r["world"] != 2 or "summary" not in r or not r.get("ready"):
            continue
        s, name = r["summary"], r["name"].split(" @")[0]
        link = dl.LINKS[r["link"]]
        predicted, total = dl.predict(r["ready"], r["sizes"], r["backward_once"], _limit(r),
                                      link, 2)  # fmt: skip
        hidden = "-" if total == 0 else f"{1 - predicted / total:.0%}"
        lines.append(
            f"{r['label']:<22} {name:<16} {r['link']:<7} {_ms(s['step']):>8} {_ms(s['cpu']):>7} "
            f"{_ms(s['blocked']):>8} {_ms(s['comm'] - s['modelled']):>8} {_ms(total):>8} "
            f"{_ms(s['link_exposed']):>8} {_ms(predicted):>9} {hidden:>6} "
            f"{len(r['buckets'] or []):>7}"
        )
    return lines


def _cap_mb(cap: str) -> float | None:
    return None if cap == "default" else float(cap)


def analytic_table(r: dict[str, Any], caps: tuple[str, ...]) -> list[str]:
    """A model's one-process step and gradient ready times through the link model, in CPU
    time (the schedule on an idle core: the machine's other load stretches wall times): per
    schedule (every step as measured; a first backward's: Note [first backward's ready
    times]), process count, reduction and link: the exposed ms / the link's ms, and the scaling
    efficiency that leaves (step / (step + exposed))."""
    step, sizes = r["summary"]["cpu"], r["sizes"]
    links = {n: dl.LINKS[n] for n in ANALYTIC_LINKS}
    first = r["first"]
    schedules = {
        "every step (as measured)": (r["ready_cpu"], r["backward_cpu"]),
        "first backward (streaming)": (first["ready_cpu"], first["backward_cpu"]),
    }
    lines = [
        f"resnet18 (adjit eager, batch {r['batch']} of 3x64x64 per process, "
        f"{sum(sizes) / 1e6:.1f} MB of gradients in {len(sizes)} tensors): step {_ms(step)} ms "
        f"of CPU ({_ms(r['summary']['step'])} ms wall); exposed / link ms and efficiency"
    ]
    for what, (ready, bwd) in schedules.items():
        lines.append(
            f"gradients ready, {what}: backward {_ms(bwd)} ms of CPU, the first gradient at "
            f"{_ms(min(ready))} ms, the last at {_ms(max(ready))} ms"
        )
        lines.append(
            f"{'P':>2} {'reduction':<16} "
            + " ".join(f"{n + ' exposed/link':>21} {'eff':>4}" for n in links)
        )
        for world in ANALYTIC_WORLDS:
            for cap in ("after backward", *caps):
                limit = None if cap == "after backward" else dl.limits(_cap_mb(cap))
                cells = []
                for link in links.values():
                    exposed, total = dl.predict(ready, sizes, bwd, limit, link, world)
                    cell = f"{exposed * 1e3:.1f} / {total * 1e3:.1f}"
                    cells.append(f"{cell:>21} {step / (step + exposed):>4.2f}")
                label = cap if cap == "after backward" else f"ddp {cap} MB"
                lines.append(f"{world:>2} {label:<16} " + " ".join(cells))
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    p.add_argument("--links", nargs="+", default=list(SIM_LINKS), choices=list(dl.LINKS),
                   help="the measured runs' links")  # fmt: skip
    p.add_argument("--caps", nargs="+", default=list(SIM_CAPS),
                   help="the measured runs' DDP bucket_cap_mb values")  # fmt: skip
    p.add_argument("--repeats", type=int, default=3, help="fresh launches per configuration")
    p.add_argument("--rounds", type=int, default=5, help="rounds per launch")
    p.add_argument("--steps", type=int, default=10, help="steps per configuration per round")
    p.add_argument("--threads", type=int, default=1, help="threads per process")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per launch")
    p.add_argument("--no-torch", dest="torch", action="store_false")
    p.add_argument("--no-resnet", dest="resnet", action="store_false")
    p.add_argument("--quick", action="store_true", help="the MLP compiled, one short launch each")
    p.add_argument("--json", help="write every measurement here")
    a = p.parse_args(argv)
    if a.quick:
        a.models, a.modes, a.links, a.caps = ["mlp"], ["compiled"], ["shm", "1GB/s"], ["default"]
        a.repeats, a.rounds, a.steps, a.torch, a.resnet = 1, 1, 5, False, False
    why = unavailable()
    if why:
        print(f"distributed benchmark skipped: {why}")
        return 0
    load = os.getloadavg()[0]
    got = run_launches(a)
    table = rows(got)
    backend = next((r["backend"] for r in table if "backend" in r), "-")
    print(
        f"data-parallel training, weak scaling: batch 64 per process ({data_source()}), Adam; "
        f"{a.threads} thread per process for every contender, P processes on "
        f"{os.cpu_count()} cores; all-reduce through {backend}; medians of {a.repeats} "
        f"launch(es) [min-max] of each launch's median of {a.rounds}x{a.steps} steps; "
        f"times in ms per step; load average before: {load:.2f}"
    )
    print("\n".join(throughput_table(table)))
    print("\nsimulated links (ring all-reduce, 50 us per step; Note [simulated link]), P=2:")
    print("\n".join(simulation_table(table)))
    resnet = None
    if a.resnet:
        args = ["--model", "resnet18", "--mode", "eager", "--reducers", "none", "--batch", "8"]
        b = argparse.Namespace(**{**vars(a), "rounds": 1, "steps": 3})
        got_r = launch(1, "adjit.benchmarks.distributed_child", args, b)
        if isinstance(got_r, str):
            print(f"\nresnet18: {got_r}")
        else:
            resnet = got_r["results"][0] | {"batch": 8, "first": got_r["first"]}
            print("\n" + "\n".join(analytic_table(resnet, CAPS)))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"settings": vars(a), "rows": table, "resnet18": resnet}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
