"""``autograd.Function`` and its ``ctx``: the forward(ctx, ...) and setup_context styles."""

from __future__ import annotations

import functools
import inspect
import warnings
from typing import Any

from adjit.frontend.func_transforms import unwrapped
from adjit.runtime import forward_grad, trace_state
from adjit.runtime.autograd import FREED_MSG
from adjit.runtime.grad_mode import is_grad_enabled, no_grad
from adjit.runtime.tensor import Tensor

CLEARED_MSG = (
    "saved_tensors can only be accessed once when clear_saved_tensors_on_access=True is set "
    "on the autograd.Function. Either access saved_tensors only once, or set "
    "clear_saved_tensors_on_access=False."
)
RETURNED_AND_SAVED_MSG = (
    "An input that has been returned as-is as output is being saved for backward. This is "
    "not supported if you override setup_context. You should return and save a view of the "
    "input instead, e.g. with x.view_as(x) or setup ctx inside the forward function itself."
)
LEGACY_MSG = (
    "Legacy autograd function with non-static forward method is deprecated. Please use "
    "new-style autograd function with static forward method. (Example: "
    "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)"
)


class FunctionCtx:
    """The ``ctx`` of a custom Function: saves tensors and flags between forward and backward.

    ``saved_tensors`` unpacks what ``save_for_backward`` saved, with PyTorch's errors once
    the graph was freed by a backward without retain_graph, or when a saved tensor was
    modified in place since (``_versions``, recorded when the call returns).
    """

    __module__ = "adjit.autograd.function"  # where PyTorch's lives (printing)

    def __init__(self) -> None:
        self._saved: tuple[Tensor | None, ...] = ()
        self._versions: tuple[int, ...] | None = None
        self._owners: tuple[str | None, ...] = ()  # per saved tensor: "output k of Node"
        self._freed = False
        self._packed = False  # saved_tensors reads () until the call has returned
        self._clear_on_access = False
        self.needs_input_grad: tuple[bool, ...] = ()
        self.materialize_grads = True
        self._non_differentiable: set[int] = set()
        self._dirty: tuple[Tensor, ...] = ()
        self._saved_for_forward: tuple[Any, ...] = ()

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    "save_for_backward can only save variables, but argument "
                    f"{i} is of type {type(t).__name__}"
                )
        self._saved = tensors

    def save_for_forward(self, *tensors: Tensor | None) -> None:
        """What the ``jvp`` staticmethod reads as ``ctx.saved_tensors`` (forward mode)."""
        self._saved_for_forward = tensors

    @property
    def saved_tensors(self) -> tuple[Tensor | None, ...]:
        if not self._packed:  # as PyTorch: packed when the call returns
            return ()
        if self._freed:
            raise RuntimeError(getattr(self, "_freed_msg", FREED_MSG))
        if self._versions is not None:
            for i, (t, v) in enumerate(zip(self._saved, self._versions, strict=True)):
                if t is not None and t._version_box[0] != v:
                    raise _modified(t, v, self._owners[i])
        saved = self._saved
        if self._clear_on_access and self._versions is not None:
            self._freed, self._freed_msg = True, CLEARED_MSG
        return saved

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors: Tensor) -> None:
        self._dirty = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)


def _modified(t: Tensor, expected: int, owner: str | None) -> RuntimeError:
    """PyTorch's error for a saved tensor changed in place since the Function saved it."""
    where = f", which is {owner}," if owner else ""
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: [{t.type()} {list(t.shape)}]{where} is at version "
        f"{t._version_box[0]}; expected version {expected} instead. Hint: enable anomaly "
        "detection to find the operation that failed to compute its gradient, with "
        "torch.autograd.set_detect_anomaly(True, check_nan=False)."
    )


class Function:
    """Subclass with static ``forward(ctx, ...)`` (or ``forward(...)`` plus
    ``setup_context(ctx, inputs, output)``) and ``backward(ctx, *grads)``; call ``.apply``."""

    __module__ = "adjit.autograd.function"

    generate_vmap_rule = False
    clear_saved_tensors_on_access = False
    boxed_grads_call = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn(
            f"{self.__class__} should not be instantiated. Methods on autograd functions are "
            "all static, so you should invoke them on the class itself. Instantiating an "
            "autograd function will raise an error in a future version of PyTorch.",
            DeprecationWarning,
            stacklevel=2,
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(LEGACY_MSG)

    @staticmethod
    def forward(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function."
        )

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> Any:
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    vjp = backward  # PyTorch's alias: a subclass overrides one of them

    @staticmethod
    def jvp(ctx: Any, *grad_inputs: Any) -> Any:
        raise NotImplementedError(
            "You must implement the jvp function for custom autograd.Function to use it "
            "with forward mode AD."
        )

    @staticmethod
    def vmap(info: Any, in_dims: Any, *args: Any) -> Any:
        raise NotImplementedError(
            "To use autograd.Function with vmap, you must either override the vmap "
            "staticmethod or set generate_vmap_rule=True."
        )

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run the forward without recording it; its outputs get the class's backward as
        their grad_fn (eagerly) or derivative rule (traced: Note [custom functions traced])."""
        setup = cls.setup_context is not Function.setup_context
        if setup:
            bound = _signature(cls.forward).bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = bound.args, bound.kwargs
            inputs = args
        else:
            inputs = (*args, *kwargs.values())
        ctx = FunctionCtx()
        ctx._clear_on_access = bool(cls.clear_saved_tensors_on_access)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in inputs)
        trace = trace_state.current()
        if trace is not None and trace.involves([a for a in inputs if isinstance(a, Tensor)]):
            return traced_apply(cls, ctx, inputs, lambda: _forward(cls, ctx, setup, args, kwargs))
        tangents = dual_tangents(inputs)
        if tangents is not None:  # forward AD: the forward's own ops get no tangents
            with forward_grad.paused():
                out = _forward(cls, ctx, setup, args, kwargs)
        else:
            out = _forward(cls, ctx, setup, args, kwargs)
        if is_grad_enabled() and any(ctx.needs_input_grad):
            result = attach(cls, ctx, inputs, out)
        else:
            result = unaliased(ctx, inputs, out)
        if tangents is not None:
            set_output_tangents(cls, ctx, inputs, tangents, result)
        return result


@functools.lru_cache(maxsize=256)
def _signature(forward: Any) -> inspect.Signature:
    return inspect.signature(forward)


def unaliased(ctx: FunctionCtx, inputs: tuple[Any, ...], out: Any) -> Any:
    """``out`` with an input returned as-is (and not marked dirty) replaced by a detached
    alias of it, as PyTorch returns a view of it, also where nothing is recorded."""
    ids = {id(a) for a in inputs if isinstance(a, Tensor)} - {id(t) for t in ctx._dirty}
    if not ids:
        return out
    outs = out if isinstance(out, tuple) else (out,)
    fresh = tuple(o.detach() if id(o) in ids else o for o in outs)
    return fresh if isinstance(out, tuple) else fresh[0]


JVP_MISSING = (
    "You must implement the jvp function for custom autograd.Function to use it with forward "
    "mode AD."
)


def dual_tangents(inputs: tuple[Any, ...]) -> list[Any] | None:
    """Under an open dual level, each input's tangent (None for none), if any has one."""
    if not forward_grad.ACTIVE:
        return None
    found = [forward_grad.tangent(a) if isinstance(a, Tensor) else None for a in inputs]
    return found if any(t is not None for t in found) else None


def set_output_tangents(
    cls: type[Function], ctx: FunctionCtx, inputs: tuple[Any, ...], tangents: list[Any], out: Any
) -> None:
    """Eager forward AD of a call: the outputs' tangents from the user's ``jvp(ctx,
    *tangents)`` (zeros for a tensor input without one, None for the others), its
    ``saved_tensors`` reading what ``save_for_forward`` saved, as in PyTorch."""
    if cls.jvp is Function.jvp:
        raise NotImplementedError(JVP_MISSING)
    ts = [
        (t if t is not None else a.new_zeros(tuple(a.shape))) if isinstance(a, Tensor) else None
        for a, t in zip(inputs, tangents, strict=True)
    ]
    kept = ctx._saved, ctx._packed, ctx._versions
    ctx._saved, ctx._packed, ctx._versions = tuple(ctx._saved_for_forward), True, None
    try:
        with forward_grad.paused():
            returned = cls.jvp(ctx, *ts)
    finally:
        ctx._saved, ctx._packed, ctx._versions = kept
    outs = out if isinstance(out, tuple) else (out,)
    found = returned if isinstance(returned, tuple) else (returned,)
    for o, t in zip(outs, found, strict=False):
        if isinstance(o, Tensor) and isinstance(t, Tensor) and o.dtype.is_floating_point:
            forward_grad.set_tangent(o, t)


def _forward(cls: type[Function], ctx: FunctionCtx, setup: bool, args: tuple, kwargs: dict) -> Any:
    """The user's forward (and setup_context), under no_grad as in PyTorch."""
    with no_grad():
        if not setup:
            return cls.forward(ctx, *args, **kwargs)
        args = tuple(map(unwrapped, args))  # (Note [Function forwards see unwrapped inputs])
        out = cls.forward(*args, **kwargs)
        cls.setup_context(ctx, args, out)
    if is_grad_enabled():
        returned = {id(o) for o in (out if isinstance(out, tuple) else (out,))}
        ids = returned & {id(a) for a in args if isinstance(a, Tensor)}
        if any(id(t) in ids for t in ctx._saved):
            raise RuntimeError(RETURNED_AND_SAVED_MSG)
    return out


from adjit.autograd.eager import attach  # noqa: E402
from adjit.autograd.traced import traced_apply  # noqa: E402
