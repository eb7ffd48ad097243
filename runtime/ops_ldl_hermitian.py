"""The complex Hermitian LDL^H of linalg.ldl_factor/ldl_solve(hermitian=True): zhetf2 / zhetrs.

As Note [LDL as LAPACK] in runtime/ops_ldl.py, with LAPACK's Hermitian differences: pivots
compare |Re| of the diagonal (which is kept real) and |Re| + |Im| off it, interchanges conjugate
the entries that cross the diagonal, the updates are rank-1/rank-2 with conjugates (zher), and a
2x2 block of D is [[d11, conj(d21)], [d21, d22]].
"""

from __future__ import annotations

import math

import numpy as np

from .ops_ldl import ALPHA, _size1


def hetf2(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """One matrix: (LD, 1-based pivots, info), LAPACK's zhetf2 with uplo 'L'."""
    a = np.tril(a).copy()
    n = a.shape[0]
    ipiv = np.zeros(n, np.int32)
    info = 0
    k = 0
    with np.errstate(all="ignore"):
        while k < n:
            kstep = 1
            absakk = abs(float(a[k, k].real))
            if k < n - 1:
                col = _size1(a[k + 1 :, k])
                imax = k + 1 + int(np.argmax(col))
                colmax = float(col[imax - k - 1])
            else:
                imax, colmax = k, 0.0
            if max(absakk, colmax) == 0 or math.isnan(absakk):
                info = info or k + 1
                kp = k
                a[k, k] = a[k, k].real
            else:
                if absakk >= ALPHA * colmax:
                    kp = k
                else:
                    rowmax = float(_size1(a[imax, k:imax]).max())
                    if imax < n - 1:
                        rowmax = max(rowmax, float(_size1(a[imax + 1 :, imax]).max()))
                    if absakk >= ALPHA * colmax * (colmax / rowmax):
                        kp = k
                    elif abs(float(a[imax, imax].real)) >= ALPHA * rowmax:
                        kp = imax
                    else:
                        kp, kstep = imax, 2
                kk = k + kstep - 1
                if kp != kk:
                    _interchange(a, k, kk, kp, kstep)
                else:
                    a[k, k] = a[k, k].real
                    if kstep == 2:
                        a[k + 1, k + 1] = a[k + 1, k + 1].real
                if kstep == 1:
                    _update1(a, k)
                else:
                    _update2(a, k)
            if kstep == 1:
                ipiv[k] = kp + 1
            else:
                ipiv[k] = ipiv[k + 1] = -(kp + 1)
            k += kstep
    return a, ipiv, info


def _interchange(a: np.ndarray, k: int, kk: int, kp: int, kstep: int) -> None:
    a[kp + 1 :, [kk, kp]] = a[kp + 1 :, [kp, kk]]
    seg = a[kk + 1 : kp, kk].copy()
    a[kk + 1 : kp, kk] = np.conj(a[kp, kk + 1 : kp])
    a[kp, kk + 1 : kp] = np.conj(seg)
    a[kp, kk] = np.conj(a[kp, kk])
    a[kk, kk], a[kp, kp] = a[kp, kp].real, a[kk, kk].real
    if kstep == 2:
        a[k, k] = a[k, k].real
        a[k + 1, k], a[kp, k] = a[kp, k], a[k + 1, k]


def _update1(a: np.ndarray, k: int) -> None:
    """zher with -1/D(k) (the diagonal kept real), then the column scaled."""
    if k == a.shape[0] - 1:
        return
    x = a[k + 1 :, k].copy()
    r1 = 1 / a[k, k].real
    temp = -r1 * np.conj(x)
    upd = np.tril(np.outer(x, temp))
    a[k + 1 :, k + 1 :] += upd
    idx = np.arange(k + 1, a.shape[0])
    a[idx, idx] = a[idx, idx].real
    a[k + 1 :, k] = r1 * x


def _update2(a: np.ndarray, k: int) -> None:
    """The 2x2 pivot's rank-2 update with conjugates, as zhetf2's loops."""
    n = a.shape[0]
    if k >= n - 2:
        return
    d = math.hypot(a[k + 1, k].real, a[k + 1, k].imag)
    d11 = a[k + 1, k + 1].real / d
    d22 = a[k, k].real / d
    tt = 1 / (d11 * d22 - 1)
    d21 = a[k + 1, k] / d
    d = tt / d
    ck, ck1 = a[k + 2 :, k].copy(), a[k + 2 :, k + 1].copy()
    wk = d * (d11 * ck - d21 * ck1)
    wkp1 = d * (d22 * ck1 - np.conj(d21) * ck)
    a[k + 2 :, k + 2 :] -= np.tril(np.outer(ck, np.conj(wk)) + np.outer(ck1, np.conj(wkp1)))
    a[k + 2 :, k], a[k + 2 :, k + 1] = wk, wkp1
    idx = np.arange(k + 2, n)
    a[idx, idx] = a[idx, idx].real


def hetrs(ld: np.ndarray, ipiv: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One system: LAPACK's zhetrs with uplo 'L' on (LD, pivots)."""
    b = b.copy()
    n = ld.shape[0]
    k = 0
    while k < n:  # L D y = b
        if ipiv[k] > 0:
            kp = ipiv[k] - 1
            if kp != k:
                b[[k, kp]] = b[[kp, k]]
            b[k + 1 :] -= np.outer(ld[k + 1 :, k], b[k])
            b[k] = b[k] * (1 / ld[k, k].real)
            k += 1
        else:
            kp = -ipiv[k] - 1
            if kp != k + 1:
                b[[k + 1, kp]] = b[[kp, k + 1]]
            b[k + 2 :] -= np.outer(ld[k + 2 :, k], b[k])
            b[k + 2 :] -= np.outer(ld[k + 2 :, k + 1], b[k + 1])
            akm1k = ld[k + 1, k]
            akm1 = ld[k, k] / np.conj(akm1k)
            ak = ld[k + 1, k + 1] / akm1k
            denom = akm1 * ak - 1
            bkm1, bk = b[k] / np.conj(akm1k), b[k + 1] / akm1k
            b[k], b[k + 1] = (ak * bkm1 - bk) / denom, (akm1 * bk - bkm1) / denom
            k += 2
    k = n - 1
    while k >= 0:  # L^H x = y
        if ipiv[k] > 0:
            b[k] -= np.conj(ld[k + 1 :, k]) @ b[k + 1 :]
            kp = ipiv[k] - 1
            if kp != k:
                b[[k, kp]] = b[[kp, k]]
            k -= 1
        else:
            b[k] -= np.conj(ld[k + 1 :, k]) @ b[k + 1 :]
            b[k - 1] -= np.conj(ld[k + 1 :, k - 1]) @ b[k + 1 :]
            kp = -ipiv[k] - 1
            if kp != k:
                b[[k, kp]] = b[[kp, k]]
            k -= 2
    return b
