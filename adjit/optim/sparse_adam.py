"""``SparseAdam``: Adam on the rows a sparse gradient names (``nn.Embedding(sparse=True)``),
PyTorch's update in its order of operations."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from adjit.optim._ops import check_betas
from adjit.optim.optimizer import Optimizer
from adjit.runtime.creation import zeros_like
from adjit.runtime.grad_mode import enable_grad
from adjit.runtime.tensor import Tensor


class SparseAdam(Optimizer):
    """Adam for sparse gradients (``nn.Embedding(sparse=True)``)."""

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        maximize: bool = False,
    ) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not lr > 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not eps > 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        check_betas(betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, maximize=maximize)
        super().__init__(params, defaults)
        complex_params = [
            [i, j]
            for i, group in enumerate(self.param_groups)
            for j, p in enumerate(group["params"])
            if p.is_complex()
        ]
        if complex_params:
            raise ValueError(
                f"Complex params at indices {complex_params}: SparseAdam does not support "
                "complex parameters"
            )

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            with_grad = [p for p in group["params"] if p.grad is not None]
            for p in with_grad:
                if not p.grad.is_sparse:
                    raise RuntimeError(
                        "SparseAdam does not support dense gradients, please consider Adam instead"
                    )
            for p in with_grad:
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = zeros_like(p)
                    state["exp_avg_sq"] = zeros_like(p)
                state["step"] += 1
                _update(p, state, group)
        return loss


def _update(p: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
    """PyTorch's ``sparse_adam`` for one parameter, on the rows of its coalesced gradient."""
    grad = -p.grad if group["maximize"] else p.grad  # type: ignore[operator]
    grad = grad.coalesce()
    at, g = tuple(grad._idx), grad._vals
    if g.size == 0:
        return
    beta1, beta2 = group["betas"]
    lr, eps, step = float(group["lr"]), group["eps"], state["step"]
    exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
    dt = g.dtype.type
    old_avg, old_sq = exp_avg[at], exp_avg_sq[at]
    avg_update = (g - old_avg) * dt(1 - beta1)
    np.add.at(exp_avg, at, avg_update)
    sq_update = (g**2 - old_sq) * dt(1 - beta2)
    np.add.at(exp_avg_sq, at, sq_update)
    numer = avg_update + old_avg
    denom = np.sqrt(sq_update + old_sq) + dt(eps)
    step_size = lr * math.sqrt(1 - beta2**step) / (1 - beta1**step)
    np.add.at(p._data, at, dt(-step_size) * (numer / denom))
    for t in (p, state["exp_avg"], state["exp_avg_sq"]):
        t._version_box[0] += 1
