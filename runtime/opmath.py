"""Decompositions that PyTorch computes as one float32 kernel for float16/bfloat16 inputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..ir import dtypes as D
from .tensor import Tensor


# Note [opmath decompositions]: PyTorch's CPU kernels read float16/bfloat16, compute in float32
# (their "opmath" type) and round the result once: softmax, logsumexp, expm1, log2, logaddexp,
# addcdiv, cumsum, prod... A decomposition run op by op on float16 rounds after every op
# (softmax was 9 bfloat16 ulps off, logaddexp 11 float16 ulps). ``in_float32`` runs it on
# float32 copies of the float16/bfloat16 tensor operands and rounds a float32 result once to
# the dtype the operands promote to; the casts carry gradients (in the input's dtype, as
# PyTorch's). Only for decompositions whose float32 result means "the operands' dtype".
def in_float32(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """``fn(*args)`` computed in float32 and rounded once when a tensor operand is narrow."""

    def run(*args: Any, **kwargs: Any) -> Tensor:
        tensors = [a for a in args if isinstance(a, Tensor)]
        if not any(t.dtype.is_reduced_float for t in tensors):
            return fn(*args, **kwargs)
        from .dispatch import result_dtype

        target = result_dtype(*tensors)
        wide = [_wide(a) for a in args]
        out = fn(*wide, **kwargs)
        if target.is_reduced_float and isinstance(out, Tensor) and out.dtype is D.float32:
            return out.to(target)
        return out

    return run


def _wide(a: Any) -> Any:
    return a.to(D.float32) if isinstance(a, Tensor) and a.dtype.is_reduced_float else a
