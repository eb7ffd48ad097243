"""Grad mode: whether ops record history (no_grad, enable_grad, set_grad_enabled)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _State(threading.local):
    # a class-level default: reading a thread-local attribute that was never set costs a
    # caught AttributeError (~1.2 µs, and every op asks)
    enabled = True
    inference = False  # inside inference_mode(): new tensors are inference tensors


_state = _State()


class InferenceBox(list):
    """The version counter of an inference tensor (and its views): one that PyTorch's
    ``_version`` refuses to read (Note [inference tensors])."""


# Note [inference tensors]
# ~~~~~~~~~~~~~~~~~~~~~~~~
# Tensors made inside inference_mode() are inference tensors, as PyTorch's: they and their views
# (which share the version box, so the mark is the box's type) say is_inference(), have no
# version counter, refuse in-place updates and being saved for backward once outside the mode,
# and refuse requires_grad_() there. Views of normal tensors stay normal.

INFERENCE_SAVED_MSG = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in "
    "inference mode in computation tracked by autograd. To work around this, you can make a "
    "clone to get a normal tensor and use it in autograd, or use `torch.no_grad()` instead of "
    "`torch.inference_mode()`."
)
INFERENCE_INPLACE_MSG = (
    "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a "
    "clone to get a normal tensor before doing inplace update.See "
    "https://github.com/pytorch/rfcs/pull/17 for more details."
)


def is_inference_mode_enabled() -> bool:
    return _state.inference


def is_inference(input: Any) -> bool:  # noqa: A002
    """Whether the tensor ``input`` was made inside inference_mode() (Note [inference tensors])."""
    return type(input._version_box) is InferenceBox


def outside_inference(box: list[int]) -> bool:
    """Whether a tensor with this version box is an inference tensor used outside the mode."""
    return type(box) is InferenceBox and not _state.inference


def is_grad_enabled() -> bool:
    return _state.enabled


def _set(mode: bool) -> None:
    _state.enabled = bool(mode)


class _GradModeContext:
    """A context manager that is also a decorator, like PyTorch's."""

    mode: bool

    def __enter__(self) -> None:
        self._prev = is_grad_enabled()
        _set(self.mode)

    def __exit__(self, *exc: object) -> None:
        _set(self._prev)

    def __call__(self, fn: F) -> F:
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = is_grad_enabled()
            _set(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _set(prev)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradModeContext):
    """Disable gradient recording inside the block or the decorated function."""

    def __init__(self) -> None:
        self.mode = False


class enable_grad(_GradModeContext):
    """Enable gradient recording inside the block or the decorated function."""

    def __init__(self) -> None:
        self.mode = True


class set_grad_enabled(_GradModeContext):
    """Set gradient recording on or off; takes effect at once, and as a context manager."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._prev = is_grad_enabled()
        _set(self.mode)

    def __enter__(self) -> None:
        _set(self.mode)

    def __exit__(self, *exc: object) -> None:
        _set(self._prev)


class inference_mode(_GradModeContext):
    """no_grad whose new tensors are inference tensors (Note [inference tensors]);
    ``inference_mode(False)`` inside it makes normal tensors again."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = not mode
        self.inference = bool(mode)

    def __enter__(self) -> None:
        self._prev_inference = _state.inference
        super().__enter__()
        _state.inference = self.inference

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        _state.inference = self._prev_inference

    def __call__(self, fn: F) -> F:
        ctx = self

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(ctx)(ctx.inference):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
