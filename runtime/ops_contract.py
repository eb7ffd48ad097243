"""Products built on matmul: addmm family, kron, vdot, matrix_power, cross, cdist."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import dtypes as D
from .autocast import autocast_op
from .dispatch import composite
from .kernel_dtypes import not_implemented
from .ops_elementwise import add, gt, mul, sub, where
from .ops_linalg import bmm, dot, matmul, mm, mv, outer
from .ops_movement import cat, expand, getitem, reshape, transpose, unsqueeze
from .ops_reduce import _sqrt0, norm, sum
from .ops_shape import broadcast_tensors
from .tensor import Tensor

_TRUE = np.ones((), bool)


# ---- input * beta + product * alpha ---------------------------------------------------------
def _scaled_add(name: str, input: Tensor, product: Tensor, beta: Any, alpha: Any) -> Tensor:  # noqa: A002
    """``beta * input + alpha * product``; beta == 0 ignores input (NaN in it too) as PyTorch."""
    if product.dtype.category == 1:
        alpha, beta = int(alpha), int(beta)  # PyTorch casts the scalars to the integer type
    shape = tuple(product.shape)

    def decomposition(c: Tensor, p: Tensor) -> Tensor:
        scaled = p if alpha == 1 else mul(p, alpha)
        if beta == 0:  # the where keeps the broadcast check and gives input a zero gradient
            return where(Tensor._make(_TRUE), scaled, expand(c, shape))
        return add(expand(c if beta == 1 else mul(c, beta), shape), scaled)

    try:
        expand(input, shape)
    except Exception:  # noqa: BLE001 - PyTorch's expand wording below
        raise RuntimeError(
            f"The expanded size of the tensor ({shape[-1] if shape else 1}) must match the "
            f"existing size ({input.shape[-1] if input.ndim else 1}) at non-singleton dimension "
            f"{len(shape) - 1}.  Target sizes: {list(shape)}.  Tensor sizes: {list(input.shape)}"
        ) from None
    return composite(name, decomposition, input, product)


def _same_dtype(input: Tensor, other: Tensor, what: str = "self and mat2") -> None:  # noqa: A002
    if input.dtype != other.dtype:
        raise RuntimeError(
            f"{what} must have the same dtype, but got {input.dtype.type_name} and "
            f"{other.dtype.type_name}"
        )


@autocast_op("addmm")
def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:  # noqa: A002
    for label, m in (("mat1", mat1), ("mat2", mat2)):
        if m.ndim != 2:
            raise RuntimeError(f"{label} must be a matrix, got {m.ndim}-D tensor")
    _same_dtype(input, mat2)
    _same_dtype(mat1, mat2)
    if mat1.shape[1] != mat2.shape[0]:
        raise RuntimeError(
            "mat1 and mat2 shapes cannot be multiplied "
            f"({mat1.shape[0]}x{mat1.shape[1]} and {mat2.shape[0]}x{mat2.shape[1]})"
        )
    return _scaled_add("AddmmBackward0", input, mm(mat1, mat2), beta, alpha)


@autocast_op("addmv")
def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:  # noqa: A002
    if mat.ndim != 2 or vec.ndim != 1 or mat.shape[1] != vec.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({'x'.join(map(str, input.shape))}), mat "
            f"({'x'.join(map(str, mat.shape))}), vec ({'x'.join(map(str, vec.shape))})"
        )
    _same_dtype(input, mat, "self and mat")
    _same_dtype(mat, vec, "mat and vec")
    return _scaled_add("AddmvBackward0", input, mv(mat, vec), beta, alpha)


@autocast_op("addr")
def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:  # noqa: A002
    for label, v in (("vec1", vec1), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {label}, but got {v.ndim}-D")
    return _scaled_add("AddrBackward0", input, outer(vec1, vec2), beta, alpha)


@autocast_op("baddbmm")
def baddbmm(
    input: Tensor,  # noqa: A002
    batch1: Tensor,
    batch2: Tensor,
    *,
    beta: Any = 1,
    alpha: Any = 1,
) -> Tensor:
    _same_dtype(input, batch1, "self and batch1")
    return _scaled_add("BaddbmmBackward0", input, bmm(batch1, batch2), beta, alpha)


@autocast_op("addbmm")
def addbmm(
    input: Tensor,  # noqa: A002
    batch1: Tensor,
    batch2: Tensor,
    *,
    beta: Any = 1,
    alpha: Any = 1,
) -> Tensor:
    _same_dtype(input, batch1, "self and batch1")
    return _scaled_add("AddbmmBackward0", input, sum(bmm(batch1, batch2), 0), beta, alpha)


# ---- vectors -------------------------------------------------------------------------------
def vdot(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """``dot`` with the first argument conjugated."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    from .ops_complex import conj

    return composite("VdotBackward0", lambda a, b: dot(conj(a), b), input, other)


def ger(input: Tensor, vec2: Tensor) -> Tensor:  # noqa: A002
    return outer(input, vec2)


def kron(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """Kronecker product: a copy of ``other`` scaled by each element of ``input``."""
    nd = max(input.ndim, other.ndim)
    sa = (1,) * (nd - input.ndim) + tuple(input.shape)
    sb = (1,) * (nd - other.ndim) + tuple(other.shape)
    a = reshape(input, tuple(x for n in sa for x in (n, 1)))
    b = reshape(other, tuple(x for n in sb for x in (1, n)))
    return reshape(mul(a, b), tuple(m * n for m, n in zip(sa, sb, strict=True)))


# ---- matrix_power --------------------------------------------------------------------------
def matrix_power(input: Tensor, n: int) -> Tensor:  # noqa: A002
    if input.ndim < 2:
        raise RuntimeError(
            "linalg.matrix_power: The input tensor A must have at least 2 dimensions."
        )
    if input.shape[-1] != input.shape[-2]:
        raise RuntimeError(
            "linalg.matrix_power: A must be batches of square matrices, but they are "
            f"{input.shape[-2]} by {input.shape[-1]} matrices"
        )
    if not isinstance(n, int | np.integer) or isinstance(n, bool):
        raise TypeError(f"matrix_power(): argument 'n' must be int, not {type(n).__name__}")
    if n < 0:  # PyTorch: the power of the inverse (linalg.inv's singular-matrix error)
        from .ops_decomp_linalg import inv

        if n == -1:
            return inv(input)
        input, n = inv(input), -n  # noqa: A001
    if n == 0:
        from .creation import eye

        size = input.shape[-1]
        identity = eye(size, dtype=input.dtype)
        return composite(
            "CopyBackwards",
            lambda a: where(Tensor._make(_TRUE), expand(identity, tuple(a.shape)), a),
            input,
        )
    if n == 1:
        return input.clone()
    result: Tensor | None = None
    power = input
    while True:  # repeated squaring: the bits of n from the lowest
        if n & 1:
            result = power if result is None else matmul(result, power)
        n >>= 1
        if not n:
            break
        power = matmul(power, power)
    assert result is not None
    return result


# ---- cross ---------------------------------------------------------------------------------
def linalg_cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:  # noqa: A002
    if "bool" in (input.dtype.name, other.dtype.name):
        raise not_implemented("cross", D.bool_)
    if input.dtype != other.dtype:
        raise RuntimeError(
            f"expected scalar type {input.dtype.type_name} but found {other.dtype.type_name}"
        )
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    nd = input.ndim
    d = dim % nd if -nd <= dim < nd else None
    if d is None:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})"
        )
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(
            f"linalg.cross: inputs dimension {dim} must have length 3. Got "
            f"{input.shape[d]} and {other.shape[d]}"
        )

    def decomposition(a: Tensor, b: Tensor) -> Tensor:
        a, b = broadcast_tensors(a, b)

        def part(t: Tensor, i: int) -> Tensor:
            return getitem(t, (slice(None),) * d + (slice(i, i + 1),))

        a0, a1, a2 = part(a, 0), part(a, 1), part(a, 2)
        b0, b1, b2 = part(b, 0), part(b, 1), part(b, 2)

        def det2(p: Tensor, q: Tensor, r: Tensor, s: Tensor) -> Tensor:
            return sub(mul(p, q), mul(r, s))

        return cat([det2(a1, b2, a2, b1), det2(a2, b0, a0, b2), det2(a0, b1, a1, b0)], d)

    return composite("LinalgCrossBackward0", decomposition, input, other)


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:  # noqa: A002
    """``linalg.cross``; without ``dim`` the first dim of size 3 (PyTorch's deprecated default)."""
    if dim is None:
        a, _ = broadcast_tensors(input, other) if input.ndim == other.ndim else (input, other)
        sizes = list(a.shape)
        if 3 not in sizes:
            raise RuntimeError("no dimension of size 3 in input")
        dim = sizes.index(3)
    return linalg_cross(input, other, dim=dim)


# ---- cdist ---------------------------------------------------------------------------------
_COMPUTE_MODES = {
    "use_mm_for_euclid_dist_if_necessary": lambda p, r: p > 25 or r > 25,
    "use_mm_for_euclid_dist": lambda p, r: True,
    "donot_use_mm_for_euclid_dist": lambda p, r: False,
}


@autocast_op("cdist")
def cdist(
    x1: Tensor,
    x2: Tensor,
    p: float = 2.0,
    compute_mode: str = "use_mm_for_euclid_dist_if_necessary",
) -> Tensor:
    """Pairwise p-norm distances between the rows of ``x1`` and of ``x2`` (batched)."""
    for label, x in (("X1", x1), ("X2", x2)):
        if x.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {label} got: {x.ndim}D")
    for label, x in (("X1", x1), ("X2", x2)):
        if not x.dtype.is_floating_point:
            raise RuntimeError(
                f"cdist only supports floating-point dtypes, {label} got: {x.dtype.type_name}"
            )
    if x1.dtype != x2.dtype:
        raise RuntimeError(
            f"expected scalar type {x1.dtype.type_name} but found {x2.dtype.type_name}"
        )
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}"
        )
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    use_mm = _COMPUTE_MODES.get(compute_mode)
    if use_mm is None:
        raise RuntimeError(f"{compute_mode} is not a valid value for compute_mode")
    rows1, rows2 = x1.shape[-2], x2.shape[-2]

    if p == 2 and use_mm(rows1, rows2):
        return composite("ViewBackward0", _euclidean_mm, x1, x2)  # (PyTorch's last view)

    def decomposition(a: Tensor, b: Tensor) -> Tensor:
        diff = sub(unsqueeze(a, -2), unsqueeze(b, -3))  # [..., P, R, M]
        return norm(diff, p, -1)

    return composite("CdistBackward0", decomposition, x1, x2)


def _euclidean_mm(a: Tensor, b: Tensor) -> Tensor:
    """|a|^2 + |b|^2 - 2 a.b by one matmul over padded rows, as PyTorch's ``_euclidean_dist``,
    clamped at 0; the gradient is 0 where the distance is 0 (``_euclidean_dist_backward``)."""
    from .creation import ones_like

    a_sq = sum(mul(a, a), -1, True)
    b_sq = sum(mul(b, b), -1, True)
    a_ = cat([mul(a, -2), a_sq, ones_like(a_sq)], -1)
    b_ = cat([b, ones_like(b_sq), b_sq], -1)
    d2 = matmul(a_, transpose(b_, -2, -1))
    return _sqrt0(where(gt(d2, 0), d2, 0.0))


NAMES = """
einsum tensordot addmm addmv addr baddbmm addbmm vdot ger kron matrix_power cross cdist
""".split()  # noqa: SIM905 - a word list reads best as words
METHODS = [n for n in NAMES if n not in ("einsum", "tensordot", "cdist")]
INPLACE = ["addmm", "addmv", "addr", "baddbmm", "addbmm"]
__all__ = [*NAMES, "linalg_cross", "mm", "mv"]
