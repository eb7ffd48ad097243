"""The integer work of ``SobolEngine`` on NumPy arrays, as ATen's ``_sobol_engine_*`` kernels:
direction numbers from the Joe-Kuo table, Owen-style scrambling, and Gray-code stepping."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np

MAXBIT = 30
MAXDIM = 21201

# Note [Sobol direction numbers]: PyTorch compiles Joe and Kuo's table (new-joe-kuo-6.21201:
# each dimension's primitive polynomial and initial direction numbers) into ATen. SciPy ships
# the same table as data (scipy/stats/_sobol_direction_numbers.npz: ``poly``, ``vinit``), and
# adjit reads that file (no SciPy code runs) rather than copying 21201 rows. Dimension 1 needs
# no table; without SciPy the higher dimensions refuse by name. tests/test_quasirandom_vs_torch.py
# checks the state built from it equals torch's for every dimension.
_TABLE = "_sobol_direction_numbers.npz"


def _table() -> tuple[np.ndarray, np.ndarray]:
    try:
        spec = importlib.util.find_spec("scipy")
    except (ImportError, ValueError):  # (ValueError: blocked in sys.modules)
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = pathlib.Path(location) / "stats" / _TABLE
        if path.exists():
            with np.load(path) as data:
                return data["poly"], data["vinit"]
    raise ImportError(
        "SobolEngine with dimension > 1 reads Joe and Kuo's direction numbers from SciPy's "
        "data (scipy/stats/_sobol_direction_numbers.npz): pip install scipy"
    )


def initial_state(dimension: int) -> np.ndarray:
    """ATen's ``_sobol_engine_initialize_state_``: the (dimension, MAXBIT) direction numbers,
    each scaled to a MAXBIT-bit integer."""
    state = np.zeros((dimension, MAXBIT), np.int64)
    state[0] = 1
    if dimension > 1:
        poly, vinit = _table()
        p = poly[1:dimension].astype(np.int64)
        m = np.floor(np.log2(p)).astype(np.int64)  # the polynomial's degree
        rows = np.arange(1, dimension)
        head = np.arange(vinit.shape[1]) < m[:, None]
        state[1:, : vinit.shape[1]] = np.where(head, vinit[1:dimension], 0)
        for j in range(1, MAXBIT):  # Bratley and Fox, Algorithm 659, p. 90, all rows at once
            todo = m <= j
            newv = state[rows, np.maximum(j - m, 0)]
            for k in range(int(m.max())):
                use = todo & (k < m) & (((p >> np.maximum(m - 1 - k, 0)) & 1) == 1)
                newv = np.where(use, newv ^ (state[rows, max(j - k - 1, 0)] << (k + 1)), newv)
            state[1:, j] = np.where(todo, newv, state[1:, j])
    return state * (1 << np.arange(MAXBIT - 1, -1, -1, dtype=np.int64))


def scramble(state: np.ndarray, ltm: np.ndarray) -> np.ndarray:
    """ATen's ``_sobol_engine_scramble_``: each direction number multiplied (over GF(2)) by
    its dimension's random lower-triangular matrix ``ltm`` (unit diagonal)."""
    ltm = ltm.copy()
    idx = np.arange(MAXBIT)
    ltm[:, idx, idx] = 1
    dots = ltm @ (1 << np.arange(MAXBIT - 1, -1, -1, dtype=np.int64))  # (dimension, MAXBIT)
    bits = (state[:, :, None] >> np.arange(MAXBIT)) & 1  # (dimension, j, bit k)
    dot_bits = (dots[:, :, None] >> np.arange(MAXBIT)) & 1  # (dimension, p, bit k)
    parity = np.einsum("djk,dpk->djp", bits, dot_bits) % 2  # bit MAXBIT - 1 - p of the result
    return parity @ (1 << np.arange(MAXBIT - 1, -1, -1, dtype=np.int64))


def _rightmost_zeros(start: int, n: int) -> np.ndarray:
    """The lowest zero bit of each of ``start, ..., start + n - 1``."""
    values = np.arange(start, start + n, dtype=np.int64)
    lowest_zero = ~values & (values + 1)
    return np.log2(lowest_zero).astype(np.int64)


def advance(quasi: np.ndarray, state: np.ndarray, n: int, num_generated: int) -> np.ndarray:
    """The next ``n`` points (n, dimension) of the Gray-code sequence after ``quasi``."""
    if n <= 0:
        return np.empty((0, quasi.shape[0]), np.int64)
    steps = state[:, _rightmost_zeros(num_generated, n)].T  # (n, dimension)
    return np.bitwise_xor.accumulate(steps, axis=0) ^ quasi
