"""``Adam`` and ``AdamW`` (decoupled weight decay), with amsgrad and maximize."""

from __future__ import annotations

from typing import Any

import numpy as np

from adjit.ir.dtypes import float64
from adjit.optim._ops import (
    addcdiv_,
    addcmul_,
    addcmul_arrays_,
    added,
    axpy_,
    bump,
    check_betas,
    check_fused,
    check_lr,
    check_nonnegative,
    decayed,
    lerp_,
    lerp_arrays_,
    scale_,
    scaled,
    zeros_state,
)
from adjit.optim.optimizer import Optimizer
from adjit.runtime import trace_state
from adjit.runtime.functional import maximum, pow
from adjit.runtime.tensor import Tensor


class Adam(Optimizer):
    """Adam, update rule identical to ``torch.optim.Adam``'s single-tensor path."""

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        if isinstance(lr, Tensor) and foreach and not capturable:
            raise ValueError(
                "lr as a Tensor is not supported for capturable=False and foreach=True"
            )
        check_lr(lr)
        check_nonnegative(eps=eps)
        check_betas(betas)
        check_nonnegative(weight_decay=weight_decay)
        if not (
            all(isinstance(b, float) for b in betas) or all(isinstance(b, Tensor) for b in betas)
        ):
            raise ValueError("betas must be either both floats or both Tensors")
        for i, beta in enumerate(betas):
            if isinstance(beta, Tensor):
                if not capturable and foreach:
                    raise ValueError(
                        f"betas[{i}] as a Tensor is not supported for capturable=False and "
                        "foreach=True"
                    )
                if beta.numel() != 1:
                    raise ValueError(f"Tensor betas[{i}] must be 1-element")
                raise NotImplementedError("Adam: betas given as Tensors are not supported yet")
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)
        check_fused(fused, foreach, differentiable)

    def _init_state(self, p: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        if not state:
            zeros_state(
                state,
                p,
                "exp_avg",
                "exp_avg_sq",
                *(("max_exp_avg_sq",) if group["amsgrad"] else ()),
                fused=group["fused"] or group["capturable"],
            )

    def _update_arrays(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The step on the arrays in place, with the eager ops' roundings (Note [in-place
        updates] in sgd.py)."""
        beta1, beta2 = group["betas"]
        lr, wd = group["lr"], group["weight_decay"]
        if _one_pass(p, grad, group, state):
            return
        g = -grad._data if group["maximize"] else grad._data
        axpy_(state["step"], np.ones((), np.float32), 1)
        if wd != 0:
            if group["decoupled_weight_decay"]:
                scale_(p, 1 - lr * wd)
            else:
                g = added(g, p._data, wd)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_arrays_(exp_avg, g, 1 - beta1)
        scale_(exp_avg_sq, beta2)
        addcmul_arrays_(exp_avg_sq, g, g, 1 - beta2)
        step = state["step"].item()
        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        second = exp_avg_sq
        if group["amsgrad"]:
            best = state["max_exp_avg_sq"]
            np.maximum(best._data, exp_avg_sq._data, out=best._data)
            best._version_box[0] += 1
            second = best
        denom = np.sqrt(second._data) / bias_correction2_sqrt + group["eps"]
        axpy_(p, scaled(exp_avg._data, -(lr / bias_correction1)) / denom, 1)  # addcdiv_

    def _update_eager(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The same update through eager ops (mixed dtypes, read-only parameters)."""
        beta1, beta2 = group["betas"]
        lr, wd = group["lr"], group["weight_decay"]
        grad = -grad if group["maximize"] else grad
        state["step"].add_(1)
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p.mul_(1 - lr * wd)
            else:
                grad = decayed(grad, p, wd)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, grad, 1 - beta1)
        addcmul_(exp_avg_sq.mul_(beta2), grad, grad, 1 - beta2)
        second = exp_avg_sq
        if group["amsgrad"]:
            best = state["max_exp_avg_sq"]
            best.copy_(maximum(best.clone() if group["differentiable"] else best, exp_avg_sq))
            second = best
        if group["differentiable"]:
            _differentiable_step(p, exp_avg, second, state["step"], group)
            return
        if trace_state.current() is not None:  # compiled: the step count is not known
            # 0-d float64 tensors round into the float32 ops as the Python floats below do
            step = state["step"].to(float64)
            bias_correction2_sqrt = (1 - pow(beta2, step)).sqrt()
            denom = (second.sqrt() / bias_correction2_sqrt).add_(group["eps"])
            p.add_(exp_avg * -(lr / (1 - pow(beta1, step))) / denom)
            return
        step = state["step"].item()
        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        denom = (second.sqrt() / bias_correction2_sqrt).add_(group["eps"])
        addcdiv_(p, exp_avg, denom, -(lr / bias_correction1))

    _update_traced = _update_eager  # reads no data when tracing (the branch above)


def _adam_update() -> Any:
    """codegen/adam_update.py, imported on first use (it imports llvmlite.ir)."""
    from adjit.codegen import adam_update

    return adam_update


def _one_pass(p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]) -> bool:
    """The step of ``_update_arrays`` as one compiled pass with the same bits (Note [one-pass
    Adam] in codegen/adam_update.py), when the arrays and settings allow; False: not taken."""
    beta1, beta2 = group["betas"]
    lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
    numbers = (beta1, beta2, lr, wd, eps)
    if group["maximize"] or group["amsgrad"] or (wd != 0 and not group["decoupled_weight_decay"]):
        return False
    if not all(isinstance(x, float | int) and not isinstance(x, bool) for x in numbers):
        return False
    arrays = (p._data, grad._data, state["exp_avg"]._data, state["exp_avg_sq"]._data)
    if not _adam_update().supported(*arrays):
        return False
    axpy_(state["step"], np.ones((), np.float32), 1)
    step = state["step"].item()
    _adam_update().adam_(
        *arrays,
        decay=1 - lr * wd if wd != 0 else None,
        w=1 - beta1,
        beta2=beta2,
        c2=1 - beta2,
        bc2=(1 - beta2**step) ** 0.5,
        eps=eps,
        step=-(lr / (1 - beta1**step)),
    )
    # the version counts of the passes it replaces: (decay and) add on p, lerp on exp_avg,
    # mul and add on exp_avg_sq
    bump(*([p] if wd != 0 else []), p, state["exp_avg"], state["exp_avg_sq"], state["exp_avg_sq"])
    return True


def _differentiable_step(
    p: Tensor, exp_avg: Tensor, second: Tensor, step: Tensor, group: dict[str, Any]
) -> None:
    """PyTorch's ``differentiable=True`` form: the bias corrections are 0-d tensors computed
    from the ``step`` tensor (so in its float32), folded into the denominator."""
    beta1, beta2 = group["betas"]
    step_size_neg = (group["lr"] / (1 - beta1**step)).neg()
    bias_correction2_sqrt = (1 - beta2**step).sqrt()
    denom = (second.sqrt() / (bias_correction2_sqrt * step_size_neg)).add_(
        group["eps"] / step_size_neg
    )
    addcdiv_(p, exp_avg.clone(), denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (``weight_decay`` defaults to 1e-2)."""

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )
