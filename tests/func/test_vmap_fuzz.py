"""The vmap fuzz strategy (tests/fuzz/vmaps.py), briefly: random programs under adjit.vmap vs
torch.func.vmap, values and gradients, eager and compiled (``cd tests && python -m
fuzz.collect vmap --examples 500`` runs it longer)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fuzz import vmaps  # noqa: E402
from fuzz.cases import Case  # noqa: E402

pytest.importorskip("torch")


@settings(
    max_examples=10,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=False,
)
@given(vmaps.vmap_cases())
def test_fuzz_vmap_vs_torch(case: Case) -> None:
    vmaps.check_vmap(case)
