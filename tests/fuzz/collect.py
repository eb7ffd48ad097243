"""Long fuzz runs that keep going: distinct failures per strategy, each with its smallest case.

``cd tests && python -m fuzz.collect integer specials --examples 300`` runs each named strategy
(``all`` for every one) for that many programs, groups failures by their message with numbers
and names blanked out, and prints per group the count and the shortest repro. Unlike pytest
(which stops at the first failure) this shows every class of bug a run meets.
"""

from __future__ import annotations

import argparse
import re
import signal
import time
import traceback
from typing import Any

from hypothesis import HealthCheck, given, settings

from . import registry


def signature(e: BaseException) -> str:
    """The failure's class: its first message line with numbers and value names blanked."""
    line = (str(e).strip().splitlines() or [""])[0]
    line = re.sub(r"\bx\d+\b|\bv\d+\b", "_", line)
    line = re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "#", line)
    return f"{type(e).__name__}: {line[:160]}"


TIMEOUT = 120  # seconds per program: a hang is a failure of its own, the run goes on
RUNS: list[tuple[str, int, float, int, int]] = []  # name, programs, seconds, failed, classes


class ProgramTimeout(Exception):
    """A program ran longer than TIMEOUT seconds."""


def _timed_out(signum: int, frame: Any) -> None:
    raise ProgramTimeout(f"program still running after {TIMEOUT} s")


def run(name: str, examples: int, verbose: bool) -> dict[str, list[Any]]:
    strategy, check = registry.STRATEGIES[name]
    found: dict[str, list[Any]] = {}
    count = [0]

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=registry.GENERATE,
    )
    @given(strategy)
    def body(case: Any) -> None:
        count[0] += 1
        signal.alarm(TIMEOUT)
        try:
            check(case)
        except Exception as e:  # noqa: BLE001 - every failure is collected, not raised
            if type(e).__name__ in ("UnsatisfiedAssumption",):
                raise
            sig = signature(e)
            found.setdefault(sig, []).append((case, e))
            if verbose:
                traceback.print_exc()
        finally:
            signal.alarm(0)
        if count[0] % 100 == 0:
            print(
                f"   {name}: {count[0]} programs, {time.perf_counter() - start:.0f} s", flush=True
            )

    signal.signal(signal.SIGALRM, _timed_out)
    start = time.perf_counter()
    body()
    took = time.perf_counter() - start
    RUNS.append((name, count[0], took, sum(len(h) for h in found.values()), len(found)))
    print(f"== {name}: {count[0]} programs in {took:.1f} s, {len(found)} distinct failures")
    for sig, hits in sorted(found.items(), key=lambda kv: -len(kv[1])):
        case, e = min(hits, key=lambda h: len(repr(h[0])))
        print(f"\n-- {len(hits)}x {sig}\n{e}\n{case!r}")
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="+", help=f"strategies: {sorted(registry.STRATEGIES)}")
    parser.add_argument("--examples", type=int, default=100, help="programs per strategy")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    names = sorted(registry.STRATEGIES) if args.names == ["all"] else args.names
    for name in names:
        run(name, args.examples, args.verbose)
    print("\nstrategy       programs   seconds   failed  classes")
    for name, count, took, failed, classes in RUNS:
        print(f"{name:<14} {count:>8} {took:>9.1f} {failed:>8} {classes:>8}")


if __name__ == "__main__":
    main()
