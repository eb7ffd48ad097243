"""``Rprop``: resilient backpropagation, PyTorch's update formula (single-tensor form)."""

from __future__ import annotations

from typing import Any

import numpy as np

from adjit.optim._ops import addcmul_, addcmul_arrays_, axpy_, bump, check_lr, lr_value, zeros_state
from adjit.optim.optimizer import Optimizer
from adjit.runtime.creation import full_like
from adjit.runtime.functional import where
from adjit.runtime.tensor import Tensor


class Rprop(Optimizer):
    """Rprop, update rule identical to ``torch.optim.Rprop``."""

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(
            lr=lr,
            etas=etas,
            step_sizes=step_sizes,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        if not state:
            zeros_state(state, p, "prev")
            lr = lr_value(group["lr"])
            state["step_size"] = full_like(p.grad, complex(lr, lr) if p.is_complex() else lr)

    def _update_arrays(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The eager step below on the arrays in place (Note [in-place updates] in sgd.py)."""
        etaminus, etaplus = group["etas"]
        g = -grad._data if group["maximize"] else grad._data
        prev, step_size = state["prev"], state["step_size"]
        axpy_(state["step"], np.ones((), state["step"]._data.dtype), 1)
        sign = np.sign(g * prev._data)
        dtype = sign.dtype
        factor = np.where(
            sign > 0, dtype.type(etaplus), np.where(sign < 0, dtype.type(etaminus), 1)
        )
        factor = factor.astype(dtype, copy=False)
        np.multiply(step_size._data, factor, out=step_size._data)
        np.clip(step_size._data, *group["step_sizes"], out=step_size._data)
        bump(step_size)
        g = np.where(factor == dtype.type(etaminus), dtype.type(0), g)
        addcmul_arrays_(p, np.sign(g), step_size._data, -1)
        prev._data[...] = g
        bump(prev)

    def _update_eager(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        grad = -grad if group["maximize"] else grad
        prev, step_size = state["prev"], state["step_size"]
        state["step"].add_(1)
        sign = grad.mul(prev.clone() if group["differentiable"] else prev).sign()
        # the sign of grad * prev picks each element's step-size factor (in place, as PyTorch)
        sign[sign.gt(0)] = etaplus
        sign[sign.lt(0)] = etaminus
        sign[sign.eq(0)] = 1
        step_size.mul_(sign).clamp_(step_size_min, step_size_max)
        grad = grad.clone()
        grad[sign.eq(etaminus)] = 0  # a sign change skips this step's update
        addcmul_(p, grad.sign(), step_size, -1)
        prev.copy_(grad)

    def _update_traced(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The eager step with its masked writes as ``where`` (Note [traced optimizer
        updates]): a NaN sign keeps its NaN factor, as the eager masks leave it."""
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        grad = -grad if group["maximize"] else grad
        prev, step_size = state["prev"], state["step_size"]
        state["step"].add_(1)
        sign = grad.mul(prev).sign()
        factor = where(sign.eq(0), 1.0, sign)  # NaN stays NaN
        factor = where(sign.gt(0), etaplus, where(sign.lt(0), etaminus, factor))
        step_size.mul_(factor).clamp_(step_size_min, step_size_max)
        grad = where(factor.eq(etaminus), 0.0, grad)  # a sign change skips this step's update
        addcmul_(p, grad.sign(), step_size, -1)
        prev.copy_(grad)
