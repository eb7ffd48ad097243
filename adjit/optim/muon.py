"""``Muon``: momentum orthogonalised by a Newton-Schulz iteration in bfloat16, for 2-D
parameters (PyTorch's ``torch.optim.Muon``, single-tensor form)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from adjit.ir.dtypes import bfloat16, float32
from adjit.optim.optimizer import Optimizer
from adjit.runtime.tensor import Tensor

# Keller Jordan's constants (https://kellerjordan.github.io/posts/muon/), as PyTorch's
EPS = 1e-7
DEFAULT_A = 3.4445
DEFAULT_B = -4.7750
DEFAULT_C = 2.0315
DEFAULT_NS_STEPS = 5

_ADJUST_LR = {  # adjust_lr_fn -> the learning rate's factor for an (A, B) matrix
    None: lambda A, B: math.sqrt(max(1, A / B)),
    "original": lambda A, B: math.sqrt(max(1, A / B)),
    "match_rms_adamw": lambda A, B: 0.2 * math.sqrt(max(A, B)),
}


def _bf16(x: Tensor) -> Tensor:
    """``x`` (float32) rounded to bfloat16 and back: one bfloat16 op's result."""
    return x.to(bfloat16).to(float32)


def _zeropower_via_newtonschulz(
    grad: Tensor, ns_coefficients: tuple[float, float, float], ns_steps: int, eps: float
) -> Tensor:
    """The quintic Newton-Schulz iteration towards the orthogonal factor of ``grad``, in
    bfloat16, with PyTorch's roundings: see Note [Muon's bfloat16]."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if len(grad.shape) != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    # Note [Muon's bfloat16]: PyTorch runs the iteration on bfloat16 tensors, and its CPU
    # kernels (norm, div, mm, addmm) compute each op's result in float32 and round it to
    # bfloat16 once. The iteration here is those ops in float32, each result rounded to
    # bfloat16: the same numbers (checked against torch over many steps), where bfloat16
    # ops rounding their partial results would drift by bfloat16 ulps.
    a, b, c = ns_coefficients
    x = _bf16(grad.to(float32))
    tall = grad.size(0) > grad.size(1)
    if tall:
        x = x.T
    norm = _bf16(x.norm()).clamp(min=eps)  # (a bfloat16 clamp: eps rounded below)
    x = _bf16(x / _bf16(norm))
    for _ in range(ns_steps):
        gram = _bf16(x @ x.T)
        gram_update = _bf16(gram * b + (gram @ gram) * c)
        x = _bf16(x * a + gram_update @ x)
    if tall:
        x = x.T
    return x.to(bfloat16)


def _fma(coeff: float | Tensor, x: Tensor, base: Tensor) -> Tensor:
    """``coeff * x + base`` with PyTorch's vectorized CPU roundings: a fused multiply-add (one
    rounding), with ``coeff`` rounded to the tensors' dtype.

    Note [Muon's roundings]: PyTorch's ``lerp`` and ``add(alpha=)`` kernels on CPU are fused
    multiply-adds. A float32 product of float32 (or bfloat16) factors is exact in float64,
    so the float64 sum rounded to float32 is the fused result (but for a double rounding, about
    once in 2**29). The momentum buffer then equals PyTorch's bit for bit, and so do the
    bfloat16 inputs of the iteration. float64 tensors take the plain multiply and add: an ulp
    off now and then."""
    if base.dtype != float32:
        return base + x * coeff
    coeff = coeff.to(float32) if isinstance(coeff, Tensor) else _float32(coeff)
    wide = base.double() + x.double() * (coeff.double() if isinstance(coeff, Tensor) else coeff)
    return wide.to(float32)


def _float32(value: float) -> float:
    """A Python float rounded to float32 (as PyTorch's kernels take a scalar)."""
    return float(np.float32(value))


def _lerp(start: Tensor, end: Tensor, weight: float) -> Tensor:
    """``torch.lerp(start, end, weight)`` as its vectorized CPU kernel: ``fma(weight, end -
    start, start)`` for a weight under 0.5, else ``fma(weight - 1, end - start, end)``."""
    if abs(weight) < 0.5:
        return _fma(weight, end - start, start)
    return _fma(_float32(_float32(weight) - 1), end - start, end)


def _adjust_lr(lr: Any, adjust_lr_fn: str | None, param_shape: Any) -> Any:
    """The learning rate scaled for the parameter's shape (``adjust_lr_fn``)."""
    A, B = param_shape[:2]
    factor = _ADJUST_LR[adjust_lr_fn](A, B) if adjust_lr_fn in _ADJUST_LR else 1.0
    return lr * factor


class Muon(Optimizer):
    """Muon, update rule identical to ``torch.optim.Muon``: Nesterov momentum, orthogonalised
    by ``ns_steps`` Newton-Schulz iterations, decoupled weight decay, a shape-adjusted step.
    Only 2-D parameters (optimize biases and embeddings with e.g. AdamW)."""

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = (DEFAULT_A, DEFAULT_B, DEFAULT_C),
        eps: float = EPS,
        ns_steps: int = DEFAULT_NS_STEPS,
        adjust_lr_fn: str | None = None,
    ) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        checks = (
            (lr >= 0.0, f"Learning rate should be >= 0 but is: {lr}"),
            (momentum >= 0.0, f"momentum should be >= 0 but is: {momentum}"),
            (weight_decay >= 0.0, f"weight decay should be >= 0 but is: {weight_decay}"),
            (
                adjust_lr_fn is None or adjust_lr_fn in ("original", "match_rms_adamw"),
                f"Adjust learning rate function {adjust_lr_fn} is not supported",
            ),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        defaults = dict(
            lr=lr,
            weight_decay=weight_decay,
            momentum=momentum,
            nesterov=nesterov,
            ns_coefficients=ns_coefficients,
            eps=eps,
            ns_steps=ns_steps,
            adjust_lr_fn=adjust_lr_fn,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(
                        "Muon only supports 2D parameters whereas we found a parameter with "
                        f"size: {p.size()}"
                    )

    def _init_state(self, p: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        if p.is_complex():
            raise RuntimeError("Muon does not support complex parameters")
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = p.grad.new_zeros(p.grad.shape)

    def _update(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """PyTorch's ``_single_tensor_muon`` for one parameter (eager and traced alike: it
        reads no data)."""
        lr = group["lr"]
        if isinstance(lr, Tensor) and lr.dim() != 0:
            lr = lr.squeeze()
        if grad.ndim != 2:
            raise ValueError("Param gradient must be a 2D matrix")
        momentum = group["momentum"]
        buf = state["momentum_buffer"]
        buf.copy_(_lerp(buf, grad, 1 - momentum))
        update = _lerp(grad, buf, momentum) if group["nesterov"] else buf
        update = _zeropower_via_newtonschulz(
            update, group["ns_coefficients"], group["ns_steps"], group["eps"]
        )
        adjusted_lr = _adjust_lr(lr, group["adjust_lr_fn"], p.shape)
        p.mul_(1 - lr * group["weight_decay"])
        p.copy_(_fma(-adjusted_lr, update.to(p.dtype), p))
