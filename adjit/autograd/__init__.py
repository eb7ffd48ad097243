"""``adjit.autograd``: grad, backward and custom differentiable functions, as in PyTorch."""

from __future__ import annotations

from typing import Any

from adjit.runtime import trace_state
from adjit.runtime.autograd import Node
from adjit.runtime.backward import backward, grad
from adjit.runtime.grad_mode import enable_grad, no_grad, set_grad_enabled
from adjit.runtime.settings import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from adjit.runtime.tensor import Tensor

__all__ = ["Function", "Node", "backward", "enable_grad", "grad", "no_grad", "set_grad_enabled"]
__all__ += ["detect_anomaly", "is_anomaly_enabled", "set_detect_anomaly"]


class FunctionCtx:
    """The ``ctx`` of a custom Function: saves tensors and flags between forward and backward."""

    def __init__(self) -> None:
        self.saved_tensors: tuple[Tensor, ...] = ()
        self.needs_input_grad: tuple[bool, ...] = ()
        self._non_differentiable: set[int] = set()

    def save_for_backward(self, *tensors: Tensor) -> None:
        self.saved_tensors = tensors

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors: Tensor) -> None:
        pass

    def set_materialize_grads(self, value: bool) -> None:
        pass


class Function:
    """Subclass with static ``forward(ctx, ...)`` and ``backward(ctx, grad)``; call ``.apply``."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("a Function subclass must implement forward")

    @staticmethod
    def backward(ctx: FunctionCtx, *grads: Any) -> Any:
        raise NotImplementedError("a Function subclass must implement backward")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        from adjit.runtime.grad_mode import is_grad_enabled

        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        trace = trace_state.current()
        if trace is not None and trace.involves([a for a in args if isinstance(a, Tensor)]):
            return traced_apply(cls, args, kwargs, ctx)  # Note [custom functions traced]
        with no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        if is_grad_enabled() and any(ctx.needs_input_grad):
            return attach(cls, ctx, args, out)
        return out


from adjit.autograd import function, functional, graph  # noqa: E402,F401
from adjit.autograd.eager import attach  # noqa: E402
from adjit.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402,F401
from adjit.autograd.traced import traced_apply  # noqa: E402
