"""``RAdam``: rectified Adam, PyTorch's update formula (single-tensor form)."""

from __future__ import annotations

from typing import Any

import numpy as np

from adjit.optim._ops import (
    addcmul_,
    addcmul_arrays_,
    added,
    axpy_,
    check_betas,
    check_lr,
    check_nonnegative,
    decayed,
    lerp_,
    lerp_arrays_,
    scale_,
    scaled,
    step_count,
    zeros_state,
)
from adjit.optim.optimizer import Optimizer
from adjit.runtime.functional import pow, where
from adjit.runtime.tensor import Tensor


class RAdam(Optimizer):
    """RAdam, update rule identical to ``torch.optim.RAdam``."""

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
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
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            decoupled_weight_decay=decoupled_weight_decay,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        if not state:
            zeros_state(state, p, "exp_avg", "exp_avg_sq")

    def _update_arrays(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The eager step below on the arrays in place (Note [in-place updates] in sgd.py)."""
        beta1, beta2 = group["betas"]
        lr, wd = group["lr"], group["weight_decay"]
        g = -grad._data if group["maximize"] else grad._data
        axpy_(state["step"], np.ones((), state["step"]._data.dtype), 1)
        step = state["step"].item()
        if wd != 0:
            if group["decoupled_weight_decay"]:
                scale_(p, 1 - lr * wd)
            else:
                g = added(g, p._data, wd)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_arrays_(exp_avg, g, 1 - beta1)
        scale_(exp_avg_sq, beta2)
        addcmul_arrays_(exp_avg_sq, g, g, 1 - beta2)
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        update = scaled(exp_avg._data / bias_correction1, lr)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        if rho_t > 5.0:
            rect = (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5
            # ``scalar / tensor`` is ``reciprocal(tensor) * scalar``, as in PyTorch
            adaptive_lr = np.reciprocal(np.sqrt(exp_avg_sq._data) + group["eps"])
            update = scaled(update * scaled(adaptive_lr, bias_correction2**0.5), rect)
        axpy_(p, update, -1.0)

    def _update_eager(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        beta1, beta2 = group["betas"]
        lr, wd = group["lr"], group["weight_decay"]
        grad = -grad if group["maximize"] else grad
        state["step"].add_(1)
        step = state["step"].item()
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p.mul_(1 - lr * wd)
            else:
                grad = decayed(grad, p, wd)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, grad, 1 - beta1)
        addcmul_(exp_avg_sq.mul_(beta2), grad, grad, 1 - beta2)
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        bias_corrected_exp_avg = exp_avg / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        if rho_t > 5.0:  # the variance is tractable: rectified adaptive step
            rect = (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5
            sqrt = exp_avg_sq.sqrt()
            sqrt = sqrt.add(group["eps"]) if group["differentiable"] else sqrt.add_(group["eps"])
            adaptive_lr = (bias_correction2**0.5) / sqrt
            p.add_(bias_corrected_exp_avg * lr * adaptive_lr * rect, alpha=-1.0)
        else:
            p.add_(bias_corrected_exp_avg * lr, alpha=-1.0)

    def _update_traced(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The eager step with the step-count formulas as 0-d float64 tensors and the
        rectification chosen by ``where`` (Note [traced optimizer updates])."""
        beta1, beta2 = group["betas"]
        lr, wd = group["lr"], group["weight_decay"]
        grad = -grad if group["maximize"] else grad
        state["step"].add_(1)
        step = step_count(state)
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p.mul_(1 - lr * wd)
            else:
                grad = decayed(grad, p, wd)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, grad, 1 - beta1)
        addcmul_(exp_avg_sq.mul_(beta2), grad, grad, 1 - beta2)
        bias_correction1 = 1 - pow(beta1, step)
        bias_correction2 = 1 - pow(beta2, step)
        bias_corrected_exp_avg = exp_avg / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * pow(beta2, step) / bias_correction2
        ratio = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
        rect = ratio**0.5
        # eager's ``(bias_correction2**0.5) / sqrt`` is ``reciprocal(sqrt) * scalar``
        adaptive_lr = exp_avg_sq.sqrt().add_(group["eps"]).reciprocal() * bias_correction2**0.5
        plain = bias_corrected_exp_avg * lr
        update = where(rho_t > 5.0, plain * adaptive_lr * rect, plain)  # NaN rect when <= 5
        p.add_(update, alpha=-1.0)
