"""Python conversions of tensors (float, int, complex, bool, index, floor, format, item)
side by side with PyTorch: values, exception types and texts, and the once-per-process
warning for a tensor that requires grad."""

from __future__ import annotations

import math
import operator
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

import adjit

torch = pytest.importorskip("torch")


def _values(T: Any) -> list[Any]:
    return [
        T.tensor([1.0, 2.0]), T.tensor([]), T.tensor([[3.0]]), T.tensor([1, 2]), T.tensor(2.5),
        T.tensor([True]), T.tensor([1 + 2j]), T.tensor(1 + 2j), T.tensor(3 + 0j),
        T.tensor(float("nan")), T.tensor(float("inf")), T.tensor([3], dtype=T.uint8),
        T.tensor(7), T.tensor(-7.5, dtype=T.float64), T.zeros(2, 0),
    ]  # fmt: skip


CONVERSIONS: dict[str, Callable[[Any], Any]] = {
    "float": float, "int": int, "complex": complex, "bool": bool, "index": operator.index,
    "floor": math.floor, "ceil": math.ceil, "trunc": math.trunc, "abs": lambda v: abs(v).tolist(),
    "item": lambda v: v.item(), "tolist": lambda v: v.tolist(), "list_index": lambda v: "abc"[v],
    "range": lambda v: list(range(v)), "percent_d": lambda v: "%d" % v,  # noqa: UP031  (the %-format path)
    "format_f": lambda v: f"{v:.2f}", "hex": hex, "long": lambda v: v.__long__(),
}  # fmt: skip


def _outcome(fn: Callable[[Any], Any], v: Any) -> str:
    try:
        return repr(fn(v))
    except Exception as e:  # noqa: BLE001  (the exception is compared)
        return f"{type(e).__name__}: {e}"


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", CONVERSIONS)
def test_conversion_as_pytorch(name: str) -> None:
    fn = CONVERSIONS[name]
    got = [_outcome(fn, v) for v in _values(adjit)]
    want = [_outcome(fn, v) for v in _values(torch)]
    assert got == want


_WARN_PROGRAM = """
import math, warnings, sys
T = __import__(sys.argv[1])
warnings.simplefilter("always")
v = T.tensor([1.5], requires_grad=True)
int(v); v.item(); v.tolist()
with T.no_grad():
    float(v)
print("-- first")
float(v)
print("-- again")
complex(v); math.floor(v); float(v * 2)
"""


def _warnings(lib: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", _WARN_PROGRAM, lib], capture_output=True, text=True, check=True
    )
    lines = (out.stdout + out.stderr).splitlines()
    return [line.split(" (Triggered")[0] for line in lines if not line.startswith("  ")]


def test_requires_grad_scalar_warns_once_as_pytorch() -> None:
    got, want = _warnings("adjit"), _warnings("torch")
    assert got == want
    assert sum("Converting a tensor with requires_grad=True" in line for line in got) == 1
