"""``ASGD``: averaged stochastic gradient descent, PyTorch's update formula."""

from __future__ import annotations

from typing import Any

import numpy as np

from adjit.ir.dtypes import get_default_dtype
from adjit.optim._ops import (
    add_scaled_,
    add_zeros,
    addcmul_,
    added,
    axpy_,
    bump,
    check_lr,
    check_nonnegative,
    decayed,
    in_dtype_of,
    lr_value,
    scalar,
    scalar_dtype,
    scale_,
    step_count,
    zeros_state,
)
from adjit.optim.optimizer import Optimizer
from adjit.runtime.creation import as_tensor
from adjit.runtime.functional import clamp, where
from adjit.runtime.tensor import Tensor


class ASGD(Optimizer):
    """ASGD, update rule identical to ``torch.optim.ASGD`` (``eta`` and ``mu`` are 0-d state
    scalars in PyTorch's scalar dtype, rounded there each step as PyTorch's are)."""

    _capturable_what = "params, mus, etas, and state_steps"
    _scalar_state = ("step", "eta", "mu")

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        check_lr(lr)
        check_nonnegative(weight_decay=weight_decay)
        defaults = dict(
            lr=lr,
            lambd=lambd,
            alpha=alpha,
            t0=t0,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        if not state:
            zeros_state(state, p)
            state["eta"] = scalar(lr_value(group["lr"]))
            state["mu"] = scalar(1.0)
            add_zeros(state, p, "ax")

    def _update_arrays(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The single-tensor step on the arrays in place (the foreach form stays eager)."""
        if group["foreach"]:
            self._update_eager(p, grad, group, state)
            return
        lr, lambd = group["lr"], group["lambd"]
        eta, mu, ax = state["eta"], state["mu"], state["ax"]
        g = -grad._data if group["maximize"] else grad._data
        axpy_(state["step"], np.ones((), state["step"]._data.dtype), 1)
        if group["weight_decay"] != 0:
            g = added(g, p._data, group["weight_decay"])
        eta_value = eta.item()
        scale_(p, 1 - lambd * eta_value)
        axpy_(p, g, -eta_value)
        if mu.item() != 1:
            axpy_(ax, (p._data - ax._data) * mu._data, 1)
        else:
            ax._data[...] = p._data
            bump(ax)
        step = state["step"].item()
        default = scalar_dtype()  # torch.as_tensor of a float: the default dtype
        eta._data[...] = np.asarray(lr / ((1 + lambd * lr * step) ** group["alpha"]), default)
        mu._data[...] = np.asarray(1 / max(1, step - group["t0"]), default)
        bump(eta, mu)

    def _update_eager(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        grad = -grad if group["maximize"] else grad
        state["step"].add_(1)
        (_foreach_step if group["foreach"] else _single_step)(p, grad, group, state)

    def _update_traced(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The eager step with ``eta``, ``mu`` and the step count read as tensors (Note
        [traced optimizer updates])."""
        grad = -grad if group["maximize"] else grad
        state["step"].add_(1)
        (_traced_foreach_step if group["foreach"] else _traced_single_step)(p, grad, group, state)


def _single_step(p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
    """PyTorch's single-tensor ASGD: decay, step, then average (``ax`` copies ``p`` while
    ``mu`` is 1); ``eta`` and ``mu`` are recomputed in Python floats and stored through a
    default-dtype tensor (``torch.as_tensor``), rounded there even when loading made them
    float64."""
    lr, lambd = group["lr"], group["lambd"]
    eta, mu, ax = state["eta"], state["mu"], state["ax"]
    if group["weight_decay"] != 0:
        grad = decayed(grad, p, group["weight_decay"])
    eta_value = eta.item()
    p.mul_(1 - lambd * eta_value)  # decay term
    p.add_(grad, alpha=-eta_value)
    if mu.item() != 1:
        ax.add_(p.sub(ax).mul_(mu))
    else:
        ax.copy_(p)
    step = state["step"].item()
    eta.copy_(as_tensor(lr / ((1 + lambd * lr * step) ** group["alpha"])))
    mu.copy_(as_tensor(1 / max(1, step - group["t0"])))


def _foreach_step(p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
    """PyTorch's foreach ASGD (``foreach=True``, also on CPU), a different rounding of the same
    update: ``p -= (grad + lambd * p) * eta``, ``ax`` always averaged, and ``eta`` computed
    from the 0-d ``step`` tensor, so in the scalar dtype."""
    lr, lambd = group["lr"], group["lambd"]
    eta, mu, ax = state["eta"], state["mu"], state["ax"]
    if group["weight_decay"] != 0:
        grad = decayed(grad, p, group["weight_decay"])
    addcmul_(p, decayed(grad, p, lambd), eta, -1)
    addcmul_(ax, p.sub(ax), mu)
    step = state["step"]
    eta.copy_(lr / ((1 + lambd * lr * step) ** group["alpha"]))
    mu.copy_(as_tensor(1 / max(1, step.item() - group["t0"])))


def _next_mu(state: dict[str, Any], group: dict[str, Any]) -> None:
    """``mu = 1 / max(1, step - t0)``, stored through a default-dtype tensor (traced)."""
    step = step_count(state)
    state["mu"].copy_((1 / clamp(step - group["t0"], min=1)).to(get_default_dtype()))


def _traced_single_step(
    p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
) -> None:
    """:func:`_single_step` in tensor ops: ``eta``'s value in float64 as ``eta.item()``, the
    average chosen by ``where``."""
    lr, lambd = group["lr"], group["lambd"]
    eta, mu, ax = state["eta"], state["mu"], state["ax"]
    if group["weight_decay"] != 0:
        grad = decayed(grad, p, group["weight_decay"])
    eta_value = eta.to(step_count(state).dtype)
    p.mul_(1 - lambd * eta_value)
    add_scaled_(p, grad, -eta_value)
    ax.copy_(where(mu != 1, ax + p.sub(ax).mul_(mu), p))
    step = step_count(state).to(lr.dtype)  # (a user's float32 lr: eager computes in float32)
    eta.copy_((lr / ((1 + lambd * lr * step) ** group["alpha"])).to(get_default_dtype()))
    _next_mu(state, group)


def _traced_foreach_step(
    p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
) -> None:
    """:func:`_foreach_step` in tensor ops: ``eta`` computed in the ``step`` tensor's dtype,
    with the learning rate rounded there as eager's Python float is."""
    lr, lambd = group["lr"], group["lambd"]
    eta, mu, ax = state["eta"], state["mu"], state["ax"]
    if group["weight_decay"] != 0:
        grad = decayed(grad, p, group["weight_decay"])
    addcmul_(p, decayed(grad, p, lambd), eta, -1)
    addcmul_(ax, p.sub(ax), mu)
    step = state["step"]
    base = (1 + in_dtype_of(lambd * lr, step) * step) ** group["alpha"]
    eta.copy_(base.reciprocal() * in_dtype_of(lr, step))  # ``lr / tensor`` as eager's
    _next_mu(state, group)
