"""``prelu``: x where positive, else a learned slope times x (the function and Tensor.prelu)."""

from __future__ import annotations

from . import functional as R
from .autocast import autocast_op
from .dispatch import composite
from .kernel_dtypes import require_float
from .opmath import in_float32
from .tensor import Tensor


@autocast_op("prelu")
def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``x`` where positive, else ``weight * x`` with one weight or one per channel (dim 1)."""
    if weight.ndim > 1:
        raise RuntimeError(
            f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.ndim}"
        )
    if input.dtype is not weight.dtype:
        raise RuntimeError(
            "prelu: Type promoting not supported. Got "
            f"{input.dtype.type_name} and {weight.dtype.type_name}"
        )
    n = weight.numel()
    if n != 1:
        if input.ndim == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        channels = input.shape[1] if input.ndim >= 2 else 1
        if n != channels:
            raise RuntimeError(
                "Mismatch of parameter numbers and input channel size. Found parameter numbers "
                f"= {n} and channel size = {channels}."
            )
    require_float(input, "prelu_cpu")

    def decomposition(x: Tensor, w: Tensor) -> Tensor:
        if n != 1 and x.ndim >= 2:
            w = R.reshape(w, (n,) + (1,) * (x.ndim - 2))
        elif w.ndim:
            w = R.reshape(w, ())
        return R.where(x > 0, x, w * x)

    return composite("PreluKernelBackward0", in_float32(decomposition), input, weight)
