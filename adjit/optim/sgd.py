"""``SGD`` with momentum, dampening, Nesterov, weight decay and maximize (PyTorch's formulas)."""

from __future__ import annotations

from typing import Any

import numpy as np

from adjit.optim._ops import add_scaled_, added, axpy_, check_fused, check_lr, decayed
from adjit.optim.optimizer import Optimizer
from adjit.runtime import trace_state
from adjit.runtime.grad_mode import set_grad_enabled
from adjit.runtime.tensor import Tensor


class SGD(Optimizer):
    """Stochastic gradient descent, update rule identical to ``torch.optim.SGD``."""

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_lr(lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)
        check_fused(fused, foreach, differentiable)

    def _update_arrays(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        # Note [in-place updates]: the step works on the arrays in place, with the same
        # roundings as the eager ops it stands for (each ``alpha`` rounded to the parameter's
        # dtype, then one fma: Note [add with alpha]), so it allocates nothing per step for the
        # parameter itself (fresh large arrays cost page faults) and skips the eager dispatch.
        # Optimizer._update falls back to _update_eager for mixed dtypes or read-only arrays.
        if self._fused(p, grad, group, state):
            return
        g = -grad._data if group["maximize"] else grad._data
        if group["weight_decay"] != 0:
            g = added(g, p._data, group["weight_decay"])
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = Tensor._make(np.array(g, copy=True))
            else:
                np.multiply(buf._data, momentum, out=buf._data)
                axpy_(buf, g, 1 - group["dampening"])
            g = added(g, buf._data, momentum) if group["nesterov"] else buf._data
        axpy_(p, g, -group["lr"])

    def _fused(self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]) -> bool:
        """The common step (no weight decay, nesterov or maximize; momentum with its buffer, or
        none) as one compiled pass with the same roundings (Note [fused updates])."""
        momentum = group["momentum"]
        buf = state.get("momentum_buffer")
        if group["weight_decay"] != 0 or group["nesterov"] or group["maximize"]:
            return False
        if momentum != 0 and buf is None:  # the first step copies the gradient
            return False
        from adjit.codegen.updates import sgd_  # llvmlite.ir, imported with the first step

        arrays = (p._data, None if momentum == 0 else buf._data, grad._data)
        if not sgd_(*arrays, momentum, group["dampening"], group["lr"]):
            return False
        p._version_box[0] += 1
        if momentum != 0:
            buf._version_box[0] += 1
        return True

    # Note [SGD's one-pass step]: a step whose every group takes the one-pass kernel's rule
    # (no weight decay, nesterov, maximize, differentiable, tensor lr; outside a trace) calls
    # the kernel for each parameter straight from its arrays, without the per-parameter walk
    # through _update/_update_arrays/_fused (an MLP's four parameters: ~50 µs of Python a
    # step). Each parameter the kernel refuses (its first momentum step, mixed dtypes,
    # read-only or overlapping arrays, complex) takes that walk instead, so every parameter
    # gets exactly the update, and bits, of the general path. A subclass or an instance that
    # replaces one of the methods of the walk takes the general path.
    _one_pass = True  # (tests turn it off to compare with the general path)

    def _step_groups(self) -> None:
        groups = self._one_pass_groups()
        if groups is None:
            super()._step_groups()
            return
        from adjit.codegen.updates import sgd_  # llvmlite.ir, imported with the first step

        for group, pairs in groups:
            momentum, dampening, lr = group["momentum"], group["dampening"], group["lr"]
            for p, grad in pairs:
                buf = None
                if momentum != 0:
                    state = self.state.get(p)
                    buf = state.get("momentum_buffer") if state else None
                    if buf is None:  # the first step copies the gradient
                        self._walk(p, group)
                        continue
                if sgd_(p._data, None if buf is None else buf._data, grad._data, momentum,
                        dampening, lr):  # fmt: skip
                    p._version_box[0] += 1
                    if buf is not None:
                        buf._version_box[0] += 1
                else:
                    self._walk(p, group)

    def _walk(self, p: Tensor, group: dict[str, Any]) -> None:
        with set_grad_enabled(False):  # (differentiable is off: the general path's mode)
            self._step_param(p, group)

    def _one_pass_groups(self) -> list[tuple[dict[str, Any], list[tuple[Tensor, Tensor]]]] | None:
        """Each group with its (parameter, gradient) pairs when the whole step may take the
        one-pass route (Note [SGD's one-pass step]), else None."""
        if not self._one_pass or not _plain_class(type(self)) or trace_state.current() is not None:
            return None
        if not _WALK.isdisjoint(self.__dict__) or self.defaults.get("differentiable"):
            return None
        groups = []
        for group in self.param_groups:
            if (
                group["weight_decay"] != 0
                or group["nesterov"]
                or group["maximize"]
                or group.get("differentiable")
                or group.get("capturable")
                or isinstance(group["lr"], Tensor)
            ):
                return None
            pairs = []
            for p in group["params"]:
                grad = p.grad
                if grad is not None:
                    if getattr(grad, "is_sparse", False):  # the general path's error
                        return None
                    pairs.append((p, grad))
            groups.append((group, pairs))
        return groups

    _sparse_grads = True

    def _update(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        if grad._sparse:  # nn.Embedding(sparse=True): PyTorch's eager ops on sparse tensors
            return _sparse_update(p, grad, group, state)
        super()._update(p, grad, group, state)

    def _update_eager(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The same update through eager ops (mixed dtypes, read-only parameters, and inside a
        compiled function: it reads no data)."""
        grad = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            grad = decayed(grad, p, group["weight_decay"])
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.detach().clone()
            else:
                buf.mul_(momentum).add_(grad, alpha=1 - group["dampening"])
            grad = grad.add(buf, alpha=momentum) if group["nesterov"] else buf
        add_scaled_(p, grad, -group["lr"])  # (traced: lr is a run-time input, RUN_TIME_HYPERS)

    _update_traced = _update_eager


def _sparse_update(p: Tensor, grad: Any, group: dict[str, Any], state: dict[str, Any]) -> None:
    """SGD with a sparse gradient, as PyTorch's ``_single_tensor_sgd`` runs it (weight decay
    is refused as there: ``add(sparse, dense)``)."""
    from adjit.runtime.sparse_ops import add_into

    grad = -grad if group["maximize"] else grad
    if group["weight_decay"] != 0:
        grad = grad.add(p, alpha=group["weight_decay"])
    momentum = group["momentum"]
    if momentum != 0:
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = grad.clone().detach()
        else:
            buf.mul_(momentum).add_(grad, alpha=1 - group["dampening"])
        grad = grad.add(buf, alpha=momentum) if group["nesterov"] else buf
    add_into(p, grad, -group["lr"])


# the methods the general step walks through: replaced in a subclass or an instance, the
# one-pass route does not apply (Note [SGD's one-pass step])
_WALK = frozenset(
    {"_step_groups", "_step_param", "_init_state", "_begin_group", "_update", "_update_arrays",
     "_fused", "_update_eager", "_update_complex", "_one_pass_groups", "_walk"}
)  # fmt: skip


_OWN = {name: getattr(SGD, name) for name in _WALK}


def _plain_class(cls: type) -> bool:
    """Whether ``cls`` walks through SGD's own methods (looked up each step: a method patched
    in later counts too)."""
    return all(getattr(cls, name) is own for name, own in _OWN.items())
