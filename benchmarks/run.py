"""``adjit bench``: its arguments, and one run from arguments to table, JSON and PNG."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from typing import Any

from . import peers
from .chart import write_png
from .contenders import NAMES
from .harness import BASELINE
from .progress import Progress
from .report import build, table, write_json
from .suite import OPT_IN, PRESETS, WORKLOADS, run_suite


def _names(text: str, allowed: list[str], what: str) -> list[str]:
    """Comma-separated names, matched case-insensitively against ``allowed``."""
    by_key = {a.lower(): a for a in allowed}
    out = []
    for word in (w.strip() for w in text.split(",") if w.strip()):
        if word.lower() not in by_key:
            raise argparse.ArgumentTypeError(f"unknown {what} {word!r} (choose from {allowed})")
        out.append(by_key[word.lower()])
    return out


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="small sizes, few repeats (< 1 minute)")
    p.add_argument(
        "--only",
        type=lambda s: _names(s, list(WORKLOADS), "workload"),
        metavar="W1,W3",
        help=f"comma-separated workloads to run (of {', '.join(WORKLOADS)}; default: all "
        f"but {', '.join(OPT_IN)})",
    )
    p.add_argument(
        "--skip",
        type=lambda s: _names(s, [n for n in NAMES if n != BASELINE], "contender"),
        default=[],
        metavar="NAMES",
        help="comma-separated contenders not to run, e.g. 'torch.compile,jax.jit'",
    )
    p.add_argument("--json", default="adjit-bench.json", metavar="PATH", help="the JSON record")
    p.add_argument("--png", default="adjit-bench.png", metavar="PATH", help="the chart")
    p.add_argument(
        "--threads",
        type=_positive,
        default=os.cpu_count() or 1,
        metavar="N",
        help="threads for every contender: adjit, BLAS, PyTorch, JAX (default: all cores)",
    )
    p.add_argument(
        "--in-process",
        action="store_true",
        help="time every contender in this process, also at more than one thread (default: a "
        "process each from 2 threads, where libraries' thread pools would fight)",
    )
    p.add_argument("--preset", choices=list(PRESETS), help=argparse.SUPPRESS)  # tests: tiny


def main(args: argparse.Namespace) -> int:
    """Run the suite; 1 if adjit compiled itself failed or disagreed with float64 anywhere."""
    settings = PRESETS[args.preset or ("quick" if args.quick else "full")]
    skip = dict(settings.skip) | {k: "skipped by --skip" for k in args.skip}
    isolate = args.threads > 1 and not args.in_process  # Note [one process a contender]
    settings = dataclasses.replace(settings, skip=skip, threads=args.threads, isolate=isolate)
    peers.set_threads(args.threads)
    t0 = time.perf_counter()
    results = run_suite(settings, args.only, Progress())
    titles = {name: WORKLOADS[name].title for name in results}
    data = build(results, titles, settings, time.perf_counter() - t0)
    print(table(data))
    write_json(data, args.json)
    print(f"\nwrote {args.json}")
    why_not = write_png(data, args.png)
    print(why_not or f"wrote {args.png}")
    return 1 if _baseline_broken(data) else 0


def _baseline_broken(data: dict[str, Any]) -> bool:
    return any(
        c["contenders"][c["baseline"]]["status"] in ("disagrees", "failed")
        for w in data["workloads"].values()
        for c in w["cases"]
    )


def cli(argv: list[str] | None = None) -> int:
    """``python -m adjit.benchmarks [args]``."""
    p = argparse.ArgumentParser(prog="python -m adjit.benchmarks", description=__doc__)
    add_arguments(p)
    return main(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(cli())
