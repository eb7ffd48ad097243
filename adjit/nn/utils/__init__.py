"""``adjit.nn.utils``: gradient clipping, flattening parameters into one vector; ``rnn`` packing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from adjit.runtime import functional as R
from adjit.runtime.checks import check
from adjit.runtime.grad_mode import no_grad
from adjit.runtime.tensor import Tensor


def _as_list(parameters: Any) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def get_total_norm(
    tensors: Any, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach: Any = None
) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` together (as if concatenated)."""
    ts = _as_list(tensors)
    if not ts:
        return Tensor._make(np.asarray(0.0, np.float32))
    norm_type = float(norm_type)
    with no_grad():
        if norm_type == float("inf"):
            norms = [R.amax(R.abs(t)) for t in ts]
            total = R.amax(R.stack(norms)) if len(norms) > 1 else norms[0]
        else:
            norms = [R.pow(R.sum(R.pow(R.abs(t), norm_type)), 1.0 / norm_type) for t in ts]
            total = R.pow(R.sum(R.pow(R.stack(norms), norm_type)), 1.0 / norm_type)
    if error_if_nonfinite:  # checked when it runs, if traced (Note [run-time checks])
        message = (
            f"The total norm of order {norm_type} for gradients from `parameters` "
            "is non-finite, so it cannot be clipped. To disable this error and "
            "scale the gradients by the non-finite norm anyway, set "
            "`error_if_nonfinite=False`"
        )
        total = check(total, R.isfinite(total), RuntimeError, message)
    return total


def clip_grad_norm_(
    parameters: Any,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: Any = None,
) -> Tensor:
    """Scale all gradients in place so their joint norm is at most ``max_norm``; return the norm."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_coef = float(max_norm) / (total + 1e-6)
    with no_grad():
        coef = R.clamp(clip_coef, max=1.0)
        for g in grads:
            g.mul_(coef.to(g.dtype))
    return total


def clip_grad_value_(parameters: Any, clip_value: float, foreach: Any = None) -> None:
    with no_grad():
        for p in _as_list(parameters):
            if p.grad is not None:
                p.grad.clamp_(-float(clip_value), float(clip_value))


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    return R.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    offset = 0
    with no_grad():
        for p in parameters:
            n = p.numel()
            p.copy_(vec[offset : offset + n].reshape(tuple(p.shape)))
            offset += n


from adjit.nn.utils import rnn as rnn  # noqa: E402  (torch.nn.utils.rnn)
