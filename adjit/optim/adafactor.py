"""``Adafactor``: factored second moments (row and column averages for matrices), PyTorch's
update formula (single-tensor form)."""

from __future__ import annotations

from typing import Any

from adjit.optim._ops import add_scaled_, add_zeros, step_count, tracing, zeros_state
from adjit.optim.optimizer import Optimizer
from adjit.runtime.functional import maximum, minimum, pow
from adjit.runtime.tensor import Tensor


class Adafactor(Optimizer):
    """Adafactor, update rule identical to ``torch.optim.Adafactor``."""

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        checks = (
            (lr >= 0.0, f"Learning rate should be >= 0 but is: {lr}"),
            (beta2_decay <= 0.0, f"beta2_decay should be <= 0 but is: {beta2_decay}"),
            (eps[0] is None or eps[0] >= 0.0, f"epsilon1 should be >= 0 but is: {eps[0]}"),
            (eps[1] >= 0.0, f"epsilon2 should be >= 0 but is: {eps[1]}"),
            (d >= 1.0, f"Clipping threshold d should be >= 1 but is: {d}"),
            (weight_decay >= 0.0, f"weight_decay should be >= 0 but is: {weight_decay}"),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        defaults = dict(
            lr=lr,
            beta2_decay=beta2_decay,
            eps=eps,
            d=d,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _begin_group(self, group: dict[str, Any], with_grad: list[Tensor]) -> None:
        # PyTorch fills a missing eps1 from the first parameter's dtype and keeps it for the
        # rest of the group
        eps1 = group["eps"][0]
        if eps1 is None and with_grad:
            from adjit.runtime.dtype_info import finfo

            eps1 = finfo(with_grad[0].dtype).eps
        self._eps1 = eps1

    def _init_state(self, p: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        if p.is_complex():
            raise RuntimeError("Adafactor does not support complex parameters")
        if not state:
            zeros_state(state, p)
            if p.grad.dim() > 1:
                state["row_var"] = p.grad.new_zeros([*p.grad.shape[:-1], 1])
                state["col_var"] = p.grad.new_zeros([*p.grad.shape[:-2], 1, p.grad.shape[-1]])
            else:
                add_zeros(state, p, "variance")

    def _update(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        if tracing():
            self._update_traced(p, grad, group, state)
            return
        lr, eps1, eps2 = group["lr"], self._eps1, group["eps"][1]
        grad = -grad if group["maximize"] else grad
        state["step"].add_(1)
        step = state["step"].item()
        one_minus_beta2_t = step ** group["beta2_decay"]
        rho_t = min(lr, 1 / (step**0.5))
        alpha = max(eps2, p.norm(2).item() / (p.numel() ** 0.5)) * rho_t
        if group["weight_decay"] != 0:
            p.mul_(1 - lr * group["weight_decay"])
        update = _scaled(grad, state, one_minus_beta2_t, eps1)
        denom = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * group["d"]))
        p.add_(update, alpha=-alpha / denom)

    def _update_traced(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The eager step with the step count and the norms as 0-d float64 tensors, the
        ``min``/``max`` of Python floats as ``minimum``/``maximum`` (Note [traced optimizer
        updates])."""
        lr, eps1, eps2 = group["lr"], self._eps1, group["eps"][1]
        grad = -grad if group["maximize"] else grad
        state["step"].add_(1)
        step = step_count(state)
        one_minus_beta2_t = pow(step, group["beta2_decay"])
        rho_t = minimum(lr, 1 / (step**0.5))
        norm = p.norm(2).to(step.dtype) / (p.numel() ** 0.5)
        alpha = maximum(norm, eps2) * rho_t  # (eager: ``max(eps2, norm)``, the same unless NaN)
        if group["weight_decay"] != 0:
            p.mul_(1 - lr * group["weight_decay"])
        update = _scaled(grad, state, one_minus_beta2_t, eps1)
        size = (update.numel() ** 0.5) * group["d"]
        denom = maximum(update.norm(2).to(step.dtype) / size, 1.0)
        add_scaled_(p, update, -alpha / denom)


def _scaled(grad: Tensor, state: dict[str, Any], one_minus_beta2_t: Any, eps1: float) -> Tensor:
    """The gradient over the root of the running second-moment estimate, updated in place:
    factored into row and column means for a matrix (eager and traced steps alike)."""
    if grad.dim() > 1:  # factored: running row and column mean squares
        row_var, col_var = state["row_var"], state["col_var"]
        row_mean = grad.norm(dim=-1, keepdim=True).square_().div_(grad.size(-1))
        row_var.lerp_(row_mean, one_minus_beta2_t)
        col_mean = grad.norm(dim=-2, keepdim=True).square_().div_(grad.size(-2))
        col_var.lerp_(col_mean, one_minus_beta2_t)
        var_estimate = row_var @ col_var
        var_estimate.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
    else:
        state["variance"].lerp_(grad * grad, one_minus_beta2_t)
        var_estimate = state["variance"].clone()
    update = var_estimate.clamp_(min=eps1 * eps1).rsqrt_()
    return update.mul_(grad)
