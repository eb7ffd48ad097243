"""Differential fuzzing: random programs, compiled vs eager vs adjit.grad vs differences vs torch.

Each example is a random straight-line program (see ``tests/fuzz/``) over elementwise ops,
reductions, movement, indexing, matmul, softmax, where and clamp, with broadcasting, no_grad and
detach regions, frozen inputs, in float32 or float64. Hypothesis runs derandomized (the same
programs on every run) and prints a failing program as Python source that runs with
``T = adjit`` or ``T = torch``.

Environment:
- ``ADJIT_FUZZ_EXAMPLES``: examples per test (default 30; CI stays under ~60 s on 2 cores).
  Long runs, e.g. ``ADJIT_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py -s``, print how many
  programs each check ran on.
- ``ADJIT_FUZZ_SHRINK``: ``1`` lets hypothesis shrink a failing program to a minimal one (can
  take minutes: every step traces and compiles a new program); off by default.

Bugs the fuzzer found live as strict xfail tests in ``tests/regressions/``.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from fuzz import checks
from fuzz.programs import Program
from fuzz.strategies import ALL, ELEMENTWISE, MOVEMENT, REDUCTIONS, programs
from hypothesis import HealthCheck, Phase, assume, given, settings

EXAMPLES = int(os.environ.get("ADJIT_FUZZ_EXAMPLES", "30"))
SHRINK = os.environ.get("ADJIT_FUZZ_SHRINK", "") == "1"
PHASES = [Phase.explicit, Phase.generate] + ([Phase.shrink] if SHRINK else [])

FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same programs on every run: CI failures reproduce locally
    database=None,
    deadline=None,  # the first call of a new program traces and compiles
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=False,
    phases=PHASES,
)


def _check(p: Program) -> None:
    assume(not checks.near_kink(p))
    checks.check_program(p)


@FUZZ
@given(programs(ELEMENTWISE))
def test_fuzz_elementwise_broadcasting(p: Program) -> None:
    _check(p)


@FUZZ
@given(programs({**ELEMENTWISE, **REDUCTIONS}))
def test_fuzz_reductions(p: Program) -> None:
    _check(p)


@FUZZ
@given(programs({**MOVEMENT, "unary": ELEMENTWISE["unary"]}))
def test_fuzz_movement_indexing_matmul(p: Program) -> None:
    _check(p)


@FUZZ
@given(programs(ALL))
def test_fuzz_everything(p: Program) -> None:
    _check(p)


def test_programs_print_as_runnable_source() -> None:
    """A printed program runs unchanged with T = adjit (the repro a failure shows)."""
    found: list[Program] = []

    @settings(max_examples=5, derandomize=True, database=None, deadline=None)
    @given(programs(ALL))
    def collect(p: Program) -> None:
        found.append(p)

    collect()
    for p in found:
        namespace: dict[str, Any] = {}
        exec(p.source(), namespace)  # noqa: S102
        assert "def program(T, probe" in repr(p) and f"seed={p.seed}" in repr(p)
        assert namespace["program"].__code__.co_argcount == 2 + len(p.inputs)


@pytest.fixture(scope="module", autouse=True)
def _report() -> Any:
    yield
    if EXAMPLES > 30:
        print(f"\nfuzz checks run: {dict(checks.STATS)}")
