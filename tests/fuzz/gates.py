"""Bug classes the fuzz strategies steer around until their fix lands; remove an entry then."""

# Issue 12 is being fixed while these strategies land. So that CI stays green without turning
# off a whole strategy, each class of bug still open is gated here by name: the strategy leaves
# out just that op or entry point (see where ``gated`` is called). ``ADJIT_FUZZ_UNGATED=1`` runs
# everything, for long runs and for checking whether a fix has landed. When one has, delete
# its line: nothing else refers to the reason text.

from __future__ import annotations

import os

REGRESSIONS = "tests/regressions/test_fuzz_findings.py::"
GATES: dict[str, str] = {
    # name: why (who owns the fix, or the regression test that holds the bug)
    "specials:div-trunc": REGRESSIONS + "test_grad_through_rounding_division_keeps_nan_as_backward",
    "specials:div-floor": REGRESSIONS + "test_grad_through_rounding_division_keeps_nan_as_backward",
    "specials:where-equal": REGRESSIONS
    + "test_gradient_through_where_keeps_nan_of_the_unselected_branch",
    "specials:where-scalar": REGRESSIONS
    + "test_gradient_through_where_keeps_nan_of_the_unselected_branch",
    "specials:where": REGRESSIONS
    + "test_gradient_through_where_keeps_nan_of_the_unselected_branch",
    # not adjit's bug: PyTorch's own elu-family gradient at NaN is 1 on its scalar path and NaN
    # on its vectorized one (float64 tensors of >= 8 elements), so it is no oracle there
    "specials:elu": "PyTorch's elu gradient at NaN depends on the tensor's length",
    "specials:selu": "PyTorch's elu gradient at NaN depends on the tensor's length",
    # the same for hardtanh: 1 on PyTorch's scalar path, 0 on its vectorized one (float32 from
    # 40 elements, float64 from 8); adjit gives 0, as clamp's gradient at NaN
    "specials:hardtanh": "PyTorch's hardtanh gradient at NaN depends on the tensor's length",
}


def gated(name: str) -> bool:
    """Whether the fuzzers leave out ``name`` (a key of GATES) in this run."""
    return name in GATES and os.environ.get("ADJIT_FUZZ_UNGATED", "") != "1"
