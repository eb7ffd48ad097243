"""PyTorch's warning when the ``.grad`` of a non-leaf tensor is read (it stays None)."""

from __future__ import annotations

import warnings

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
# ``backward(inputs=...)``'s tensors, deepcopy), so only a user's read warns.
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
