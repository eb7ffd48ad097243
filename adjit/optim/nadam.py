"""``NAdam``: Adam with Nesterov momentum, PyTorch's update formula (single-tensor form)."""

from __future__ import annotations

from typing import Any

import numpy as np

from adjit.optim._ops import (
    add_zeros,
    addcdiv_,
    addcdiv_arrays_,
    addcmul_,
    addcmul_arrays_,
    added,
    axpy_,
    check_betas,
    check_lr,
    check_nonnegative,
    decayed,
    in_dtype_of,
    lerp_,
    lerp_arrays_,
    scalar,
    scale_,
    step_count,
    zeros_state,
)
from adjit.optim.optimizer import Optimizer
from adjit.runtime.functional import pow
from adjit.runtime.tensor import Tensor


class NAdam(Optimizer):
    """NAdam, update rule identical to ``torch.optim.NAdam`` (``mu_product`` is a 0-d state
    scalar in PyTorch's scalar dtype, so its products round as PyTorch's do)."""

    _capturable_what = "params, mu_products and state_steps"
    _scalar_state = ("step", "mu_product")

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
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
        check_nonnegative(weight_decay=weight_decay, momentum_decay=momentum_decay)
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        if not state:
            zeros_state(state, p)
            state["mu_product"] = scalar(1.0)
            add_zeros(state, p, "exp_avg", "exp_avg_sq")

    def _update_arrays(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The eager step below on the arrays in place (Note [in-place updates] in sgd.py)."""
        beta1, beta2 = group["betas"]
        lr, wd, decay = group["lr"], group["weight_decay"], group["momentum_decay"]
        g = -grad._data if group["maximize"] else grad._data
        axpy_(state["step"], np.ones((), state["step"]._data.dtype), 1)
        step = state["step"].item()
        bias_correction2 = 1 - beta2**step
        if wd != 0:
            if group["decoupled_weight_decay"]:
                scale_(p, 1 - lr * wd)
            else:
                g = added(g, p._data, wd)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * decay)))
        scale_(state["mu_product"], mu)
        product = state["mu_product"].item()
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_arrays_(exp_avg, g, 1 - beta1)
        scale_(exp_avg_sq, beta2)
        addcmul_arrays_(exp_avg_sq, g, g, 1 - beta2)
        denom = np.sqrt(exp_avg_sq._data / bias_correction2) + group["eps"]
        addcdiv_arrays_(p, g, denom, -lr * (1.0 - mu) / (1.0 - product))
        addcdiv_arrays_(p, exp_avg._data, denom, (-lr * mu_next) / (1.0 - product * mu_next))

    def _update_eager(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        beta1, beta2 = group["betas"]
        lr, wd, decay = group["lr"], group["weight_decay"], group["momentum_decay"]
        grad = -grad if group["maximize"] else grad
        state["step"].add_(1)
        step = state["step"].item()
        bias_correction2 = 1 - beta2**step
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p.mul_(1 - lr * wd)
            else:
                grad = decayed(grad, p, wd)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * decay)))
        mu_product = state["mu_product"].mul_(mu)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, grad, 1 - beta1)
        addcmul_(exp_avg_sq.mul_(beta2), grad, grad, 1 - beta2)
        denom = exp_avg_sq.div(bias_correction2).sqrt()
        if group["differentiable"]:  # the coefficients stay 0-d tensors (mu_product's dtype)
            denom = denom.add(group["eps"])
            mu_product_next = mu_product * mu_next
            addcdiv_(p, grad * (-lr * (1.0 - mu) / (1.0 - mu_product)), denom)
            addcdiv_(p, exp_avg * (-lr * mu_next / (1.0 - mu_product_next)), denom)
            return
        denom.add_(group["eps"])
        product = mu_product.item()
        addcdiv_(p, grad, denom, -lr * (1.0 - mu) / (1.0 - product))
        addcdiv_(p, exp_avg, denom, (-lr * mu_next) / (1.0 - product * mu_next))

    def _update_traced(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The eager step with the step-count formulas as 0-d float64 tensors (Note [traced
        optimizer updates])."""
        beta1, beta2 = group["betas"]
        lr, wd, decay = group["lr"], group["weight_decay"], group["momentum_decay"]
        grad = -grad if group["maximize"] else grad
        state["step"].add_(1)
        step = step_count(state)
        bias_correction2 = 1 - pow(beta2, step)
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p.mul_(1 - lr * wd)
            else:
                grad = decayed(grad, p, wd)
        mu = beta1 * (1.0 - 0.5 * pow(0.96, step * decay))
        mu_next = beta1 * (1.0 - 0.5 * pow(0.96, (step + 1) * decay))
        mu_product = state["mu_product"]
        mu_product.mul_(in_dtype_of(mu, mu_product))
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, grad, 1 - beta1)
        addcmul_(exp_avg_sq.mul_(beta2), grad, grad, 1 - beta2)
        denom = exp_avg_sq.div(bias_correction2).sqrt().add_(group["eps"])
        product = mu_product.to(step.dtype)
        # (a no-op cast for the run-time learning rate; a user's float32 tensor learning
        # rate meets eager's Python floats in float32)
        c1, c2 = in_dtype_of(1.0 - mu, lr), in_dtype_of(1.0 - product, lr)
        addcdiv_(p, grad, denom, -lr * c1 / c2)
        c3, c4 = in_dtype_of(mu_next, lr), in_dtype_of(1.0 - product * mu_next, lr)
        addcdiv_(p, exp_avg, denom, (-lr * c3) / c4)
