"""``Adamax``: Adam with the infinity norm, PyTorch's update formula (single-tensor form)."""

from __future__ import annotations

from typing import Any

import numpy as np

from adjit.optim._ops import (
    addcdiv_,
    addcdiv_arrays_,
    added,
    axpy_,
    check_betas,
    check_lr,
    check_nonnegative,
    decayed,
    in_dtype_of,
    lerp_,
    lerp_arrays_,
    scale_,
    step_count,
    zeros_state,
)
from adjit.optim.optimizer import Optimizer
from adjit.runtime.functional import amax, cat, maximum, pow
from adjit.runtime.tensor import Tensor


class Adamax(Optimizer):
    """Adamax, update rule identical to ``torch.optim.Adamax``."""

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        check_lr(lr)
        check_nonnegative(eps=eps)
        check_betas(betas)
        check_nonnegative(weight_decay=weight_decay)
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        if not state:
            zeros_state(state, p, "exp_avg", "exp_inf")

    def _update_arrays(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The eager step below on the arrays in place (Note [in-place updates] in sgd.py)."""
        beta1, beta2 = group["betas"]
        g = -grad._data if group["maximize"] else grad._data
        axpy_(state["step"], np.ones((), state["step"]._data.dtype), 1)
        if group["weight_decay"] != 0:
            g = added(g, p._data, group["weight_decay"])
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        lerp_arrays_(exp_avg, g, 1 - beta1)
        scale_(exp_inf, beta2)
        np.maximum(exp_inf._data, np.abs(g) + group["eps"], out=exp_inf._data)
        clr = group["lr"] / (1 - beta1 ** state["step"].item())
        addcdiv_arrays_(p, exp_avg._data, exp_inf._data, -clr)

    def _update_eager(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        beta1, beta2 = group["betas"]
        grad = -grad if group["maximize"] else grad
        state["step"].add_(1)
        if group["weight_decay"] != 0:
            grad = decayed(grad, p, group["weight_decay"])
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        lerp_(exp_avg, grad, 1 - beta1)
        if group["differentiable"]:  # PyTorch's graph: amax over the two stacked candidates
            norm_buf = cat(
                [exp_inf.mul_(beta2).unsqueeze(0), grad.abs().add_(group["eps"]).unsqueeze_(0)], 0
            )
            exp_inf.copy_(amax(norm_buf, 0, keepdim=False))
        else:
            exp_inf.copy_(maximum(exp_inf.mul_(beta2), grad.abs().add_(group["eps"])))
        bias_correction = 1 - beta1 ** state["step"].item()
        clr = group["lr"] / bias_correction
        addcdiv_(p, exp_avg, exp_inf, -clr)

    def _update_traced(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The eager step with the step count as a tensor (Note [traced optimizer updates])."""
        beta1, beta2 = group["betas"]
        grad = -grad if group["maximize"] else grad
        state["step"].add_(1)
        if group["weight_decay"] != 0:
            grad = decayed(grad, p, group["weight_decay"])
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        lerp_(exp_avg, grad, 1 - beta1)
        exp_inf.copy_(maximum(exp_inf.mul_(beta2), grad.abs().add_(group["eps"])))
        lr = group["lr"]
        clr = lr / in_dtype_of(1 - pow(beta1, step_count(state)), lr)
        addcdiv_(p, exp_avg, exp_inf, -clr)
