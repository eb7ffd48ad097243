"""``adjit.autograd.grad_mode``: the gradient modes, and PyTorch's multithreaded-backward switch."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from adjit.runtime.grad_mode import enable_grad, inference_mode, no_grad, set_grad_enabled

__all__ = ["enable_grad", "inference_mode", "no_grad", "set_grad_enabled"]
__all__ += ["is_multithreading_enabled", "set_multithreading_enabled"]

F = TypeVar("F", bound=Callable[..., Any])


class _State(threading.local):
    def __init__(self) -> None:
        self.multithreading = True


_state = _State()


def is_multithreading_enabled() -> bool:
    """Returns True if multithreading is currently enabled."""
    return _state.multithreading


class set_multithreading_enabled:
    """PyTorch's switch for running backward on device worker threads (thread-local; takes
    effect at once, and as a context manager or decorator). adjit's backward always runs on
    the calling thread, as PyTorch's does on CPU: only the flag is kept."""

    def __init__(self, mode: bool) -> None:
        self.prev = _state.multithreading
        _state.multithreading = bool(mode)
        self.mode = mode

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        _state.multithreading = self.prev

    def clone(self) -> set_multithreading_enabled:
        return self.__class__(self.mode)

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.clone():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
