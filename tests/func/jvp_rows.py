"""Every row of the op tables as (name, fn(T, *tensors), arrays, which are differentiable).

The JVP tests (tests/func/test_jvp_ops.py, tests/runtime/test_forward_ad_vs_torch.py) run each
row through forward mode; the rows come from the tables the reverse-mode tests use.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "runtime"))

import linalg_op_cases  # noqa: E402
import math_op_cases  # noqa: E402
import misc_op_cases  # noqa: E402
import reduction_op_cases  # noqa: E402
import shape_op_cases  # noqa: E402
import sort_op_cases  # noqa: E402
import test_ops_table  # noqa: E402


@dataclass(frozen=True)
class Row:
    name: str
    fn: Callable[..., Any]
    arrays: tuple[np.ndarray, ...]
    diff: tuple[bool, ...]  # which arguments get a tangent
    smooth: bool  # finite differences are valid (no ties, kinks or grid values)
    traceable: bool  # no data-dependent output shape (the jvp driver traces)


# the main table's rows whose output shape depends on tensor values (as
# tests/frontend/test_ops_compiled.py's DATA_DEPENDENT): traced, they raise TracingError
DATA_DEPENDENT = {"nonzero", "where-nonzero", "getitem-mask", "getitem-mask-row"}


def _kind_rows(cases: list[Any], table: str, untraceable: set[str]) -> list[Row]:
    rows = []
    for c in cases:
        untraceable = untraceable | ({c.name} if c.op in DATA_DEPENDENT else set())
        rows.append(
            Row(
                f"{table}:{c.name}",
                c.fn,
                tuple(c.arrays()),
                tuple(a.differentiable for a in c.args),
                all(a.kind != "grid" for a in c.args),
                c.name not in untraceable,
            )
        )
    return rows


def _float(a: np.ndarray) -> bool:
    return np.asarray(a).dtype.kind == "f"


def rows() -> list[Row]:
    found = _kind_rows(test_ops_table.CASES, "ops", DATA_DEPENDENT)
    found += _kind_rows(shape_op_cases.CASES, "shape", set(shape_op_cases.DATA_DEPENDENT))
    found += _kind_rows(math_op_cases.CASES, "math", set())
    found += _kind_rows(misc_op_cases.CASES, "misc", set(misc_op_cases.EAGER_ONLY))
    for c in reduction_op_cases.CASES:
        found.append(
            Row(
                f"reduction:{c.name}",
                c.fn,
                (c.x,),
                (c.grad and _float(c.x),),
                c.x is reduction_op_cases.X,  # (the others hold zeros, ties or NaNs)
                c.compiles,
            )
        )
    smooth_sort = set(sort_op_cases.FD_CASES)
    for c in sort_op_cases.CASES:
        found.append(
            Row(
                f"sort:{c.name}",
                c.fn,
                tuple(c.xs),
                tuple(c.grad and _float(x) for x in c.xs),
                c.name in smooth_sort,
                c.compiles,
            )
        )
    for c in linalg_op_cases.CASES:
        rng = np.random.default_rng(zlib.crc32(c.name.encode()))
        arrays = [rng.standard_normal(s) for s in c.shapes]
        prep = c.prep or ("n",) * len(arrays)
        arrays = [linalg_op_cases.prep_input(k, a) for k, a in zip(prep, arrays, strict=True)]
        found.append(
            Row(f"linalg:{c.name}", c.fn, tuple(arrays), (True,) * len(arrays), True, True)
        )
    return found
