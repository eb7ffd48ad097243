"""torch.layout and its objects: adjit's tensors are all dense (``torch.strided``)."""

from __future__ import annotations

from typing import Any

# the backend PyTorch names when an op cannot run on a layout (its dispatch key on the CPU)
_BACKENDS = {
    "sparse_coo": "SparseCPU",
    "sparse_csr": "SparseCsrCPU",
    "sparse_csc": "SparseCsrCPU",
    "sparse_bsr": "SparseCsrCPU",
    "sparse_bsc": "SparseCsrCPU",
    "_mkldnn": "MkldnnCPU",
}


class layout:  # noqa: N801 - PyTorch's name
    """A memory layout; ``torch.layout()`` cannot be called, as in PyTorch."""

    __slots__ = ("_name",)

    def __new__(cls, *args: Any, **kwargs: Any) -> layout:
        raise TypeError("cannot create 'torch.layout' instances")

    @classmethod
    def _named(cls, name: str) -> layout:
        obj = object.__new__(cls)
        object.__setattr__(obj, "_name", name)
        return obj

    def __repr__(self) -> str:
        return f"torch.{self._name}"

    def __reduce__(self) -> str:
        return self._name  # pickles as the module attribute of that name


strided = layout._named("strided")
sparse_coo = layout._named("sparse_coo")
sparse_csr = layout._named("sparse_csr")
sparse_csc = layout._named("sparse_csc")
sparse_bsr = layout._named("sparse_bsr")
sparse_bsc = layout._named("sparse_bsc")
_mkldnn = layout._named("_mkldnn")
jagged = layout._named("jagged")


def check_layout(value: Any, op: str) -> None:
    """A factory's ``layout=``: None or strided (``jagged``: strided, as PyTorch's dense
    factories give); another layout is refused as PyTorch refuses an op its backend lacks."""
    if value is None or value is strided or value is jagged:
        return
    if not isinstance(value, layout):
        raise TypeError(
            f"{op}(): argument 'layout' must be torch.layout, not {type(value).__name__}"
        )
    raise NotImplementedError(
        f"Could not run 'aten::{op}' with arguments from the '{_BACKENDS[value._name]}' backend. "
        f"adjit's tensors are dense: only layout=torch.strided is supported."
    )


# ---- physical layouts of dense tensors ------------------------------------------------------
def _should_swap(shape: tuple[int, ...], strides: tuple[int, ...], a: int, b: int) -> int:
    """PyTorch's comparison of two dims for the dim order (torch._prims_common's)."""

    def ge(x: int, y: int) -> bool:
        return True if y == 0 else False if x == 0 else x >= y or x % y == 0

    sa, sb = strides[a], strides[b]
    if sa == 0 or sb == 0:
        return 0
    if sa == sb:
        return 0 if ge(shape[b], shape[a]) else 1
    if ge(sb, sa):
        return -1
    return 1 if ge(sa, sb) else 0


def _perm(
    shape: tuple[int, ...], strides: tuple[int, ...], contiguous: bool, last: bool
) -> tuple[list[int], bool]:
    """(the dim order, whether the general path found it ambiguous), as PyTorch computes them."""
    ndim = len(shape)
    if ndim <= 1 or (contiguous and not last):
        return list(range(ndim)), False
    if last and not contiguous:
        return [0, *range(2, ndim), 1], False
    perm = list(reversed(range(ndim)))
    for i in range(1, ndim):  # insertion sort, back to front (PyTorch's)
        dim1 = i
        for dim0 in reversed(range(i)):
            c = _should_swap(shape, strides, perm[dim0], perm[dim1])
            if c > 0:
                perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
                dim1 = dim0
            elif c < 0:
                break
    ambiguous = any(
        _should_swap(shape, strides, perm[i], perm[i + 1]) != -1 for i in range(ndim - 1)
    )
    return list(reversed(perm)), ambiguous


_AMBIGUOUS = (
    "The tensor does not have unique dim order, or cannot map to exact one of the given memory "
    "formats."
)
_BAD_CHECK = "The ambiguity_check argument must be a bool or a list of memory formats."


def dim_order(x: Any, *, ambiguity_check: Any = False) -> tuple[int, ...]:
    """The dims from outermost to innermost in memory (PyTorch's ``Tensor.dim_order``)."""
    from .device import channels_last, contiguous_format, is_contiguous, memory_format

    formats_ok = isinstance(ambiguity_check, list) and all(
        isinstance(f, memory_format) for f in ambiguity_check
    )
    if not isinstance(ambiguity_check, bool) and not formats_ok:
        raise TypeError(_BAD_CHECK)
    shape, strides = tuple(x.shape), tuple(x.stride())
    formats = ambiguity_check if isinstance(ambiguity_check, list) else []
    check = ambiguity_check if isinstance(ambiguity_check, bool) else True
    pairs = zip(strides, strides[1:], strict=False)
    several = any(a == b for a, b in pairs) or any(n == 1 for n in shape)
    unique_format = sum(bool(is_contiguous(x, f)) for f in formats) == 1
    if check and several and not unique_format:
        raise RuntimeError(_AMBIGUOUS)
    last = len(shape) == 4 and bool(is_contiguous(x, channels_last))
    perm, ambiguous = _perm(shape, strides, bool(is_contiguous(x, contiguous_format)), last)
    if check and ambiguous:
        raise RuntimeError("The tensor does not have unique dim order.")
    return tuple(perm)


def empty_permuted(
    size: Any,
    physical_layout: Any,
    *,
    dtype: Any = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Any:
    """A zero-filled tensor of ``size`` whose dims lie in memory in ``physical_layout`` order
    (outermost first), as ``empty(size[physical_layout]).permute(inverse)``."""
    import numpy as np

    from ..ir import dtypes as D
    from .device import check
    from .tensor import Tensor

    check_layout(layout, "empty_permuted")
    check(device)
    size, order = tuple(int(n) for n in size), tuple(int(d) for d in physical_layout)
    if len(size) != len(order):
        raise RuntimeError(
            "Number of dimensions in size does not match the length of the physical_layout; "
            f"i.e. len(size) = {len(size)} is not equal to len(physical_layout) = {len(order)}"
        )
    if sorted(order) != list(range(len(size))):
        raise RuntimeError("Duplicate dim not allowed")
    dt = dtype or D.get_default_dtype()
    data = np.zeros(tuple(size[d] for d in order), dt.np).transpose(np.argsort(order))
    out = Tensor._make(data)
    return out.requires_grad_() if requires_grad else out
