"""linalg.eig and linalg.eigvals: LAPACK's geev through NumPy, complex results, PyTorch's gradient.

Note [eig packed]
~~~~~~~~~~~~~~~~~
geev gives the eigenvalues L and the eigenvectors V (columns of norm 1, as PyTorch's, which runs
the same LAPACK routine) together: they are computed once as one complex value ``[V | L]`` of
shape (..., n, n + 1) that carries PyTorch's linalg_eig_backward as its derivative, and each
result is a slice of it whose grad_fn is named LinalgEigBackward0. A result the loss does not use
sends a zero cotangent (PyTorch's is undefined; the only difference: without a gradient for L,
PyTorch keeps i Im(diag(V^H gV)) on the diagonal, which its gauge check bounds by 1e-2 and which
is zero up to rounding for a loss that passes it; adjit puts 0 there). The backward reads NumPy
arrays, so second derivatives through eig refuse by name, as does adjit.compile (complex values).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import dtypes as D
from . import trace_state
from .dispatch import composite, with_rule
from .grad_mode import is_grad_enabled
from .ops_complex import _Rule
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


def _packed_value(A: Tensor) -> Tensor:  # noqa: N803
    data = A._data
    if not np.isfinite(data).all():
        raise RuntimeError("torch.linalg.eig: input tensor should not contain infs or NaNs.")
    dt = A.dtype if A.dtype.category == 3 else D.to_complex(A.dtype)
    w, v = np.linalg.eig(data)
    return Tensor._make(np.concatenate([v, w[..., None]], axis=-1).astype(dt.np))


def _eig_grad(g: Tensor, out: Tensor, A: Tensor) -> tuple[Tensor]:  # noqa: N803
    """PyTorch's linalg_eig_backward: gA = V^-H (diag(gL) + (V^H gV - V^H V diag(Re(V^H gV)))
    / conj(L_j - L_i)) V^H, the real part for a real A."""
    if is_grad_enabled():
        raise NotImplementedError(
            "linalg.eig: adjit does not support second derivatives through eig yet "
            "(create_graph=True)"
        )
    n = A.shape[-1]
    G, P = g._data, out._data
    gV, gL, V, L = G[..., :n], G[..., n], P[..., :n], P[..., n]
    Vh = np.conj(np.swapaxes(V, -1, -2))
    with np.errstate(all="ignore"):
        VhgV = Vh @ gV
        diag = np.diagonal(VhgV, axis1=-2, axis2=-1)
        if not np.allclose(diag.imag, 0, rtol=1e-2, atol=1e-2):
            raise RuntimeError(GAUGE_MSG)
        Lc = np.conj(L)
        E = Lc[..., None, :] - Lc[..., :, None]
        idx = np.arange(n)
        E[..., idx, idx] = 1
        ret = (VhgV - (Vh @ V) * diag.real[..., None, :]) / E
        ret[..., idx, idx] = gL
        gA = np.linalg.solve(Vh, ret @ Vh) if n else ret
    if A.dtype.category != 3:
        gA = gA.real
    return (Tensor._make(np.ascontiguousarray(gA).astype(A.dtype.np)),)


_EIG = _Rule("linalg_eig", _eig_grad)


def _parts(A: Tensor) -> tuple[Tensor, Tensor]:  # noqa: N803
    """(eigenvalues, eigenvectors): slices of the packed value (Note [eig packed])."""
    _check(A)
    n = A.shape[-1]
    packed = with_rule(_EIG, _packed_value, A, name="LinalgEigBackward0")
    if not (is_grad_enabled() and packed.requires_grad):
        data = packed._data
        return (
            Tensor._make(np.ascontiguousarray(data[..., n])),
            Tensor._make(np.ascontiguousarray(data[..., :n])),
        )
    values = composite("LinalgEigBackward0", lambda p: p[..., n], packed)
    vectors = composite("LinalgEigBackward0", lambda p: p[..., :n], packed)
    return values, vectors


def eig(A: Tensor, *, out: Any = None) -> Any:  # noqa: N803
    """``torch.linalg.eig``: the (complex) eigenvalues and eigenvectors of square matrices."""
    _no_out(out, "linalg.eig")
    return EigResult(*_parts(A))


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
