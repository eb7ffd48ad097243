"""``torch.lobpcg``: PyTorch's LOBPCG eigensolver (torch/_lobpcg.py) step for step, with its
backward for the symmetric eigenproblem."""

from __future__ import annotations

import math
from typing import Any

from adjit import linalg
from adjit._lobpcg_backward import symeig_backward
from adjit.autograd.custom import Function
from adjit.ir import dtypes as D
from adjit.runtime import functional as R
from adjit.runtime.checks import run_eagerly
from adjit.runtime.creation import eye, zeros
from adjit.runtime.ops_random import randn
from adjit.runtime.tensor import Tensor

__all__ = ["lobpcg"]

# Note [LOBPCG]
# ~~~~~~~~~~~~~
# Knyazev's Locally Optimal Block Preconditioned Conjugate Gradient method as PyTorch implements
# it: the "ortho" (default) and "basic" updates, the same defaults (tol = sqrt(eps), 1000
# iterations, the largest eigenpairs), the same random start (torch.randn from the default
# generator, so a seeded call starts where PyTorch's does) and PyTorch's backward: for A that
# requires grad, A is symmetrized and the eigenpairs' cotangents go back through the symmetric
# eigenproblem's formula (its partial-eigenspace form draws from a fresh default-seeded
# Generator, as PyTorch's). The iteration reads values to decide when to stop: inside a
# compiled function the whole solve runs eagerly at one graph break (``run_eagerly``).


def _floating(A: Tensor) -> Any:
    return A.dtype if A.dtype.name in ("float16", "float32", "float64") else D.float32


def _mm(A: Tensor | None, B: Tensor) -> Tensor:
    return B if A is None else R.matmul(A, B)


def _qform(A: Tensor | None, S: Tensor) -> Tensor:
    return R.matmul(S.mT, _mm(A, S))


def _symeig(A: Tensor, largest: bool | None = False) -> tuple[Tensor, Tensor]:
    E, Z = linalg.eigh(A, UPLO="U")
    if largest:
        E, Z = R.flip(E, (-1,)), R.flip(Z, (-1,))
    return E, Z


class LOBPCGAutogradFunction(Function):
    """lobpcg with PyTorch's backward to A (B = I only)."""

    @staticmethod
    def forward(ctx: Any, A: Tensor, *args: Any) -> tuple[Tensor, Tensor]:  # noqa: ANN401
        B = args[1]
        A = A.contiguous()
        B = B.contiguous() if B is not None else None
        D, U = _lobpcg(A, args[0], B, *args[2:])
        ctx.save_for_backward(A, B, D, U)
        ctx.largest = args[7]
        return D, U

    @staticmethod
    def backward(ctx: Any, D_grad: Tensor, U_grad: Tensor) -> tuple[Any, ...]:
        A, B, D, U = ctx.saved_tensors
        largest = True if ctx.largest is None else ctx.largest
        if A.dtype.is_complex or (B is not None and B.dtype.is_complex):
            raise ValueError(
                "lobpcg.backward does not support complex input yet. Note that lobpcg.forward "
                "does though."
            )
        if B is not None:
            raise ValueError("lobpcg.backward does not support backward with B != I yet.")
        grads: list[Any] = [None] * 14
        grads[0] = symeig_backward(D_grad, U_grad, A, D, U, largest)
        return tuple(grads)


def lobpcg(
    A: Tensor,
    k: int | None = None,
    B: Tensor | None = None,
    X: Tensor | None = None,
    n: int | None = None,
    iK: Tensor | None = None,  # noqa: N803
    niter: int | None = None,
    tol: float | None = None,
    largest: bool | None = None,
    method: str | None = None,
    tracker: Any = None,
    ortho_iparams: dict[str, int] | None = None,
    ortho_fparams: dict[str, float] | None = None,
    ortho_bparams: dict[str, bool] | None = None,
) -> tuple[Tensor, Tensor]:
    """The ``k`` largest (or smallest) eigenpairs of the symmetric generalized problem
    ``A X = B X diag(E)`` (Note [LOBPCG])."""

    def solve(A: Tensor, B: Tensor | None, X: Tensor | None, iK: Tensor | None) -> Any:  # noqa: N803
        args = (k, B, X, n, iK, niter, tol, largest, method, tracker)
        args += (ortho_iparams, ortho_fparams, ortho_bparams)
        if A.requires_grad or (B is not None and B.requires_grad):
            A_sym = (A + A.mT) / 2
            B_sym = (B + B.mT) / 2 if B is not None else None
            return LOBPCGAutogradFunction.apply(A_sym, k, B_sym, *args[2:])
        return _lobpcg(A, *args)

    message = "lobpcg iterates until its residuals converge: run it outside adjit.compile"
    return run_eagerly(message, "lobpcg (iterates until converged)", solve, A, B, X, iK)  # type: ignore[no-any-return]


def _lobpcg(
    A: Tensor,
    k: int | None,
    B: Tensor | None,
    X: Tensor | None,
    n: int | None,
    iK: Tensor | None,  # noqa: N803
    niter: int | None,
    tol: float | None,
    largest: bool | None,
    method: str | None,
    tracker: Any,
    ortho_iparams: dict[str, int] | None,
    ortho_fparams: dict[str, float] | None,
    ortho_bparams: dict[str, bool] | None,
) -> tuple[Tensor, Tensor]:
    if A.shape[-2] != A.shape[-1]:
        raise AssertionError(f"A must be square, got shape {A.shape}")
    if B is not None and A.shape != B.shape:
        raise AssertionError(f"A and B must have same shape, got {A.shape} vs {B.shape}")
    dtype = _floating(A)
    if tol is None:
        tol = {"float32": 1.2e-07, "float64": 2.23e-16}[dtype.name] ** 0.5
    m = A.shape[-1]
    k = (1 if X is None else X.shape[-1]) if k is None else k
    n = (k if n is None else n) if X is None else X.shape[-1]
    if m < 3 * n:
        raise ValueError(
            f"LOBPCG algorithm is not applicable when the number of A rows (={m}) is smaller "
            f"than 3 x the number of requested eigenpairs (={n})"
        )
    method = "ortho" if method is None else method
    iparams = {"m": m, "n": n, "k": k, "niter": 1000 if niter is None else niter}
    fparams = {"tol": tol}
    bparams = {"largest": True if largest is None else largest}
    if method == "ortho":
        iparams.update(ortho_iparams or {})
        fparams.update(ortho_fparams or {})
        bparams.update(ortho_bparams or {})
        iparams.setdefault("ortho_i_max", 3)
        iparams.setdefault("ortho_j_max", 3)
        for key in ("ortho_tol", "ortho_tol_drop", "ortho_tol_replace"):
            fparams.setdefault(key, tol)
        bparams.setdefault("ortho_use_drop", False)
    if A.ndim > 2:
        N = math.prod(A.shape[:-2])
        bA = A.reshape((N, *A.shape[-2:]))
        bB = B.reshape((N, *A.shape[-2:])) if B is not None else None
        bX = X.reshape((N, *X.shape[-2:])) if X is not None else None
        bE = zeros((N, k), dtype=dtype)
        bXret = zeros((N, m, k), dtype=dtype)
        for i in range(N):
            X_ = randn((m, n), dtype=dtype) if bX is None else bX[i]
            if not (X_.ndim == 2 and tuple(X_.shape) == (m, n)):
                raise AssertionError(f"X_ shape mismatch: got {X_.shape}, expected {(m, n)}")
            iparams["batch_index"] = i
            b = bB[i] if bB is not None else None
            worker = LOBPCG(bA[i], b, X_, iK, iparams, fparams, bparams, method, tracker)
            worker.run()
            bE[i] = worker.E[:k]
            bXret[i] = worker.X[:, :k]
        return bE.reshape((*A.shape[:-2], k)), bXret.reshape((*A.shape[:-2], m, k))
    X = randn((m, n), dtype=dtype) if X is None else X
    if not (X.ndim == 2 and tuple(X.shape) == (m, n)):
        raise AssertionError(f"X shape mismatch: got {X.shape}, expected {(m, n)}")
    worker = LOBPCG(A, B, X, iK, iparams, fparams, bparams, method, tracker)
    worker.run()
    return worker.E[:k], worker.X[:, :k]


class LOBPCG:
    """The worker: the iteration's state and its update rules (PyTorch's class)."""

    def __init__(
        self,
        A: Tensor | None,
        B: Tensor | None,
        X: Tensor,
        iK: Tensor | None,  # noqa: N803
        iparams: dict[str, int],
        fparams: dict[str, float],
        bparams: dict[str, bool],
        method: str,
        tracker: Any,
    ) -> None:
        self.A, self.B, self.iK = A, B, iK
        self.iparams, self.fparams, self.bparams = iparams, fparams, bparams
        self.method, self.tracker = method, tracker
        m, n = iparams["m"], iparams["n"]
        self.X = X
        self.E = zeros((n,), dtype=X.dtype)
        self.R = zeros((m, n), dtype=X.dtype)
        self.S = zeros((m, 3 * n), dtype=X.dtype)
        self.tvars: dict[str, Tensor] = {}
        self.ivars: dict[str, int] = {"istep": 0}
        self.fvars: dict[str, float] = {"_": 0.0}
        self.bvars: dict[str, bool] = {"_": False}

    def update(self) -> None:
        if self.ivars["istep"] == 0:
            X_norm = float(R.norm(self.X))
            iX_norm = X_norm ** (-1)
            self.fvars["X_norm"] = X_norm
            self.fvars["A_norm"] = float(R.norm(_mm(self.A, self.X))) * iX_norm
            self.fvars["B_norm"] = float(R.norm(_mm(self.B, self.X))) * iX_norm
            self.ivars["iterations_left"] = self.iparams["niter"]
            self.ivars["converged_count"] = 0
            self.ivars["converged_end"] = 0
        if self.method == "ortho":
            self._update_ortho()
        else:
            self._update_basic()
        self.ivars["iterations_left"] -= 1
        self.ivars["istep"] += 1

    def update_residual(self) -> None:
        self.R = _mm(self.A, self.X) - _mm(self.B, self.X) * self.E

    def update_converged_count(self) -> int:
        prev = self.ivars["converged_count"]
        A_norm, B_norm = self.fvars["A_norm"], self.fvars["B_norm"]
        E, X, Rs = self.E, self.X, self.R
        scale = R.norm(X, 2, (0,)) * (A_norm + R.abs(E[: X.shape[-1]]) * B_norm)
        rerr = R.norm(Rs, 2, (0,)) / scale
        count = 0
        for ok in (rerr < self.fparams["tol"]).tolist():
            if not ok:
                break
            count += 1
        if count < prev:
            raise AssertionError(
                f"the number of converged eigenpairs (was {prev}, got {count}) cannot decrease"
            )
        self.ivars["converged_count"] = count
        self.tvars["rerr"] = rerr
        return count

    def stop_iteration(self) -> bool:
        return (
            self.bvars.get("force_stop", False)
            or self.ivars["iterations_left"] == 0
            or self.ivars["converged_count"] >= self.iparams["k"]
        )

    def run(self) -> None:
        self.update()
        if self.tracker is not None:
            self.tracker(self)
        while not self.stop_iteration():
            self.update()
            if self.tracker is not None:
                self.tracker(self)

    def _update_basic(self) -> None:
        ns, nc = self.ivars["converged_end"], self.ivars["converged_count"]
        n, largest = self.iparams["n"], self.bparams["largest"]
        if self.ivars["istep"] == 0:
            Ri = self._get_rayleigh_ritz_transform(self.X)
            E, Z = _symeig(_qform(_qform(self.A, self.X), Ri), largest)
            self.X[:] = R.matmul(self.X, R.matmul(Ri, Z))
            self.E[:] = E
            np_ = 0
            self.update_residual()
            nc = self.update_converged_count()
            self.S[..., :n] = self.X
            W = _mm(self.iK, self.R)
        else:
            S_ = self.S[:, nc:ns]
            Ri = self._get_rayleigh_ritz_transform(S_)
            E_, Z = _symeig(_qform(_qform(self.A, S_), Ri), largest)
            self.X[:, nc:] = R.matmul(S_, R.matmul(Ri, Z[:, : n - nc]))
            self.E[nc:] = E_[: n - nc]
            P = R.matmul(S_, R.matmul(Ri, Z[:, n : 2 * n - nc]))
            np_ = P.shape[-1]
            self.update_residual()
            nc = self.update_converged_count()
            self.S[..., :n] = self.X
            self.S[:, n : n + np_] = P
            W = _mm(self.iK, self.R[:, nc:])
        self.ivars["converged_end"] = ns = n + np_ + W.shape[-1]
        self.S[:, n + np_ : ns] = W

    def _update_ortho(self) -> None:
        ns, nc = self.ivars["converged_end"], self.ivars["converged_count"]
        n, largest = self.iparams["n"], self.bparams["largest"]
        if self.ivars["istep"] == 0:
            Ri = self._get_rayleigh_ritz_transform(self.X)
            _E, Z = _symeig(_qform(_qform(self.A, self.X), Ri), largest)
            self.X = R.matmul(self.X, R.matmul(Ri, Z))
            self.update_residual()
            np_ = 0
            nc = self.update_converged_count()
            self.S[:, :n] = self.X
            W = self._get_ortho(self.R, self.X)
        else:
            S_ = self.S[:, nc:ns]
            E_, Z = _symeig(_qform(self.A, S_), largest)
            self.X[:, nc:] = R.matmul(S_, Z[:, : n - nc])
            self.E[nc:] = E_[: n - nc]
            basis = linalg.qr(Z[: n - nc, n - nc :].mT).Q
            P = R.matmul(S_, R.matmul(Z[:, n - nc :], basis))
            np_ = P.shape[-1]
            self.update_residual()
            nc = self.update_converged_count()
            self.S[:, :n] = self.X
            self.S[:, n : n + np_] = P
            W = self._get_ortho(self.R[:, nc:], self.S[:, : n + np_])
        ns = self.ivars["converged_end"] = n + np_ + W.shape[-1]
        self.S[:, n + np_ : ns] = W

    def _get_rayleigh_ritz_transform(self, S: Tensor) -> Tensor:
        SBS = _qform(self.B, S)
        d_row = SBS.diagonal(0, -2, -1) ** (-0.5)
        d_col = d_row.reshape(d_row.shape[0], 1)
        Rc = linalg.cholesky(SBS * d_row * d_col, upper=True)
        return linalg.solve_triangular(Rc, d_row.diag_embed(), upper=True, left=False)

    def _get_svqb(self, U: Tensor, drop: bool, tau: float) -> Tensor:
        if U.numel() == 0:
            return U
        UBU = _qform(self.B, U)
        d = UBU.diagonal(0, -2, -1)
        nz = R.where(R.abs(d) != 0.0)
        if len(nz[0]) < len(d):
            U = U[:, nz[0]]
            if U.numel() == 0:
                return U
            UBU = _qform(self.B, U)
            d = UBU.diagonal(0, -2, -1)
        d_col = (d ** (-0.5)).reshape(d.shape[0], 1)
        E, Z = _symeig(UBU * d_col * d_col.mT)
        t = tau * R.abs(E).max()
        if drop:
            keep = R.where(t < E)[0]
            E, Z, d_col = E[keep], Z[:, keep], d_col[keep]
        else:
            E[R.where(t > E)[0]] = t
        return R.matmul(U * d_col.mT, Z * E ** (-0.5))

    def _get_ortho(self, U: Tensor, V: Tensor) -> Tensor:
        m = self.iparams["m"]
        tau_ortho = self.fparams["ortho_tol"]
        tau_drop = self.fparams["ortho_tol_drop"]
        tau_replace = self.fparams["ortho_tol_replace"]
        i_max, j_max = self.iparams["ortho_i_max"], self.iparams["ortho_j_max"]
        use_drop = self.bparams["ortho_use_drop"]
        for key in list(self.fvars):
            if key.startswith("ortho_") and key.endswith("_rerr"):
                self.fvars.pop(key)
        self.ivars.pop("ortho_i", 0)
        self.ivars.pop("ortho_j", 0)
        BV_norm = R.norm(_mm(self.B, V))
        BU = _mm(self.B, U)
        VBU = R.matmul(V.mT, BU)
        i = j = 0
        for i in range(i_max):
            U = U - R.matmul(V, VBU)
            drop, tau_svqb = False, tau_drop
            for j in range(j_max):
                if use_drop:
                    U = self._get_svqb(U, drop, tau_svqb)
                    drop, tau_svqb = True, tau_replace
                else:
                    U = self._get_svqb(U, False, tau_replace)
                if U.numel() == 0:
                    self.ivars["ortho_i"], self.ivars["ortho_j"] = i, j
                    return U
                BU = _mm(self.B, U)
                UBU = R.matmul(U.mT, BU)
                Rm = UBU - eye(UBU.shape[-1], dtype=UBU.dtype)
                rerr = float(R.norm(Rm)) * float(R.norm(BU) * R.norm(U)) ** (-1)
                self.fvars[f"ortho_UBUmI_rerr[{i}, {j}]"] = rerr
                if rerr < tau_ortho:
                    break
            VBU = R.matmul(V.mT, BU)
            rerr = float(R.norm(VBU)) * float(BV_norm * R.norm(U)) ** (-1)
            self.fvars[f"ortho_VBU_rerr[{i}]"] = rerr
            if rerr < tau_ortho:
                break
            if m < U.shape[-1] + V.shape[-1]:
                if self.B is None:
                    raise AssertionError("B must not be None")
                raise ValueError(
                    f"Overdetermined shape of U: #B-cols(={self.B.shape[-1]}) >= "
                    f"#U-cols(={U.shape[-1]}) + #V-cols(={V.shape[-1]}) must hold"
                )
        self.ivars["ortho_i"], self.ivars["ortho_j"] = i, j
        return U
