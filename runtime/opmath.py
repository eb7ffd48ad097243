"""Decompositions that PyTorch computes as one float32 kernel for float16/bfloat16 inputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..ir import dtypes as D
from .tensor import Tensor


# Note [opmath decompositions]: PyTorch's CPU kernels for softmax, log_softmax, logsumexp (and
# the other fused reductions) read float16/bfloat16, compute in float32 and round the result
# once. The same decomposition run op by op on float16 rounds after each op (softmax was off by
# up to 9 ulps of bfloat16); ``in_float32`` runs it on a float32 copy and rounds once, and its
# casts carry the gradient (in the input's dtype, as PyTorch's).
def in_float32(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """``fn(a, ...)`` computed in float32 and rounded once when ``a`` is float16/bfloat16."""

    def run(a: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        dt = a.dtype
        if not dt.is_reduced_float:
            return fn(a, *args, **kwargs)
        return fn(a.to(D.float32), *args, **kwargs).to(dt)

    return run
