"""Full backward hooks of a Module: identity autograd Functions around its call."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from adjit.autograd import Function
from adjit.runtime.tensor import Tensor

if TYPE_CHECKING:
    from adjit.nn.module import Module


def _identity(ctx: Any, *xs: Tensor) -> Any:
    outs = tuple(x.view_as(x) for x in xs)
    return outs[0] if len(outs) == 1 else outs


class BackwardHook:
    """Calls ``module``'s backward pre-hooks on the output gradients and its backward hooks on
    the input gradients (``None`` where an input does not require grad), as PyTorch."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.grad_outputs: tuple | None = None
        self.n_inputs = 0
        self.input_index: list[int] | None = None

    def _wrap(self, values: tuple, backward: Any) -> tuple[tuple, list[int]]:
        index = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]
        if not index:
            return values, index
        fn = type("BackwardHookFunction", (Function,), {"forward": staticmethod(_identity)})
        fn.backward = staticmethod(lambda ctx, *grads: backward(grads))  # type: ignore[attr-defined]
        outs = fn.apply(*(values[i] for i in index))
        outs = (outs,) if isinstance(outs, Tensor) else tuple(outs)
        new = list(values)
        for i, o in zip(index, outs, strict=True):
            new[i] = o
        return tuple(new), index

    def _pack(self, index: list[int], grads: tuple, n: int) -> tuple:
        out: list[Any] = [None] * n
        for i, g in zip(index, grads, strict=False):
            out[i] = g
        return tuple(out)

    def _call_hooks(self, grad_inputs: tuple) -> tuple:
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_inputs, self.grad_outputs)
            if result is None:
                continue
            result = result if isinstance(result, tuple) else (result,)
            if len(result) != len(grad_inputs):
                raise RuntimeError(
                    "Backward hook returned an invalid number of grad_input, "
                    f"got {len(result)}, but expected {len(grad_inputs)}"
                )
            grad_inputs = result
        return grad_inputs

    def setup_input_hook(self, args: tuple) -> tuple:
        self.n_inputs = len(args)

        def backward(grads: tuple) -> tuple:
            index = self.input_index or []
            packed = self._call_hooks(self._pack(index, grads, self.n_inputs))
            return tuple(packed[i] for i in index)

        new, index = self._wrap(args, backward)
        self.input_index = index or None
        return new

    def setup_output_hook(self, result: Any) -> Any:
        single = isinstance(result, Tensor)
        values = (result,) if single else result
        if not isinstance(values, tuple):
            return result
        n = len(values)

        def backward(grads: tuple) -> tuple:
            grad_outputs = self._pack(index, grads, n)
            for hook in list(self.module._backward_pre_hooks.values()):
                out = hook(self.module, grad_outputs)
                if out is not None:
                    grad_outputs = out if isinstance(out, tuple) else (out,)
            self.grad_outputs = grad_outputs
            if self.input_index is None:
                warnings.warn(
                    "Full backward hook is firing when gradients are computed with respect to "
                    "module outputs since no inputs require gradients. See "
                    "https://docs.pytorch.org/docs/main/generated/torch.nn.Module.html"
                    "#torch.nn.Module.register_full_backward_hook for more details.",
                    stacklevel=2,
                )
                res = self._call_hooks((None,) * self.n_inputs)
                if any(r is not None for r in res):
                    raise RuntimeError(
                        "Backward hook for Modules where no input requires gradient should "
                        "always return None or None for all gradients."
                    )
            return tuple(grad_outputs[i] for i in index)

        new, index = self._wrap(values, backward)
        return new[0] if single else new
