"""``torch.linalg``: the decompositions adjit has so far (cross, matrix_power, norms)."""

from __future__ import annotations

from adjit.runtime.ops_contract import linalg_cross as cross
from adjit.runtime.ops_contract import matrix_power

__all__ = ["cross", "matrix_power"]
