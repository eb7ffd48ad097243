"""``Adadelta``: PyTorch's update formula (single-tensor form)."""

from __future__ import annotations

from typing import Any

import numpy as np

from adjit.optim._ops import (
    add_scaled_,
    addcmul_,
    addcmul_arrays_,
    added,
    axpy_,
    check_lr,
    check_nonnegative,
    decayed,
    scale_,
    zeros_state,
)
from adjit.optim.optimizer import Optimizer
from adjit.runtime.tensor import Tensor


class Adadelta(Optimizer):
    """Adadelta, update rule identical to ``torch.optim.Adadelta``."""

    _capturable_devices = "['cuda', 'xpu', 'hpu', 'privateuseone']"

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_nonnegative(eps=eps, weight_decay=weight_decay)
        defaults = dict(
            lr=lr,
            rho=rho,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            capturable=capturable,
            foreach=foreach,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        if not state:
            zeros_state(state, p, "square_avg", "acc_delta")

    def _update_arrays(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The eager step below on the arrays in place (Note [in-place updates] in sgd.py)."""
        rho, eps = group["rho"], group["eps"]
        axpy_(state["step"], np.ones((), state["step"]._data.dtype), 1)
        g = -grad._data if group["maximize"] else grad._data
        if group["weight_decay"] != 0:
            g = added(g, p._data, group["weight_decay"])
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        scale_(square_avg, rho)
        addcmul_arrays_(square_avg, g, g, 1 - rho)
        std = np.sqrt(square_avg._data + eps)
        delta = np.sqrt(acc_delta._data + eps)
        delta = np.multiply(np.divide(delta, std, out=delta), g, out=delta)
        scale_(acc_delta, rho)
        addcmul_arrays_(acc_delta, delta, delta, 1 - rho)
        axpy_(p, delta, -group["lr"])

    def _update_eager(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        rho, eps = group["rho"], group["eps"]
        state["step"].add_(1)
        grad = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            grad = decayed(grad, p, group["weight_decay"])
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        addcmul_(square_avg.mul_(rho), grad, grad, 1 - rho)
        std = square_avg.add(eps).sqrt_()
        delta = acc_delta.add(eps).sqrt_()
        if group["differentiable"]:
            delta = delta.clone()
        delta.div_(std).mul_(grad)
        addcmul_(acc_delta.mul_(rho), delta, delta, 1 - rho)
        add_scaled_(p, delta, -group["lr"])

    _update_traced = _update_eager  # reads no data (lr a tensor: Note [traced optimizer updates])
