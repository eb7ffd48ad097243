"""A custom ``autograd.Function`` called while tracing: its backward becomes a derivative rule.

See Note [custom functions traced] in ir/custom.py.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from adjit.ir.ops import Op
from adjit.runtime.dispatch import apply
from adjit.runtime.grad_mode import is_grad_enabled, no_grad
from adjit.runtime.tensor import Tensor


class FunctionRule:
    """The derivative rule of one output of one traced Function call.

    The CUSTOM_VJP equation's inputs are the output, the Function's tensor arguments, the
    saved tensors (``None`` entries kept by ``saved_layout``), then the tensors stored as
    ``ctx`` attributes (``ctx_names``): ``vjp`` puts the values it is given for them into a
    copy of the call's ``ctx`` and calls the user's backward on it. A saved tensor that is
    this output itself (``ctx.save_for_backward(result)``) is given the equation's result,
    as PyTorch unpacks a saved output: differentiating the backward again reaches the input.
    """

    def __init__(
        self,
        cls: type,
        ctx: Any,
        arg_positions: tuple[int, ...],
        n_args: int,
        saved_layout: tuple[bool, ...],
        ctx_names: tuple[str, ...],
        output: int,
        outputs: tuple[tuple[tuple[int, ...], Any], ...],
        is_output: tuple[bool, ...],
    ) -> None:
        self.cls, self.ctx = cls, ctx
        self.arg_positions, self.n_args = arg_positions, n_args
        self.saved_layout, self.ctx_names = saved_layout, ctx_names
        self.output, self.outputs = output, outputs
        self.is_output = is_output  # per input: is it this very output (``out`` replaces it)

    def __repr__(self) -> str:
        suffix = f"[{self.output}]" if len(self.outputs) > 1 else ""
        return f"{self.cls.__name__}.backward{suffix}"

    def vjp(self, g: Tensor, out: Tensor, inputs: Sequence[Any], needs: tuple[bool, ...]) -> tuple:
        inputs = [out if own else v for v, own in zip(inputs, self.is_output, strict=True)]
        k = len(self.arg_positions)
        n_saved = sum(self.saved_layout)
        saved = iter(inputs[1 + k : 1 + k + n_saved])
        stored = inputs[1 + k + n_saved :]
        ctx = copy.copy(self.ctx)
        ctx.saved_tensors = tuple(next(saved) if s else None for s in self.saved_layout)
        for name, value in zip(self.ctx_names, stored, strict=True):
            setattr(ctx, name, value)
        wants = dict(zip(self.arg_positions, needs[1 : 1 + k], strict=True))
        ctx.needs_input_grad = tuple(wants.get(i, False) for i in range(self.n_args))
        cotangents = [  # zeros for the other tensor outputs (materialized, as in PyTorch)
            g if j == self.output else None if dtype is None else g.new_zeros(shape, dtype=dtype)
            for j, (shape, dtype) in enumerate(self.outputs)
        ]
        grads = self.cls.backward(ctx, *cotangents)  # type: ignore[attr-defined]
        grads = grads if isinstance(grads, tuple) else (grads,)
        if len(grads) != self.n_args:
            raise RuntimeError(
                f"function {self.cls.__name__}Backward returned an incorrect number of "
                f"gradients (expected {self.n_args}, got {len(grads)})"
            )
        picked = [grads[i] if wants[i] else None for i in self.arg_positions]
        return (None, *picked, *[None] * (len(inputs) - 1 - k))


def traced_apply(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any], ctx: Any) -> Any:
    """``cls.apply(*args)`` while tracing: the forward recorded under no_grad, then each
    differentiable output passed through a CUSTOM_VJP equation holding the backward."""
    with no_grad():
        out = cls.forward(ctx, *args, **kwargs)  # type: ignore[attr-defined]
    if not is_grad_enabled():
        return out
    positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
    saved = tuple(ctx.saved_tensors)
    stored = {
        name: v
        for name, v in vars(ctx).items()
        if isinstance(v, Tensor) and name != "saved_tensors"
    }
    outs = out if isinstance(out, tuple) else (out,)
    shapes = tuple((tuple(o.shape), o.dtype) if isinstance(o, Tensor) else ((), None) for o in outs)
    operands = [
        *(args[i] for i in positions),
        *(s for s in saved if s is not None),
        *stored.values(),
    ]
    results: list[Any] = []
    for k, o in enumerate(outs):
        if (
            not isinstance(o, Tensor)
            or not o.dtype.is_floating_point
            or id(o) in ctx._non_differentiable
        ):
            results.append(o)
            continue
        rule = FunctionRule(
            cls,
            ctx,
            positions,
            len(args),
            tuple(s is not None for s in saved),
            tuple(stored),
            k,
            shapes,
            (False, *(v is o for v in operands)),
        )
        results.append(apply(Op.CUSTOM_VJP, o, *operands, rule=rule))
    return tuple(results) if isinstance(out, tuple) else results[0]
