"""``adjit.autograd.forward_ad``: dual tensors, eagerly (Note [eager forward AD])."""

from __future__ import annotations

from typing import Any, NamedTuple

from adjit.runtime import forward_grad
from adjit.runtime.tensor import Tensor

__all__ = [
    "UnpackedDualTensor",
    "dual_level",
    "enter_dual_level",
    "exit_dual_level",
    "make_dual",
    "unpack_dual",
]


def enter_dual_level() -> int:
    """Enter a new forward grad level (one at a time, as PyTorch)."""
    return forward_grad.enter()


def exit_dual_level(*, level: int | None = None) -> None:
    """Exit the forward grad level: every tangent made in it is gone."""
    forward_grad.leave(level)


def _view(t: Tensor) -> Tensor:
    """``t`` again, sharing its memory, without its tangent: a view with its history (the
    hook off) when it has one, else a plain alias (not a view: in-place ops on a dual tensor
    are supported, on views of one they refuse)."""
    if not t.requires_grad:
        return Tensor._make(t._data, version_box=t._version_box)
    with forward_grad.paused():
        return t.view(tuple(t.shape))


def make_dual(tensor: Tensor, tangent: Tensor, *, level: int | None = None) -> Tensor:
    """A view of ``tensor`` carrying ``tangent`` as its forward gradient."""
    if forward_grad.LEVEL < 0 or (level is not None and level != forward_grad.LEVEL):
        raise RuntimeError(
            "Trying to create a dual Tensor for forward AD but no level exists, make sure to "
            "enter_dual_level() first."
        )
    if tensor._is_tracer or tangent._is_tracer:
        raise NotImplementedError(
            "autograd.forward_ad inside a traced function (adjit.compile, adjit.func "
            "transforms) is not supported: use adjit.func.jvp there, which compiles"
        )
    if not (tensor.dtype.is_floating_point or tensor.dtype.is_complex):
        raise ValueError(
            f"Expected primal to be floating point or complex, but got: {tensor.dtype}"
        )
    if not (tangent.dtype.is_floating_point or tangent.dtype.is_complex):
        raise ValueError(
            f"Expected tangent to be floating point or complex, but got: {tangent.dtype}"
        )
    if forward_grad.tangent(tensor) is not None:
        raise RuntimeError(
            "Making a dual Tensor based on a Tensor that already has a forward gradient at the "
            f"same level {forward_grad.LEVEL} is not supported."
        )
    if tuple(tangent.shape) != tuple(tensor.shape):
        raise RuntimeError(
            "Trying to set a forward gradient that has a different size than that of the "
            f"original Tensor, this is not supported. Tensor is of size {list(tensor.shape)} "
            f"while the given forward gradient is of size {list(tangent.shape)}."
        )
    dual = _view(tensor)
    if tangent.dtype is not tensor.dtype:  # (PyTorch keeps the tangent's dtype: see README)
        with forward_grad.paused():
            tangent = tangent.to(tensor.dtype)
    forward_grad.set_tangent(dual, tangent)
    return dual


class UnpackedDualTensor(NamedTuple):
    """Namedtuple returned by :func:`unpack_dual`: the primal and tangent of a dual tensor."""

    primal: Tensor
    tangent: Tensor | None


def unpack_dual(tensor: Tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """(primal, tangent) of a dual tensor; (tensor, None) for any other."""
    if forward_grad.LEVEL < 0 or (level is not None and level != forward_grad.LEVEL):
        return UnpackedDualTensor(tensor, None)
    tangent = forward_grad.tangent(tensor)
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    return UnpackedDualTensor(_view(tensor), tangent)


class dual_level:  # noqa: N801 - PyTorch's name
    """Context manager (and decorator) for forward AD: a level entered and exited."""

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *exc: Any) -> None:
        exit_dual_level()

    def __call__(self, fn: Any) -> Any:
        import functools

        @functools.wraps(fn)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with dual_level():
                return fn(*args, **kwargs)

        return wrapped
