"""``SGD`` with momentum, dampening, Nesterov, weight decay and maximize (PyTorch's formulas)."""

from __future__ import annotations

from typing import Any

import numpy as np

from adjit.optim._ops import axpy_, scaled
from adjit.optim.optimizer import Optimizer
from adjit.runtime.tensor import Tensor


class SGD(Optimizer):
    """Stochastic gradient descent, update rule identical to ``torch.optim.SGD``."""

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

    def _update_arrays(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        # Note [in-place updates]: the step works on the arrays in place, with the same
        # roundings as the eager ops it stands for (each ``alpha`` rounded to the parameter's
        # dtype, then one multiply and one add), so it allocates nothing per step for the
        # parameter itself (fresh large arrays cost page faults) and skips the eager dispatch.
        # Optimizer._update falls back to _update_eager for mixed dtypes or read-only arrays.
        g = -grad._data if group["maximize"] else grad._data
        if group["weight_decay"] != 0:
            g = g + scaled(p._data, group["weight_decay"])
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = Tensor._make(np.array(g, copy=True))
            else:
                np.multiply(buf._data, momentum, out=buf._data)
                axpy_(buf, g, 1 - group["dampening"])
            g = g + scaled(buf._data, momentum) if group["nesterov"] else buf._data
        axpy_(p, g, -group["lr"])

    def _update_eager(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The same update through eager ops (mixed dtypes, read-only parameters)."""
        grad = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            grad = grad.add(p, alpha=group["weight_decay"])
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.detach().clone()
            else:
                buf.mul_(momentum).add_(grad, alpha=1 - group["dampening"])
            grad = grad.add(buf, alpha=momentum) if group["nesterov"] else buf
        p.add_(grad, alpha=-group["lr"])
