"""The symbolic-cost benchmark's child process agrees with its float64 reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from adjit.benchmarks import symbolic_cost
from adjit.benchmarks.harness import disagreement


def test_child_matches_the_float64_reference(tmp_path: Path) -> None:
    out = symbolic_cost.child("softplus", "", str(tmp_path))
    loss, grad = out["outputs"]
    want = symbolic_cost.reference("softplus")
    assert disagreement((np.asarray(loss), np.asarray(grad)), want, {}) < 1e-6
    assert out["first_ms"] > 0 and out["symbolic_ms"] > 0 and out["sympy"]  # cold: sympy ran
    readme = symbolic_cost.reference("readme")
    assert not np.allclose(readme[1], want[1])  # the two programs differ
    assert "symbolic" in symbolic_cost.WORKLOAD.name and symbolic_cost.ON in symbolic_cost.MODES
