"""NumPy reference rules with fast paths: short-axis ARGMAX / ARGMIN vs NumPy's own."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.ir import reference
from adjit.ir.ops import Op
from adjit.ir.reference import REFERENCE

CASES = [((8, 4, 9, 16), 2), ((3, 5, 7), 0), ((70, 80), 0), ((2, 40, 3, 50), 1), ((100, 33, 4), -2)]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("shape,axis", CASES)
def test_short_axis_argmax_matches_numpy(shape: tuple, axis: int, dtype: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, shape).astype(dtype)  # many ties: the first extremum must win
    for op, want_fn in ((Op.ARGMAX, np.argmax), (Op.ARGMIN, np.argmin)):
        for keepdim in (True, False):
            got = REFERENCE[op](x, axes=(axis,), keepdim=keepdim)
            want = want_fn(x, axis=axis, keepdims=keepdim)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)


def test_the_fast_path_runs_and_nan_takes_numpys(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    slices = reference._arg_by_slices
    monkeypatch.setattr(reference, "_arg_by_slices", lambda *a: calls.append(1) or slices(*a))
    x = np.random.default_rng(1).standard_normal((8, 4, 9, 16))
    rule = reference._argreduce(np.argmax, np.greater)
    np.testing.assert_array_equal(rule(x, axes=(2,), keepdim=True), np.argmax(x, 2, keepdims=True))
    assert calls == [1]
    x[0, 0, 3, 0] = x[1, 2, 5, 7] = np.nan
    np.testing.assert_array_equal(rule(x, axes=(2,), keepdim=True), np.argmax(x, 2, keepdims=True))
    assert calls == [1]
