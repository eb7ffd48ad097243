"""``adjit.autograd``: grad, backward and custom differentiable functions, as in PyTorch."""

from __future__ import annotations

from typing import Any

from adjit.runtime import trace_state
from adjit.runtime.autograd import Node, PyNode, gradient_edge, node_class
from adjit.runtime.backward import backward, grad
from adjit.runtime.grad_mode import enable_grad, no_grad, set_grad_enabled
from adjit.runtime.tensor import Tensor

__all__ = ["Function", "Node", "backward", "enable_grad", "grad", "no_grad", "set_grad_enabled"]


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
        if is_grad_enabled() and any(ctx.needs_input_grad) and isinstance(out, Tensor):
            edges = tuple(
                gradient_edge(a) if isinstance(a, Tensor) and a.requires_grad else (None, 0)
                for a in args
            )
            node_cls = node_class(f"{cls.__name__}Backward", PyNode)
            made = Tensor._make(out._data)
            # a saved output unpacks as the output (with its grad_fn), as in PyTorch: the
            # backward is then differentiable through it (create_graph)
            ctx.saved_tensors = tuple(made if s is out else s for s in ctx.saved_tensors)
            out = made
            out._grad_fn = node_cls(cls.backward, ctx, edges)
        return out


from adjit.autograd import functional  # noqa: E402,F401
from adjit.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402,F401
from adjit.autograd.traced import traced_apply  # noqa: E402
