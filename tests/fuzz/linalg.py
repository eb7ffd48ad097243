"""linalg programs (det, inv, solve, cholesky, eigh, svd, qr, pinv, lstsq, norms) vs PyTorch."""

# Inputs are built with a known spectrum, so the tolerance can follow the conditioning: a
# matrix U diag(s) V^T with singular values s in [1, kappa] (square ones for det/inv/solve),
# a symmetric Q diag(l) Q^T with eigenvalues l at least ``GAP`` apart (eigh's vector gradients
# divide by those gaps), positive ones for cholesky, plus exactly singular matrices (a zero
# row), where PyTorch and adjit must raise the same LinAlgError or agree on det's value and
# gradient (0). NumPy's LAPACK (OpenBLAS) and PyTorch's (MKL) round differently; a backward-
# stable factorization errs by ~kappa * n * eps relative to its largest value, its gradient
# (a solve more, or a division by the gap) by ~kappa^2 / gap times that: the bound below is
# 64 * kappa^2 / gap * n * eps. Outputs are gauge-invariant (squared eigen/singular vectors,
# R with its diagonal made positive) since either LAPACK may flip a vector's sign.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import cases
from .cases import Case

GAP = 0.25
# name -> (return expression, input kinds: "g" general square, "t" tall, "y" symmetric,
# "p" positive-definite, "r" right-hand side)
PROGRAMS: dict[str, tuple[str, str]] = {
    "det": ("T.linalg.det(x0)", "g"),
    "slogdet": ("T.linalg.slogdet(x0).logabsdet", "g"),
    "logdet": ("T.logdet(x0)", "p"),
    "inv": ("T.linalg.inv(x0)", "g"),
    "inv-chain": ("(T.linalg.inv(x0) @ x1).tanh()", "gr"),
    "solve": ("T.linalg.solve(x0, x1)", "gr"),
    "solve-left-false": ("T.linalg.solve(x0, x1.mT, left=False)", "gr"),
    "cholesky": ("T.linalg.cholesky((x0 + x0.mT) / 2)", "p"),
    "cholesky-upper": ("T.linalg.cholesky((x0 + x0.mT) / 2, upper=True)", "p"),
    "eigvalsh": ("T.linalg.eigvalsh((x0 + x0.mT) / 2)", "y"),
    "eigh-vectors": ("T.linalg.eigh((x0 + x0.mT) / 2).eigenvectors ** 2", "y"),
    "svdvals": ("T.linalg.svdvals(x0)", "t"),
    "svd-U": ("T.linalg.svd(x0, full_matrices=False).U ** 2", "t"),
    "svd-Vh": ("T.linalg.svd(x0.mT, full_matrices=False).Vh ** 2", "t"),
    "qr": ("_signed(T, *T.linalg.qr(x0))", "t"),
    "pinv": ("T.linalg.pinv(x0)", "t"),
    "lstsq": ("T.linalg.lstsq(x0, x1).solution", "tr"),
    "nuclear": ("T.linalg.matrix_norm(x0, 'nuc')", "t"),
    "spectral": ("T.linalg.matrix_norm(x0, 2) * T.linalg.cond(x0)", "t"),
    "matrix_power": ("T.linalg.matrix_power(x0, -2)", "g"),
    "lu_solve": ("T.linalg.lu_solve(*T.linalg.lu_factor(x0), x1)", "gr"),
    "lu": ("T.linalg.lu(x0).U", "g"),
}
# exactly singular inputs: the same LinalgError, or det's value 0 and gradient 0 (slogdet's
# gradient is undefined there: PyTorch's unperturbed LU makes inf/NaN patterns of its own)
SINGULAR_OK = frozenset(
    {"det", "inv", "inv-chain", "solve", "solve-left-false", "matrix_power", "lu_solve", "lu"}
)
SIGNED = [  # R's diagonal made positive (and Q's columns with it): QR is unique up to those
    "def _signed(T, q, r):",
    "    s = r.diagonal(dim1=-2, dim2=-1).sign()",
    "    return T.cat([q * s.unsqueeze(-2), (r * s.unsqueeze(-1)).mT], -2)",
]


def _orthogonal(seed: int, batch: tuple[int, ...], n: int) -> str:
    return f"np.linalg.qr(np.random.default_rng({seed}).standard_normal({(*batch, n, n)}))[0]"


def _matrix(kind: str, seed: int, batch: tuple[int, ...], n: int, spectrum: list[float]) -> str:
    s = f"np.array({spectrum!r})"
    if kind in "yp":  # Q diag(l) Q^T
        q = _orthogonal(seed, batch, n)
        return f"(lambda q: (q * {s}) @ np.swapaxes(q, -1, -2))({q})"
    rows = n + 2 if kind == "t" else n
    u = f"np.linalg.qr(np.random.default_rng({seed}).standard_normal({(*batch, rows, n)}))[0]"
    return f"({u} * {s}) @ np.swapaxes({_orthogonal(seed + 1, batch, n)}, -1, -2)"


@st.composite
def linalg_cases(draw: Callable[..., Any]) -> Case:
    name = draw(st.sampled_from(sorted(PROGRAMS)))
    expr, kinds = PROGRAMS[name]
    dtype = draw(st.sampled_from(["float64", "float64", "float32"]))
    n = draw(st.integers(1, 4))
    batch = draw(st.sampled_from([(), (), (2,), (2, 1)]))
    kappa = draw(st.sampled_from([1.5, 4.0, 10.0]))
    singular = name in SINGULAR_OK and draw(st.integers(0, 5)) == 0
    seed = draw(st.integers(0, 2**20))
    arrays, kappas = [], []
    for i, kind in enumerate(kinds):
        if kind == "r":
            shape = (*batch, n + 2 if "t" in kinds else n, 2)
            arrays.append(f"np.random.default_rng({seed + 7}).standard_normal({shape})")
            continue
        if kind == "y":  # distinct eigenvalues of both signs, GAP apart
            start = draw(st.floats(-3.0, 0.0))
            steps = draw(st.lists(st.floats(GAP, 2.0), min_size=n - 1, max_size=n - 1))
            spectrum = list(np.cumsum([start, *steps]))
            kappas.append(max(1.0, *(abs(v) for v in spectrum)) / GAP)
        else:
            spectrum = list(np.linspace(1.0, kappa, n)[::-1])
            kappas.append(kappa / GAP if kind in "pt" else kappa)
        array = _matrix(kind, seed + 2 * i, batch, n, [float(v) for v in spectrum])
        if singular:  # an exactly singular matrix: its last row zero
            array = f"(lambda a: np.concatenate([a[..., :-1, :], 0 * a[..., -1:, :]], -2))({array})"
        arrays.append(array)
    grads = [draw(st.booleans()) or i == 0 for i in range(len(arrays))]
    arrays = [f"({a}).astype(np.{dtype})" for a in arrays]
    tag = f"linalg {name} {dtype} kappa={max(kappas):.3g} n={n}" + (" singular" if singular else "")
    return Case(
        tag, [f"return {expr}"], arrays, grads, header=[*SIGNED, ""] if name == "qr" else []
    )


def rtol(case: Case) -> float:
    words = case.kind.split()
    eps = float(np.finfo(words[2]).eps)
    kappa = float(words[3].split("=")[1])
    n = int(words[4].split("=")[1])
    return 64 * kappa**2 * max(n, 1) * eps


def check_linalg(case: Case) -> None:
    import torch

    tol = rtol(case)
    want = cases.outcome(lambda: cases.leaf_grads(torch, case, case.bind(torch), True))
    got = cases.outcome(lambda: cases.leaf_grads(cases.adjit, case, case.bind(cases.adjit), True))
    _compare(got, want, tol, "adjit eager")
    if isinstance(want, cases.Raised):
        return
    fn = cases.compiled(case)
    got = cases.outcome(lambda: cases.leaf_grads(cases.adjit, case, fn, True))
    _compare(got, want, tol, "compiled")


def _compare(got: Any, want: Any, tol: float, what: str) -> None:
    if cases.same_raise(got, want, what):
        g, w = got.error, want.error
        assert type(g).__name__ == type(w).__name__ and str(g) == str(w), (
            f"{what}: raised {type(g).__name__}: {g}; PyTorch {type(w).__name__}: {w}"
        )
        return
    cases.assert_floats(got[0], want[0], tol, f"{what} value")
    assert cases.dtype_name(got[0]) == cases.dtype_name(want[0]), f"{what}: dtype"
    cases.assert_same_grads(got[1], want[1], tol, what)
