"""torch.quasirandom.SobolEngine side by side with torch: the same points bit for bit (plain
and scrambled from a seed or the default generator, draw / draw_base2 / fast_forward / reset,
float32 and float64, out=), the direction numbers of every dimension, reprs and errors."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")
pytest.importorskip("scipy", reason="SobolEngine's direction numbers are SciPy's data")

CASES = [(1, False, None), (3, False, None), (5, True, 7), (40, True, 123), (2, True, None)]


def _session(L: Any, dim: int, scramble: bool, seed: int | None) -> list[Any]:
    L.manual_seed(11)  # the default generator scrambles when seed is None
    e = L.quasirandom.SobolEngine(dim, scramble=scramble, seed=seed)
    out = [e.draw(1), e.draw(5), e.draw(3, dtype=L.float64)]
    e.fast_forward(9)
    out.append(e.draw(4))
    e.reset()
    out += [e.draw_base2(3, dtype=L.float64), e.draw_base2(3)]
    target = L.empty(0, dtype=L.float64)
    out.append(e.draw(2, out=target, dtype=L.float64))
    assert out[-1] is target
    fresh = L.quasirandom.SobolEngine(dim, scramble=scramble, seed=seed).fast_forward(5)
    out.append(fresh.draw(2))
    return [o.numpy() for o in out] + [repr(e), e.num_generated, L.rand(2).numpy()]


@pytest.mark.parametrize(("dim", "scramble", "seed"), CASES, ids=str)
def test_points_match_torch_bit_for_bit(dim: int, scramble: bool, seed: int | None) -> None:
    ours, theirs = _session(adjit, dim, scramble, seed), _session(torch, dim, scramble, seed)
    assert ours[-3:-1] == theirs[-3:-1]
    np.testing.assert_array_equal(ours[-1], theirs[-1])  # the default generator's state
    for a, b in zip(ours[:-3], theirs[:-3], strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_direction_numbers_of_every_dimension_match_torch() -> None:
    ours = adjit.quasirandom.SobolEngine(21201)
    theirs = torch.quasirandom.SobolEngine(21201)
    np.testing.assert_array_equal(ours.sobolstate.numpy(), theirs.sobolstate.numpy())
    np.testing.assert_array_equal(ours.draw(3).numpy(), theirs.draw(3).numpy())


@pytest.mark.parametrize(
    "program",
    [
        lambda L: L.quasirandom.SobolEngine(0),
        lambda L: L.quasirandom.SobolEngine(21202),
        lambda L: (
            L.quasirandom.SobolEngine(2).draw_base2(1).shape
            and L.quasirandom.SobolEngine(2).fast_forward(3).draw_base2(2)
        ),
    ],
)
def test_errors_match_torch(program: Any) -> None:
    with pytest.raises(Exception) as expected:
        program(torch)
    with pytest.raises(type(expected.value)) as got:
        program(adjit)
    assert str(got.value) == str(expected.value)


PROGRAM = """
import sys
sys.modules["scipy"] = None  # as if not installed
import adjit
print(adjit.quasirandom.SobolEngine(1).draw(3).tolist())
try:
    adjit.quasirandom.SobolEngine(2)
except ImportError as e:
    print(e)
"""


def test_without_scipy_dimension_one_only() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == str(torch.quasirandom.SobolEngine(1).draw(3).tolist())
    assert out[1].startswith("SobolEngine with dimension > 1 reads Joe and Kuo's direction")
