"""Runtime dependencies are numpy, sympy and llvmlite: without the bfloat16 extra (ml_dtypes)
adjit imports and runs, and torch.bfloat16 refuses by name."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import sys
sys.modules["ml_dtypes"] = None  # as if not installed
import adjit
print(adjit.ones(2).half() * 3)
try:
    adjit.ones(2, dtype=adjit.bfloat16)
except TypeError as e:
    print(e)
print(adjit.bfloat16 == adjit.float16, adjit.bfloat16)
print(adjit.arange(0, 1, 0.25), adjit.linspace(0, 1, 3))
"""


def test_bfloat16_without_ml_dtypes() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == [
        "tensor([3., 3.], dtype=torch.float16)",
        "torch.bfloat16 needs the ml_dtypes package: pip install 'adjit[bfloat16]' (or ml_dtypes)",
        "False torch.bfloat16",
        "tensor([0.0000, 0.2500, 0.5000, 0.7500]) tensor([0.0000, 0.5000, 1.0000])",
    ]
