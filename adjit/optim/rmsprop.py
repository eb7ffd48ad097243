"""``RMSprop`` (with centering and momentum) and ``Adagrad``: PyTorch's update formulas."""

from __future__ import annotations

from typing import Any

import numpy as np

from adjit.optim._ops import (
    add_scaled_,
    addcdiv_,
    addcdiv_arrays_,
    addcmul_,
    addcmul_arrays_,
    added,
    axpy_,
    check_fused,
    check_lr,
    decayed,
    in_dtype_of,
    lerp_,
    lerp_arrays_,
    scale_,
    step_count,
    zeros_state,
)
from adjit.optim.optimizer import Optimizer
from adjit.runtime.tensor import Tensor


class RMSprop(Optimizer):
    """RMSprop, update rule identical to ``torch.optim.RMSprop``."""

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_lr(lr)
        for name, value in (
            ("epsilon value", eps),
            ("momentum value", momentum),
            ("weight_decay value", weight_decay),
            ("alpha value", alpha),
        ):
            if not value >= 0.0:  # NaN fails too, as in PyTorch
                raise ValueError(f"Invalid {name}: {value}")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            capturable=capturable,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        if not state:
            zeros_state(
                state,
                p,
                "square_avg",
                *(("momentum_buffer",) if group["momentum"] > 0 else ()),
                *(("grad_avg",) if group["centered"] else ()),
            )

    def _update_arrays(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The eager step below on the arrays in place (Note [in-place updates] in sgd.py)."""
        alpha = group["alpha"]
        g = -grad._data if group["maximize"] else grad._data
        axpy_(state["step"], np.ones((), state["step"]._data.dtype), 1)
        if group["weight_decay"] != 0:
            g = added(g, p._data, group["weight_decay"])
        square_avg = state["square_avg"]
        scale_(square_avg, alpha)
        addcmul_arrays_(square_avg, g, g, 1 - alpha)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            lerp_arrays_(grad_avg, g, 1 - alpha)
            avg = np.sqrt(square_avg._data - grad_avg._data * grad_avg._data)
        else:
            avg = np.sqrt(square_avg._data)
        avg += group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            scale_(buf, group["momentum"])
            addcdiv_arrays_(buf, g, avg)
            axpy_(p, buf._data, -group["lr"])
        else:
            addcdiv_arrays_(p, g, avg, -group["lr"])

    def _update_eager(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        alpha = group["alpha"]
        grad = -grad if group["maximize"] else grad
        state["step"].add_(1)
        if group["weight_decay"] != 0:
            grad = decayed(grad, p, group["weight_decay"])
        square_avg = addcmul_(state["square_avg"].mul_(alpha), grad, grad, 1 - alpha)
        if group["centered"]:
            grad_avg = lerp_(state["grad_avg"], grad, 1 - alpha)
            avg = (square_avg - grad_avg * grad_avg).sqrt()
        else:
            avg = square_avg.sqrt()
        avg = avg.add_(group["eps"])
        if group["momentum"] > 0:
            buf = addcdiv_(state["momentum_buffer"].mul_(group["momentum"]), grad, avg)
            add_scaled_(p, buf, -group["lr"])
        else:
            addcdiv_(p, grad, avg, -group["lr"])

    _update_traced = _update_eager  # reads no data (lr a tensor: Note [traced optimizer updates])


class Adagrad(Optimizer):
    """Adagrad, update rule identical to ``torch.optim.Adagrad``."""

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_lr(lr)
        for name, value in (
            ("lr_decay value", lr_decay),
            ("weight_decay value", weight_decay),
            ("initial_accumulator_value value", initial_accumulator_value),
            ("epsilon value", eps),
        ):
            if not value >= 0.0:  # NaN fails too, as in PyTorch
                raise ValueError(f"Invalid {name}: {value}")
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)
        check_fused(fused, foreach, differentiable)
        for group in self.param_groups:  # Adagrad creates its state eagerly, as PyTorch does
            for p in group["params"]:
                state = self.state[p]
                zeros_state(state, p, "sum", fused=group["fused"])
                init = group["initial_accumulator_value"]
                state["sum"].add_(complex(init, init) if p.is_complex() else init)

    _sparse_grads = True

    def _update(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        if grad._sparse:  # nn.Embedding(sparse=True): PyTorch's sparse Adagrad step
            return _sparse_adagrad(p, grad, group, state)
        super()._update(p, grad, group, state)

    def _update_arrays(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The eager step below on the arrays in place (Note [in-place updates] in sgd.py)."""
        axpy_(state["step"], np.ones((), state["step"]._data.dtype), 1)
        step = state["step"].item()
        g = -grad._data if group["maximize"] else grad._data
        if group["weight_decay"] != 0:
            g = added(g, p._data, group["weight_decay"])
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        addcmul_arrays_(state["sum"], g, g)
        std = np.sqrt(state["sum"]._data) + group["eps"]
        addcdiv_arrays_(p, g, std, -clr)

    def _update_eager(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        state["step"].add_(1)
        step = state["step"].item()
        grad = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            grad = decayed(grad, p, group["weight_decay"])
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        addcmul_(state["sum"], grad, grad, 1)
        std = state["sum"].sqrt().add_(group["eps"])
        addcdiv_(p, grad, std, -clr)

    def _update_traced(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The eager step with the step count as a tensor (Note [traced optimizer updates])."""
        state["step"].add_(1)
        grad = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            grad = decayed(grad, p, group["weight_decay"])
        lr = group["lr"]
        clr = lr / in_dtype_of(1 + (step_count(state) - 1) * group["lr_decay"], lr)
        addcmul_(state["sum"], grad, grad, 1)
        std = state["sum"].sqrt().add_(group["eps"])
        addcdiv_(p, grad, std, -clr)


def _sparse_adagrad(p: Tensor, grad: Any, group: dict[str, Any], state: dict[str, Any]) -> None:
    """Adagrad on the rows of a sparse gradient, PyTorch's ``_single_tensor_adagrad`` order."""
    from adjit.runtime.sparse_ops import add_into

    state["step"].add_(1)
    step = state["step"].item()
    grad = -grad if group["maximize"] else grad
    if group["weight_decay"] != 0:
        raise RuntimeError("weight_decay option is not compatible with sparse gradients")
    clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
    grad = grad.coalesce()
    at, g = tuple(grad._idx), grad._vals
    add_into(state["sum"], grad.mul(grad))
    std = np.sqrt(state["sum"]._data[at]) + g.dtype.type(group["eps"])
    rows = type(grad)._coo(grad._idx, g / std, grad._shape, True)
    add_into(p, rows, -clr)
