"""LINALG: the LAPACK primitive family (det, inv, solve, cholesky, eigh, svd, qr ...).

Note [LINALG packs its outputs]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
A primitive has one output, but slogdet, eigh, svd, qr and the ``*_ex`` functions give two or
three. One LAPACK call computes them together, so LINALG returns them packed: each part
flattened over the matrix dims and concatenated on one last axis, ``(*batch, total)``, in
the order ``PARTS`` lists (the ``info`` of the ``*_ex`` functions as a float). The public
functions slice the parts back out (``unpack``), which is a copy of at most the output's
size beside an O(n^3) factorization; computing each part with its own call would repeat the
factorization, and CSE cannot merge two different calls. The derivative rule receives the
cotangent of the whole packed value: a part nobody used has a zero cotangent (PyTorch's is
undefined), so every division by a gap of eigen- or singular values is guarded to give 0
where its numerator is exactly 0: ``eigvalsh``/``svdvals``-style losses of matrices with
repeated values get PyTorch's finite gradient, not 0/0 (Note [zero cotangents of unused
parts] below).

The reference never raises for bad values (a singular or non-positive-definite matrix): it
returns NaN for that matrix and LAPACK's ``info``; the public functions turn a nonzero info
into PyTorch's error with a run-time check (Note [run-time checks] in ir/checks.py), so the
same program raises eagerly and compiled.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .aval import Aval
from .dtypes import float32, float64
from .errors import ShapeError

# func -> which inputs it takes (names only: a check of the operand count)
FUNCS: dict[str, int] = {
    "det": 1,
    "slogdet": 1,
    "inv_ex": 1,
    "solve_ex": 2,
    "cholesky_ex": 1,
    "eigh": 1,
    "svd": 1,
    "qr": 1,
    "expm": 1,
    "lu": 1,
}
MODES: dict[str, tuple[str, ...]] = {
    "eigh": ("L", "U"),
    "svd": ("full", "reduced"),
    "qr": ("reduced", "complete", "r"),
}


def parts(func: str, mode: str, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """The matrix shapes of a packed function's outputs (Note [LINALG packs its outputs])."""
    m, n = shapes[0][-2:]
    if func == "slogdet":
        return [(), ()]
    if func in ("inv_ex", "cholesky_ex"):
        return [(n, n), ()]
    if func == "solve_ex":
        return [(n, shapes[1][-1]), ()]
    if func == "eigh":
        return [(n,), (n, n)]
    k = min(m, n)
    if func == "svd":
        full = mode == "full"
        return [(m, m if full else k), (k,), (n if full else k, n)]
    if func == "lu":
        return [(m, n), (min(m, n),), (m, m), ()]
    if func == "qr":
        if mode == "r":
            return [(0,), (k, n)]
        return [(m, m), (m, n)] if mode == "complete" else [(m, k), (k, n)]
    raise AssertionError(func)


def unpack_array(a: np.ndarray, func: str, mode: str, shapes: list, i: int) -> np.ndarray:
    """Output ``i`` of a packed array (a copy): ``unpack_one`` for concrete values."""
    sizes = [math.prod(p) for p in parts(func, mode, shapes)]
    start = sum(sizes[:i])
    piece = a[..., start : start + sizes[i]]
    return np.ascontiguousarray(piece).reshape(a.shape[:-1] + parts(func, mode, shapes)[i])


def linalg_shape(*xs: Aval, func: str, mode: str) -> Aval:
    if func not in FUNCS or len(xs) != FUNCS[func]:
        raise ShapeError(f"linalg: unknown function {func!r} for {len(xs)} operands")
    if mode not in MODES.get(func, ("",)):
        raise ShapeError(f"linalg.{func}: unknown mode {mode!r}")
    a = xs[0]
    if any(x.dtype not in (float32, float64) or x.dtype is not a.dtype for x in xs):
        raise ShapeError(f"linalg.{func}: float32 or float64 operands of one dtype expected")
    if a.ndim < 2 or (func not in ("svd", "qr", "lu") and a.shape[-1] != a.shape[-2]):
        raise ShapeError(f"linalg.{func}: square matrices expected, got {a.shape}")
    batch = a.shape[:-2]
    if func == "solve_ex":
        b = xs[1]
        if b.ndim != a.ndim or b.shape[:-2] != batch or b.shape[-2] != a.shape[-1]:
            raise ShapeError(f"linalg.solve_ex: operands {a.shape} and {b.shape} do not match")
    if func == "det":
        return Aval(batch, a.dtype)
    if func == "expm":
        return Aval(a.shape, a.dtype)
    shapes = [x.shape for x in xs]
    total = sum(math.prod(p) for p in parts(func, mode, shapes))
    return Aval((*batch, total), a.dtype)


# ---- the NumPy (LAPACK) rules ------------------------------------------------------------------
def _pack(batch: tuple[int, ...], dtype: Any, *arrays: np.ndarray) -> np.ndarray:
    flat = [
        np.asarray(a, dtype).reshape((*batch, math.prod(np.shape(a)[len(batch) :]))) for a in arrays
    ]
    return np.concatenate(flat, axis=-1) if flat else np.zeros((*batch, 0), dtype)


def _per_matrix(
    fn: Callable[..., tuple[np.ndarray, ...]],
    fallback: Callable[..., tuple[np.ndarray, ...]],
    *arrays: np.ndarray,
) -> list[np.ndarray]:
    """``fn`` over the whole batch (one LAPACK call); where NumPy refuses a matrix of it, each
    matrix alone, the refused ones through ``fallback`` (NaN values and LAPACK's info)."""
    try:
        return list(fn(*arrays))
    except np.linalg.LinAlgError:
        pass
    batch = arrays[0].shape[:-2]
    flat = [a.reshape(-1, *a.shape[-2:]) for a in arrays]
    results: list[list[np.ndarray]] = []
    for i in range(flat[0].shape[0]):
        one = [a[i] for a in flat]
        try:
            results.append(list(fn(*one)))
        except np.linalg.LinAlgError:
            results.append(list(fallback(*one)))
    return [
        np.stack([r[j] for r in results]).reshape((*batch, *results[0][j].shape))
        for j in range(len(results[0]))
    ]


def lu_info(a: np.ndarray) -> int:
    """LAPACK getrf's info: the 1-based index of the first exactly zero pivot of partial-
    pivoting elimination, 0 if none (computed for a matrix LAPACK found singular)."""
    a = np.array(a, copy=True)
    n = a.shape[-1]
    for j in range(n):
        p = j + int(np.argmax(np.abs(a[j:, j])))
        if a[p, j] == 0:
            return j + 1
        a[[j, p]] = a[[p, j]]
        a[j + 1 :, j] /= a[j, j]
        a[j + 1 :, j + 1 :] -= np.outer(a[j + 1 :, j], a[j, j + 1 :])
    return 0


def cholesky_info(a: np.ndarray) -> int:
    """LAPACK potrf's info: the order of the first leading minor that is not positive-definite
    (the lower triangle is read, as ``np.linalg.cholesky`` does), 0 if none."""
    n = a.shape[-1]
    low = np.zeros_like(a)
    for j in range(n):
        d = a[j, j] - low[j, :j] @ low[j, :j]
        if not d > 0:
            return j + 1
        low[j, j] = np.sqrt(d)
        low[j + 1 :, j] = (a[j + 1 :, j] - low[j + 1 :, :j] @ low[j, :j]) / low[j, j]
    return 0


def _refused(info: Callable[[np.ndarray], int], m: np.ndarray) -> int:
    """The info of a matrix LAPACK refused; the last index if our elimination, rounding
    differently, found no failing pivot (the matrix is singular to LAPACK all the same)."""
    return info(m) or m.shape[-1]


def _nan(a: np.ndarray) -> np.ndarray:
    return np.full(a.shape, np.nan, a.dtype)


def _inv_ex(a: np.ndarray) -> list[np.ndarray]:
    ok = lambda m: (np.linalg.inv(m), np.zeros(m.shape[:-2]))  # noqa: E731
    bad = lambda m: (_nan(m), np.asarray(float(_refused(lu_info, m))))  # noqa: E731
    return _per_matrix(ok, bad, a) if a.size else [a.copy(), np.zeros(a.shape[:-2])]


def _solve_ex(a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    ok = lambda m, r: (np.linalg.solve(m, r), np.zeros(m.shape[:-2]))  # noqa: E731
    bad = lambda m, r: (_nan(r), np.asarray(float(_refused(lu_info, m))))  # noqa: E731
    if not a.size or not b.size:
        return [np.zeros(b.shape, b.dtype), np.zeros(a.shape[:-2])]
    return _per_matrix(ok, bad, a, b)


def _cholesky_ex(a: np.ndarray) -> list[np.ndarray]:
    ok = lambda m: (np.linalg.cholesky(m), np.zeros(m.shape[:-2]))  # noqa: E731
    bad = lambda m: (_nan(m), np.asarray(float(_refused(cholesky_info, m))))  # noqa: E731
    if not a.size:
        return [a.copy(), np.zeros(a.shape[:-2])]
    low, info = (np.array(x) for x in _per_matrix(ok, bad, a))  # writable copies
    # NumPy's potrf lets a NaN through (LAPACK's unblocked one, and PyTorch's, stop at it)
    unseen = np.isnan(low).any(axis=(-2, -1)) & (info == 0)
    for i in np.ndindex(a.shape[:-2]):
        if unseen[i]:
            info[i] = cholesky_info(a[i])
            low[i] = np.nan if info[i] else low[i]
    return [low, info]


def _eigh(a: np.ndarray, mode: str) -> list[np.ndarray]:
    n = a.shape[-1]
    if not a.size:
        return [np.zeros((*a.shape[:-2], n), a.dtype), a.copy()]
    bad = lambda m: (np.full(m.shape[:-1], np.nan, m.dtype), _nan(m))  # noqa: E731
    uplo: Any = mode  # "L" or "U" (NumPy's stubs want the literal)
    return _per_matrix(lambda m: np.linalg.eigh(m, UPLO=uplo), bad, a)


def _svd(a: np.ndarray, mode: str) -> list[np.ndarray]:
    batch, (m, n) = a.shape[:-2], a.shape[-2:]
    k, full = min(m, n), mode == "full"
    if not a.size:  # LAPACK's answer for an empty side: identities as the full factors
        u = np.broadcast_to(
            np.eye(m, m if full else k, dtype=a.dtype), (*batch, m, m if full else k)
        )
        vh = np.broadcast_to(
            np.eye(n if full else k, n, dtype=a.dtype), (*batch, n if full else k, n)
        )
        return [u, np.zeros((*batch, k), a.dtype), vh]
    shapes = parts("svd", mode, [a.shape])
    bad = lambda x: tuple(np.full(s, np.nan, x.dtype) for s in shapes)  # noqa: E731
    return _per_matrix(lambda x: np.linalg.svd(x, full_matrices=full), bad, a)


def _qr(a: np.ndarray, mode: str) -> list[np.ndarray]:
    batch = a.shape[:-2]
    shapes = parts("qr", mode, [a.shape])
    if not a.size:
        q = np.broadcast_to(np.eye(*shapes[0], dtype=a.dtype), (*batch, *shapes[0]))
        return [
            q if mode != "r" else np.zeros((*batch, 0), a.dtype),
            np.zeros((*batch, *shapes[1]), a.dtype),
        ]
    if mode == "r":
        return [np.zeros((*batch, 0), a.dtype), np.asarray(np.linalg.qr(a, mode="r"))]
    how: Any = mode  # "reduced" or "complete"
    q, r = np.linalg.qr(a, mode=how)
    return [q, r]


def _slogdet(a: np.ndarray) -> list[np.ndarray]:
    sign, logabs = np.linalg.slogdet(a)
    return [sign, logabs]


def linalg_reference(*xs: np.ndarray, func: str, mode: str) -> np.ndarray:
    a = xs[0]
    if func == "det":
        return (
            np.asarray(np.linalg.det(a), a.dtype) if a.shape[-1] else np.ones(a.shape[:-2], a.dtype)
        )
    if func == "expm":
        return expm(a)
    computed = {
        "slogdet": lambda: _slogdet(a),
        "inv_ex": lambda: _inv_ex(a),
        "solve_ex": lambda: _solve_ex(a, xs[1]),
        "cholesky_ex": lambda: _cholesky_ex(a),
        "eigh": lambda: _eigh(a, mode),
        "svd": lambda: _svd(a, mode),
        "qr": lambda: _qr(a, mode),
        "lu": lambda: lu(a),
    }[func]()
    return _pack(a.shape[:-2], a.dtype, *computed)


# ---- the matrix exponential ------------------------------------------------------------------
# Padé [13/13] with scaling and squaring (Higham, "The scaling and squaring method for the
# matrix exponential revisited", 2005): A / 2^s has a 1-norm under theta_13, where the Padé
# approximant is exact to double precision, and s squarings undo the scaling. Computed in
# float64 and rounded once for float32 inputs; NaN for a matrix holding a NaN, as PyTorch.
_PADE13 = (
    64764752532480000.0,
    32382376266240000.0,
    7771770303897600.0,
    1187353796428800.0,
    129060195264000.0,
    10559470521600.0,
    670442572800.0,
    33522128640.0,
    1323241920.0,
    40840800.0,
    960960.0,
    16380.0,
    182.0,
    1.0,
)
_THETA13 = 5.371920351148152


def expm(a: np.ndarray) -> np.ndarray:
    """exp(A) of each matrix of ``a``."""
    if not a.size:
        return a.copy()
    x = a.astype(np.float64)
    b = _PADE13
    with np.errstate(all="ignore"):
        norm = np.abs(x).sum(axis=-2).max(axis=-1)
        ratio = np.where(np.isfinite(norm), norm, 0.0) / _THETA13
        s = np.ceil(np.log2(np.maximum(ratio, 1.0))).astype(np.int64)
        x = x / np.exp2(s)[..., None, None]
        eye = np.broadcast_to(np.eye(x.shape[-1]), x.shape)
        x2 = x @ x
        x4 = x2 @ x2
        x6 = x4 @ x2
        u = x6 @ (b[13] * x6 + b[11] * x4 + b[9] * x2) + b[7] * x6 + b[5] * x4 + b[3] * x2
        u = x @ (u + b[1] * eye)
        v = x6 @ (b[12] * x6 + b[10] * x4 + b[8] * x2) + b[6] * x6 + b[4] * x4 + b[2] * x2
        v = v + b[0] * eye
        r = _per_matrix(
            lambda p, q: (np.linalg.solve(p, q),), lambda p, q: (_nan(q),), v - u, v + u
        )[0]
        for k in range(int(s.max(initial=0))):
            r = np.where((s > k)[..., None, None], r @ r, r)
        r = np.where(np.isnan(norm)[..., None, None], np.nan, r)
    return r.astype(a.dtype)


# ---- LU with partial pivoting ------------------------------------------------------------------
def lu(a: np.ndarray) -> list[np.ndarray]:
    """getrf by columns over the whole batch: LU (L's multipliers below U), LAPACK's 1-based
    pivots, the permutation matrix P with A = P L U, and info (the first zero pivot). NumPy has
    no getrf; this is LAPACK's unblocked getf2 (its pivots: the first largest |entry|)."""
    batch, (m, n) = a.shape[:-2], a.shape[-2:]
    k = min(m, n)
    count = int(np.prod(batch, dtype=np.int64))  # (not -1: an empty matrix has no batch size)
    f = a.reshape(count, m, n).copy()
    rows = np.arange(count)
    pivots = np.zeros((count, k))
    perm = np.tile(np.arange(m), (count, 1))
    info = np.zeros(count)
    with np.errstate(all="ignore"):
        for j in range(k):
            p = j + np.argmax(np.abs(f[:, j:, j]), axis=1)
            pivots[:, j] = p + 1
            f[rows, j], f[rows, p] = f[rows, p], f[rows, j].copy()
            perm[rows, j], perm[rows, p] = perm[rows, p], perm[rows, j].copy()
            d = f[:, j, j]
            zero = d == 0
            info = np.where((info == 0) & zero, j + 1, info)
            f[:, j + 1 :, j] = np.where(
                zero[:, None], f[:, j + 1 :, j], f[:, j + 1 :, j] / d[:, None]
            )
            f[:, j + 1 :, j + 1 :] -= f[:, j + 1 :, j : j + 1] * f[:, j : j + 1, j + 1 :]
    p_matrix = np.swapaxes(np.eye(m, dtype=a.dtype)[perm], -1, -2)  # P^T's rows are I[perm]
    return [
        f.reshape(a.shape),
        pivots.reshape((*batch, k)),
        p_matrix.reshape((*batch, m, m)),
        info.reshape(batch),
    ]
