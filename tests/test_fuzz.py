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

The newer strategies (``tests/fuzz/registry.py``; issue 12 listed the bug classes the first
ones never reached) each have their own test and CI count: integer/bool programs with bitwise,
shift, remainder and floor-division ops (``integer``), NaN/inf/±0 inputs with gradients vs
PyTorch (``specials``), math functions over the whole exponent range within a ulp bound
(``math``, one test per function), reductions over >= 1e7 elements vs float64 (``long``),
custom autograd.Function programs under every entry point (``functions``) and edges: indices
out of range, empty dims, 0-d constant outputs, ``dim=()``, F.pad crops, BCE ranges (``edges``,
one test per kind), linalg's LAPACK functions on inputs of known conditioning (``linalg``).
A failing one prints a self-contained repro: ``program(T, ...)`` and ``inputs(T)`` for
``T = adjit`` or ``T = torch``.
For them ``ADJIT_FUZZ_EXAMPLES`` is the count per strategy (split over its parametrized tests;
``long`` runs one per 50, at least 3, or ``ADJIT_FUZZ_LONG_EXAMPLES``). A run that keeps going
past failures and groups them by kind: ``cd tests && python -m fuzz.collect all --examples N``.
Bug classes still open are steered around by name (``tests/fuzz/gates.py``);
``ADJIT_FUZZ_UNGATED=1`` runs them too.

Bugs the fuzzer found live as strict xfail tests in ``tests/regressions/``.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import pytest
from fuzz import (
    checks,
    convolution,
    custom_transforms,
    dtypes,
    edges,
    functions,
    integer,
    linalg,
    long_reductions,
    mathfuncs,
    miscops,
    recurrent,
    registry,
    sorting,
    specialfuncs,
    specialmore,
    specials,
    tensor_methods,
)
from fuzz.cases import Case
from fuzz.gates import GATES, gated
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


def _budget(default: int, share: int = 1) -> settings:
    """A newer strategy's settings: ``default`` examples in CI, else ADJIT_FUZZ_EXAMPLES split
    over the ``share`` parametrized tests of that strategy."""
    wanted = os.environ.get("ADJIT_FUZZ_EXAMPLES")
    count = default if wanted is None else max(default, int(wanted) // share)
    return settings(FUZZ, max_examples=count)


LONG_EXAMPLES = int(
    os.environ.get(
        "ADJIT_FUZZ_LONG_EXAMPLES", max(3, int(os.environ.get("ADJIT_FUZZ_EXAMPLES", "0")) // 50)
    )
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


# ---- the classes issue 12 found the fuzzer blind to ----------------------------------------
@_budget(60)
@given(integer.integer_cases())
def test_fuzz_integer_bitwise_shift_division(case: Case) -> None:
    pytest.importorskip("torch")
    integer.check_integer(case)


@pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0")  # std of one element
@_budget(40)
@given(specials.special_cases())
def test_fuzz_nan_inf_zero_values_and_gradients(case: Case) -> None:
    pytest.importorskip("torch")
    specials.check_specials(case)


@pytest.mark.parametrize("name", sorted(mathfuncs.FUNCTIONS))
def test_fuzz_math_full_exponent_range(name: str) -> None:
    pytest.importorskip("torch")  # the gradients are compared with PyTorch's
    if gated(f"math:{name}"):
        pytest.skip(f"gated until its fix lands: {GATES[f'math:{name}']}")

    @_budget(2, share=len(mathfuncs.FUNCTIONS))
    @given(mathfuncs.math_cases(name))
    def run(case: Case) -> None:
        mathfuncs.check_math(case)

    run()


@pytest.mark.parametrize("name", sorted(specialfuncs.FUNCTIONS))
def test_fuzz_special_functions_vs_mpmath(name: str) -> None:
    pytest.importorskip("torch")  # PyTorch's values at the poles and infinities

    @_budget(2, share=len(specialfuncs.FUNCTIONS))
    @given(specialfuncs.special_cases(name))
    def run(case: Case) -> None:
        specialfuncs.check_special(case)

    run()


@settings(FUZZ, max_examples=LONG_EXAMPLES)
@given(long_reductions.long_cases())
def test_fuzz_long_reductions_vs_float64(case: Case) -> None:
    long_reductions.check_long(case)


@_budget(25)
@given(functions.function_cases())
def test_fuzz_custom_functions_every_entry_point(case: Case) -> None:
    pytest.importorskip("torch")
    functions.check_functions(case)


@_budget(10)
@given(custom_transforms.custom_transform_cases())
def test_fuzz_custom_functions_under_vmap_jvp_grad(case: Case) -> None:
    pytest.importorskip("torch")
    custom_transforms.check_custom_transforms(case)


@_budget(25)
@given(linalg.linalg_cases())
def test_fuzz_linalg_values_gradients_errors(case: Case) -> None:
    pytest.importorskip("torch")
    linalg.check_linalg(case)


@_budget(30)
@given(miscops.misc_cases())
def test_fuzz_misc_ops_values_gradients(case: Case) -> None:
    pytest.importorskip("torch")
    miscops.check_misc(case)


@_budget(30)
@given(sorting.sorting_cases())
def test_fuzz_sorting_selection_scatter_reduce(case: Case) -> None:
    pytest.importorskip("torch")
    sorting.check_sorting(case)


@_budget(30)
@given(dtypes.dtype_cases())
def test_fuzz_mixed_dtypes_promotion_and_bits(case: Case) -> None:
    pytest.importorskip("torch")
    dtypes.check_dtypes(case)


@_budget(30)
@given(tensor_methods.method_cases())
def test_fuzz_inplace_tensor_methods_values_gradients(case: Case) -> None:
    pytest.importorskip("torch")
    tensor_methods.check_methods(case)


@_budget(30)
@given(specialmore.special_more_cases())
def test_fuzz_special_more_vs_torch(case: Case) -> None:
    pytest.importorskip("torch")
    specialmore.check_special_more(case)


@_budget(6)  # each builds, traces and compiles an unrolled recurrent layer: ~1 s
@given(recurrent.recurrent_cases())
def test_fuzz_recurrent_layers_vs_torch(case: Case) -> None:
    pytest.importorskip("torch")
    recurrent.check_recurrent(case)


@_budget(8)  # each traces and compiles one convolution and its gradient: ~0.1-0.5 s
@given(convolution.convolution_cases())
def test_fuzz_convolutions_vs_torch(case: Case) -> None:
    pytest.importorskip("torch")
    convolution.check_convolution(case)


@pytest.mark.parametrize("kind", sorted(edges.KINDS))
def test_fuzz_edges(kind: str) -> None:
    pytest.importorskip("torch")

    @_budget(5, share=len(edges.KINDS))
    @given(edges.edge_cases(kind))
    def run(case: Case) -> None:
        edges.check_edges(case)

    run()


@pytest.mark.parametrize(
    "name", sorted(set(registry.STRATEGIES) - {"core", "dynamic"})
)  # (Programs)
def test_cases_print_as_runnable_source(name: str) -> None:
    """A newer strategy's repro is self-contained: it runs unchanged with T = torch."""
    torch = pytest.importorskip("torch")
    found: list[Case] = []

    @settings(max_examples=3, derandomize=True, database=None, deadline=None)
    @given(registry.STRATEGIES[name][0])
    def collect(case: Case) -> None:
        found.append(case)

    collect()
    for case in found:
        text = repr(case)
        namespace: dict[str, Any] = {}
        exec(text, namespace)  # noqa: S102
        assert text.startswith(f"# fuzz case: {case.kind}")
        xs = namespace["inputs"](torch)
        assert len(xs) == len(case.arrays)
        # a case may check that adjit raises where PyTorch raises
        with contextlib.suppress(RuntimeError, IndexError):
            namespace["program"](torch, *xs)


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
