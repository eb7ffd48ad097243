"""PyTorch's checks on what a custom Function's backward returns, shared by eager and traced."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from adjit.runtime.tensor import Tensor

BOTH_MSG = (
    "Implementing both 'backward' and 'vjp' for a custom Function is not allowed. "
    "You should only implement one of them."
)


class InputMeta:
    """What the gradient checks read of a tensor input (its shape and dtype, not its data)."""

    def __init__(self, t: Tensor) -> None:
        self.shape, self.dtype = tuple(t.shape), t.dtype


def input_metas(inputs: Sequence[Any]) -> list[Any]:
    """The inputs as the checks need them: tensors as their InputMeta, others as they are."""
    return [InputMeta(a) if isinstance(a, Tensor) else a for a in inputs]


def user_backward(cls: type) -> Callable[..., Any]:
    """The class's ``vjp`` when it overrides it, else its ``backward`` (PyTorch's aliases)."""
    from adjit.autograd.custom import Function

    backward, vjp = cls.backward, cls.vjp  # type: ignore[attr-defined]
    if backward is not Function.backward and vjp is not Function.vjp:
        raise RuntimeError(BOTH_MSG)
    return vjp if vjp is not Function.vjp else backward


def call_backward(cls: type, ctx: Any, grads: Sequence[Any]) -> Any:
    """The user's backward on one cotangent per output (as one list if ``boxed_grads_call``)."""
    fn = user_backward(cls)
    if getattr(cls, "boxed_grads_call", False):
        return fn(ctx, list(grads))
    return fn(ctx, *grads)


def _expandable(shape: tuple[int, ...], to: tuple[int, ...]) -> bool:
    """Can a tensor of ``shape`` be broadcast to ``to`` (so a gradient of ``to`` sums back)."""
    if len(shape) > len(to):
        return False
    return all(s in (1, t) for s, t in zip(reversed(shape), reversed(to), strict=False))


def checked_gradients(
    cls: type, result: Any, inputs: Sequence[Any], needed: Sequence[bool]
) -> list[Any]:
    """One gradient per input from ``result`` (a tensor, None or a tuple), after PyTorch's
    checks in its order: the count (extra trailing Nones allowed), the types, a gradient for a
    non-tensor input; then, for the inputs whose gradient is ``needed``, the shape (a gradient
    the input broadcasts to is summed back to it) and the dtype (cast to the input's). The
    others' gradients are dropped (None)."""
    name = f"{cls.__name__}Backward"
    grads = list(result) if isinstance(result, tuple) else [result]
    n = len(inputs)
    if len(grads) > n and all(g is None for g in grads[n:]):
        grads = grads[:n]
    if len(grads) != n:
        raise RuntimeError(
            f"function {name} returned an incorrect number of gradients "
            f"(expected {n}, got {len(grads)})"
        )
    for g in grads:
        if g is not None and not isinstance(g, Tensor):
            raise RuntimeError(f"expected Variable or None (got {type(g).__name__})")
    out = []
    for i, (g, a, need) in enumerate(zip(grads, inputs, needed, strict=True)):
        if g is not None and not isinstance(a, InputMeta):
            raise RuntimeError(
                f"function {name} returned a gradient different than None at position "
                f"{i + 1}, but the corresponding forward input was not a Variable"
            )
        if g is None or not need:
            out.append(None)
            continue
        shape, want = tuple(g.shape), tuple(a.shape)
        if shape != want:
            if not _expandable(want, shape):
                raise RuntimeError(
                    f"Function {name} returned an invalid gradient at index {i} - got "
                    f"{list(shape)} but expected shape compatible with {list(want)}"
                )
            g = g._sum_to(want)
        if g.dtype is not a.dtype and a.dtype.is_floating_point:
            g = g.to(a.dtype)
        out.append(g)
    return out
