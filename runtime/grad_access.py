"""``Tensor.grad``'s checks: the warning for a non-leaf's unpopulated ``.grad`` and what may be
assigned to it, as PyTorch's."""

from __future__ import annotations

import warnings
from typing import Any

from ..ir.shapes import C_NAMES

# Note [non-leaf .grad]
# ~~~~~~~~~~~~~~~~~~~~~
# PyTorch's TensorBase::grad() warns (TORCH_WARN, at every read) when a tensor that is not a
# leaf, does not retain its gradient and has no ``.grad`` has its ``.grad`` read: such a
# ``.grad`` is never populated by backward(), so the read is almost always a mistake. It warns
# whatever the grad mode, for ``getattr``/``hasattr`` too, and not for leaves (tensors that do
# not require grad included), retain_grad() tensors, or a non-leaf whose ``.grad`` was set
# (``backward(inputs=[y])``, an assignment). The warning points at the line that read it
# (C++ warnings name the innermost Python frame). PyTorch's message ends with "(Triggered
# internally at <its C++ file>)", which adjit leaves out, as for its other C++ warnings.
# adjit's own code reads ``_grad`` where the tensor may be a non-leaf (accumulating into
# ``backward(inputs=...)``'s tensors, deepcopy), so only a user's read warns. Assignments are
# checked as PyTorch's setter checks them (check_assigned_grad); the engine's accumulation
# writes ``_grad`` directly, as PyTorch's AccumulateGrad bypasses the Python setter (a dense
# gradient may become a sparse leaf's ``.grad``).
NON_LEAF_GRAD = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
    "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
    "instead. See github.com/pytorch/pytorch/pull/30531 for more information."
)


def warn_non_leaf_grad() -> None:
    """Warn at the line that read ``.grad`` (this function's caller is the property)."""
    warnings.warn(NON_LEAF_GRAD, UserWarning, stacklevel=3)


_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class defined in Python (tp_name has no module)


def check_assigned_grad(t: Any, value: Any) -> None:
    """PyTorch's checks of ``t.grad = value`` (THPVariable_set_grad): a tensor (or None) of
    ``t``'s grad_dtype (its dtype unless set), size and a dense or COO layout. Values of a
    traced function are not checked (their shapes may be symbolic)."""
    if value is None:
        return
    if not hasattr(value, "_is_tracer"):  # (not a Tensor; runtime.tensor imports this module)
        cls = type(value)
        name = cls.__name__ if cls.__flags__ & _HEAPTYPE else f"{cls.__module__}.{cls.__name__}"
        name = cls.__name__ if cls.__module__ == "builtins" else name
        raise TypeError(
            f"assigned grad expected to be a Tensor or None but got grad of type {name}"
        )
    if value._is_tracer or t._is_tracer:
        return
    if value.layout is not t.layout and not value.is_sparse:
        raise RuntimeError(
            "attempting to assign a gradient to a tensor that has data of a different type"
        )
    expected = getattr(t, "_grad_dtype", t.dtype)
    if expected is not None and value.dtype is not expected:
        raise RuntimeError(
            f"attempting to assign a gradient with dtype '{C_NAMES[value.dtype.name]}' to a "
            f"tensor with grad_dtype '{expected.type_name}'. The gradient must match the "
            "tensor's grad_dtype (defaults to the tensor's dtype). You can set the tensor's "
            "grad_dtype attribute with a specific dtype, or None to allow any dtype. Set "
            "grad_dtype with caution. Diverging the dtypes of a tensor and its gradient may "
            "break downstream systems that assume they match."
        )
    if tuple(value.shape) != tuple(t.shape):
        raise RuntimeError(
            f"attempting to assign a gradient of size '{list(value.shape)}' to a tensor of size "
            f"'{list(t.shape)}'. Please ensure that the gradient and the tensor are the same size"
        )
