"""linalg.eig and linalg.eigvals: LAPACK's geev through NumPy, complex results, PyTorch's gradient.

Note [eig node]
~~~~~~~~~~~~~~~
geev gives the eigenvalues L and the eigenvectors V (columns of norm 1, as PyTorch's, which runs
the same LAPACK routine) together, so both results are outputs 0 and 1 of one grad_fn,
LinalgEigBackward0 (``L.grad_fn is V.grad_fn``, as in PyTorch), which saves them with their
versions and runs PyTorch's linalg_eig_backward: a result no cotangent reached is undefined, as
PyTorch's (without a gradient for L the diagonal keeps i Im(diag(V^H gV))). The backward reads
NumPy arrays, so second derivatives through eig refuse by name, as does adjit.compile (complex
values).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import dtypes as D
from . import trace_state
from .autocast import autocast_op
from .autograd import FREED_MSG, Node, SavedTensor, gradient_edge, node_class
from .grad_mode import is_grad_enabled
from .ops_decomp_linalg import _no_out, _return_type
from .tensor import Tensor

EigResult = _return_type("linalg_eig", "eigenvalues eigenvectors")

GAUGE_MSG = (
    "linalg_eig_backward: The eigenvectors in the complex case are specified up to "
    "multiplication by e^{i phi}. The specified loss function depends on this quantity, so it "
    "is ill-defined."
)


def _check(A: Tensor) -> None:  # noqa: N803
    if A.dtype.category < 2:
        raise RuntimeError(f"Unknown Complex ScalarType for {A.dtype.type_name}")
    if A.ndim < 2:
        raise RuntimeError("linalg.eig: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(
            f"linalg.eig: A must be batches of square matrices, but they are {A.shape[-2]} by "
            f"{A.shape[-1]} matrices"
        )
    if A.dtype not in (D.float32, D.float64, D.complex64, D.complex128):
        raise NotImplementedError(
            f"\"linalg_eig_out_cpu\" not implemented for '{A.dtype.type_name}'"
        )
    if trace_state.current() is not None:
        raise NotImplementedError("adjit.compile does not support complex tensors yet (linalg.eig)")


def _values_vectors(A: Tensor) -> tuple[Tensor, Tensor]:  # noqa: N803
    data = A._data
    if not np.isfinite(data).all():
        raise RuntimeError("torch.linalg.eig: input tensor should not contain infs or NaNs.")
    dt = A.dtype if A.dtype.category == 3 else D.to_complex(A.dtype)
    w, v = np.linalg.eig(data)
    return Tensor._make(w.astype(dt.np)), Tensor._make(np.ascontiguousarray(v.astype(dt.np)))


def _eig_grad(
    gL: np.ndarray | None,  # noqa: N803
    gV: np.ndarray | None,  # noqa: N803
    L: np.ndarray,  # noqa: N803
    V: np.ndarray,  # noqa: N803
    real: bool,
) -> np.ndarray:
    """PyTorch's linalg_eig_backward: gA = V^-H (diag(gL) + (V^H gV - V^H V diag(Re(V^H gV)))
    / conj(L_j - L_i)) V^H, the real part for a real A."""
    n = L.shape[-1]
    Vh = np.conj(np.swapaxes(V, -1, -2))  # noqa: N806
    idx = np.arange(n)
    with np.errstate(all="ignore"):
        if gV is None:
            ret = np.zeros(V.shape, V.dtype)
            ret[..., idx, idx] = gL
        else:
            VhgV = Vh @ gV  # noqa: N806
            diag = np.diagonal(VhgV, axis1=-2, axis2=-1)
            if not np.allclose(diag.imag, 0, rtol=1e-2, atol=1e-2):
                raise RuntimeError(GAUGE_MSG)
            Lc = np.conj(L)  # noqa: N806
            E = Lc[..., None, :] - Lc[..., :, None]  # noqa: N806
            E[..., idx, idx] = 1
            ret = (VhgV - (Vh @ V) * diag.real[..., None, :]) / E
            if gL is not None:
                ret[..., idx, idx] = gL
        gA = np.linalg.solve(Vh, ret @ Vh) if n else ret  # noqa: N806
    return gA.real if real else gA


class EigBackward(Node):
    """The one grad_fn of eig's two results (Note [eig node])."""

    num_outputs = 2

    def __init__(self, L: Tensor, V: Tensor, A: Tensor) -> None:  # noqa: N803
        super().__init__()
        self._edges = (gradient_edge(A),)
        self._dtype = A.dtype
        self._saved: tuple[SavedTensor, SavedTensor] | None = (
            SavedTensor(L, True),
            SavedTensor(V, True),
        )

    def apply(self, grads: Any, create_graph: bool) -> list[Tensor | None]:
        if create_graph:
            raise NotImplementedError(
                "linalg.eig: adjit does not support second derivatives through eig yet "
                "(create_graph=True)"
            )
        if self._saved is None:
            raise RuntimeError(FREED_MSG)
        L, V = (s.unpack(self)._data for s in self._saved)  # noqa: N806
        gL, gV = (None if g is None else g._data for g in grads)  # noqa: N806
        gA = _eig_grad(gL, gV, L, V, self._dtype.category != 3)  # noqa: N806
        return [Tensor._make(np.ascontiguousarray(gA).astype(self._dtype.np))]

    def release(self) -> None:
        self._saved = None


def _parts(A: Tensor) -> tuple[Tensor, Tensor]:  # noqa: N803
    """(eigenvalues, eigenvectors), outputs 0 and 1 of one node under autograd."""
    _check(A)
    L, V = _values_vectors(A)  # noqa: N806
    if is_grad_enabled() and A.requires_grad:
        node = node_class("LinalgEigBackward0", EigBackward)(L, V, A)
        for k, t in enumerate((L, V)):
            t._grad_fn, t._output_nr = node, k
    return L, V


@autocast_op("linalg_eig")
def eig(A: Tensor, *, out: Any = None) -> Any:  # noqa: N803
    """``torch.linalg.eig``: the (complex) eigenvalues and eigenvectors of square matrices."""
    _no_out(out, "linalg.eig")
    return EigResult(*_parts(A))


@autocast_op("linalg_eigvals")
def eigvals(A: Tensor, *, out: Any = None) -> Tensor:  # noqa: N803
    """``torch.linalg.eigvals``: the (complex) eigenvalues of square matrices."""
    _no_out(out, "linalg.eigvals")
    if is_grad_enabled() and A.requires_grad:
        return _parts(A)[0]  # (PyTorch: eig's, with its check for infinities and NaNs)
    _check(A)
    return Tensor._make(_values_only(A))


def _values_only(A: Tensor) -> np.ndarray:  # noqa: N803
    """geev without eigenvectors: as PyTorch, no check for infinities and NaNs; a matrix holding
    one has NaN eigenvalues (PyTorch returns what its LAPACK build makes of it: NaN, mostly)."""
    data = A._data
    dt = A.dtype if A.dtype.category == 3 else D.to_complex(A.dtype)
    bad = ~np.isfinite(data).all(axis=(-2, -1))
    with np.errstate(all="ignore"):
        w = np.linalg.eigvals(np.where(bad[..., None, None], 0, data)).astype(dt.np)
    w[bad] = complex(np.nan, np.nan)
    return w
