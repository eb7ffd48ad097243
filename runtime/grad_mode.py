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


_state = _State()


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
    """Like no_grad (adjit keeps no extra inference-only state)."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = not mode
