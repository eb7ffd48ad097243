"""NumPy reference rules with fast paths or crops: ARGMAX / ARGMIN and GATHER vs NumPy's own."""

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


@pytest.mark.parametrize("axis", [0, 1, -1, -2])
def test_gather_crops_the_other_axes_for_any_axis_sign(axis: int) -> None:
    """GATHER reads only the index's extent on the other axes (torch.gather's rule), with
    the axis given either way round."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5))
    index = rng.integers(0, x.shape[axis], (3, 2))
    crop = tuple(slice(None) if d == axis % 2 else slice(0, n) for d, n in enumerate((3, 2)))
    want = np.take_along_axis(x[crop], index, axis)
    np.testing.assert_array_equal(REFERENCE[Op.GATHER](x, index, axis=axis), want)
