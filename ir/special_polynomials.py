"""SPECIAL's orthogonal polynomials of integer degree n: PyTorch's kernels (ATen Math.h).

Note [polynomial degrees]
~~~~~~~~~~~~~~~~~~~~~~~~~
PyTorch truncates the degree to int64 (``static_cast``: NaN, infinities and values beyond int64
become INT64_MIN on x86, so the result is 0 as for any n < 0), answers the special points
(x = +-1, shifted x = 0 or 1) in closed form, uses the trigonometric form inside (-1, 1) from a
small degree on (Chebyshev), and otherwise runs the three-term recurrence n - 1 times, stopping
early once the value is NaN. Here the recurrence runs for all elements at once, each element
frozen when its own count is reached: the work is max(n) vector steps, as PyTorch's is n scalar
steps per element (a degree above 10^6 whose recurrence is still going after 10^5 steps raises
NotImplementedError: a million NumPy steps take half a minute, PyTorch's scalar loop 5 ms).
Hermite polynomials are NaN above degree 128 in float32, 512 in float64 (PyTorch's limits).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Array = np.ndarray
NAN = float("nan")
MAX_STEPS = 1e6  # Note [polynomial degrees]
PATIENCE = 1e5  # steps run before a degree above MAX_STEPS is refused


def degree(n: Array) -> Array:
    """PyTorch's ``static_cast<int64_t>(n)``, as a float (non-finite or huge: -1)."""
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(n) & (np.abs(n) < 2.0**63)
    return np.where(ok, np.trunc(np.where(ok, n, 0.0)), -1.0)


def _recur(
    q0: Array,
    p0: Array,
    n: Array,
    start: int,
    step: Callable[[float, Array, Array], Array],
    stop_nan: bool = True,
) -> Array:
    """Run ``r = step(k, q, p)`` for k = start .. last(n) (elements with n below: q0 kept)."""
    p, q = p0.copy(), q0.copy()
    live = np.ones(q.shape, bool)
    k = float(start)
    top = float(n.max(initial=-1.0))
    with np.errstate(all="ignore"):
        while k <= top:
            live &= k <= n
            if stop_nan:
                live &= ~np.isnan(q)
            if not live.any():
                break
            if k > PATIENCE and n[live].max() > MAX_STEPS:  # (still going after 10^5 steps)
                raise NotImplementedError(
                    f"special polynomials: degree {top:.0f} needs that many recurrence steps "
                    f"(PyTorch runs them one by one); more than {MAX_STEPS:.0e} are not "
                    "implemented"
                )
            r = step(k, q, p)
            p, q = np.where(live, q, p), np.where(live, r, q)
            k += 1.0
    return q


def _odd(n: Array) -> Array:
    return np.fmod(n, 2.0) != 0


def _sign(n: Array, value: Array | float) -> Array:
    """``value`` for even n, ``-value`` for odd n."""
    return np.where(_odd(n), -np.asarray(value), value)


def _chebyshev(x: Array, n: Array, kind: str, shifted: bool) -> Array:
    n = degree(n)
    with np.errstate(all="ignore"):
        y = x + x - 1.0 if shifted else x
        theta = np.arccos(np.where(np.abs(y) < 1.0, y, 0.0))
        one = np.ones_like(x)
        if kind == "t":
            first, trig_from = y, 6
            trig = np.cos(n * theta)
        elif kind == "u":
            first, trig_from = y + y, 6 if shifted else 8
            s = np.sin(theta)
            trig = np.where(
                s != 0.0, np.sin((n + 1) * theta) / s, (n + 1) * np.cos((n + 1) * theta) / y
            )
        elif kind == "v":
            first, trig_from = y + y - 1.0, 6 if shifted else 8
            trig = np.where(
                np.sin(theta / 2.0) != 1.0,
                np.cos((n + 0.5) * theta) / np.cos(theta / 2.0),
                _sign(n, n + n + 1),
            )
        else:
            first, trig_from = y + y + 1.0, 4 if shifted else 8
            at_one = _sign(n, one) if shifted else np.where(x > 0.0, n + n + 1, _sign(n, one))
            trig = np.where(
                np.cos(theta / 2.0) != 1.0, np.sin((n + 0.5) * theta) / np.sin(theta / 2.0), at_one
            )
        inside = (n > trig_from) & (np.abs(y) < 1.0)
        m = np.where(inside, -1.0, n)  # (no recurrence where the closed form answers)
        rec = _recur(first, one, m, 2, lambda k, q, p: (y + y) * q - p)
        out = np.where(n == 0, 1.0, np.where(n == 1, first, rec))
        out = np.where(inside, trig, out)
        # the special points: x = +-1 (or shifted x = 1, 0)
        plus, minus = _special_points(kind, n, one)
        if shifted:
            out = np.where(x == 0.0, minus, np.where(x == 1.0, plus, out))
        else:
            out = np.where(np.abs(x) == 1.0, np.where(x > 0.0, plus, minus), out)
        return np.where(n < 0, 0.0, out)


def _special_points(kind: str, n: Array, one: Array) -> tuple[Array, Array]:
    """The values at y = 1 and y = -1."""
    if kind == "t":
        return one, _sign(n, one)
    if kind == "u":
        return n + 1, _sign(n, n + 1)
    if kind == "v":
        return one, _sign(n, n + n + 1)
    return n + n + 1, _sign(n, one)


def _hermite_limit(x: Array) -> float:
    return 128.0 if x.dtype == np.float32 else 512.0


def _hermite_h(x: Array, n: Array) -> Array:
    n = degree(n)
    with np.errstate(all="ignore"):
        # r = 2x q - k p for k = 2, 4, ..., 2n - 2: step j = k / 2 = 1 .. n - 1
        big = n > _hermite_limit(x)
        m = np.where(big, -1.0, n)
        rec = _recur(x + x, np.ones_like(x), m, 2, lambda j, q, p: (x + x) * q - (j + j - 2) * p,
                     stop_nan=False)  # fmt: skip
        out = np.where(n == 0, 1.0, np.where(n == 1, x + x, np.where(big, NAN, rec)))
        return np.where(n < 0, 0.0, out)


def _hermite_he(x: Array, n: Array) -> Array:
    n = degree(n)
    with np.errstate(all="ignore"):
        big = n > _hermite_limit(x)
        m = np.where(big, -1.0, n)
        rec = _recur(x, np.ones_like(x), m, 2, lambda j, q, p: x * q - (j - 1) * p, stop_nan=False)
        out = np.where(n == 0, 1.0, np.where(n == 1, x, np.where(big, NAN, rec)))
        return np.where(n < 0, 0.0, out)


def _laguerre(x: Array, n: Array) -> Array:
    n = degree(n)
    with np.errstate(all="ignore"):
        # r = ((2k + (1 - x)) q - k p) / (k + 1) for k = 1 .. n - 1: step j = k + 1
        def step(j: float, q: Array, p: Array) -> Array:
            k = j - 1
            return ((k + k) + (1.0 - x)) * q - k * p

        rec = _recur(1.0 - x, np.ones_like(x), n, 2, lambda j, q, p: step(j, q, p) / j)
        out = np.where(n == 0, 1.0, np.where(n == 1, 1.0 - x, rec))
        out = np.where(np.abs(x) == 0.0, 1.0, out)
        return np.where(n < 0, 0.0, out)


def _legendre(x: Array, n: Array) -> Array:
    n = degree(n)
    with np.errstate(all="ignore"):

        def step(j: float, q: Array, p: Array) -> Array:
            k = j - 1
            return ((k + k + 1) * x * q - k * p) / (k + 1)

        rec = _recur(x, np.ones_like(x), n, 2, step)
        out = np.where(n == 0, 1.0, np.where(n == 1, x, rec))
        one = np.ones_like(x)
        out = np.where(np.abs(x) == 1.0, np.where(x > 0.0, one, _sign(n, one)), out)
        return np.where(n < 0, 0.0, out)


def _chebyshev_fn(kind: str, shifted: bool) -> Callable[[Array, Array], Array]:
    return lambda x, n: _chebyshev(x, n, kind, shifted)


BINARY: dict[str, Callable[[Array, Array], Array]] = {
    **{f"chebyshev_polynomial_{k}": _chebyshev_fn(k, False) for k in "tuvw"},
    **{f"shifted_chebyshev_polynomial_{k}": _chebyshev_fn(k, True) for k in "tuvw"},
    "hermite_polynomial_h": _hermite_h,
    "hermite_polynomial_he": _hermite_he,
    "laguerre_polynomial_l": _laguerre,
    "legendre_polynomial_p": _legendre,
}
