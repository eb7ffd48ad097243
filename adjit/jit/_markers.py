"""TorchScript's decorators, annotations and fork/wait: in eager code they return what they wrap."""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections import namedtuple
from collections.abc import Callable, Iterator
from typing import Any, Final  # torch.jit.Final is typing.Final

from adjit.jit._state import deprecated, no_program

__all__ = ["Attribute", "Error", "Final", "Future", "annotate", "export", "fork", "ignore"]
__all__ += ["interface", "load", "optimized_execution", "save", "script_if_tracing"]
__all__ += ["unused", "wait", "CompilationUnit", "enable_onednn_fusion", "export_opnames"]
__all__ += ["onednn_fusion_enabled", "set_fusion_strategy", "strict_fusion"]

Attribute = namedtuple("Attribute", ["value", "type"])  # a ScriptModule attribute's declaration


class Error(Exception):
    """TorchScript's run-time error type (``torch.jit.Error``)."""


def ignore(drop: Any = False, **kwargs: Any) -> Any:
    """Leave a function to Python: eagerly, the function itself (``@ignore`` or
    ``@ignore(drop=True)``)."""
    if callable(drop):
        drop._torchscript_modifier = "ignore"
        return drop

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn._torchscript_modifier = "unused" if drop else "ignore"  # type: ignore[attr-defined]
        return fn

    return decorator


def unused(fn: Any) -> Any:
    """A method TorchScript would replace by a raise: eagerly, the method itself."""
    if isinstance(fn, property):
        return fn
    fn._torchscript_modifier = "unused"
    return fn


def export(fn: Any) -> Any:
    """A method TorchScript compiles besides ``forward``: eagerly, the method itself."""
    fn._torchscript_modifier = "export"
    return fn


def interface(obj: Any) -> Any:
    """A TorchScript interface declaration: eagerly, the class itself."""
    deprecated("interface")
    if not isinstance(obj, type):
        raise RuntimeError("interface must be applied to a class")
    return obj


def annotate(the_type: Any, the_value: Any) -> Any:
    """A type hint for TorchScript: eagerly, ``the_value``."""
    return the_value


def script_if_tracing(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Script ``fn`` only when called under tracing: eagerly, ``fn`` (Note [jit runs eagerly])."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    wrapper.__original_fn = fn  # type: ignore[attr-defined]
    return wrapper


class Future:
    """A completed value (``torch.jit.Future``): ``fork`` runs its function at once, as
    PyTorch's eager ``fork`` does."""

    def __init__(self) -> None:
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[Future], Any]] = []

    def __repr__(self) -> str:
        return f"<torch.jit.Future object at {hex(id(self))}>"

    def done(self) -> bool:
        return self._done

    def wait(self) -> Any:
        if not self._done:
            raise RuntimeError("adjit's Future is completed only by set_result/set_exception")
        if self._error is not None:
            raise self._error
        return self._value

    def value(self) -> Any:
        return self.wait()

    def set_result(self, result: Any) -> None:
        self._value, self._done = result, True
        self._run_callbacks()

    def set_exception(self, result: BaseException) -> None:
        self._error, self._done = result, True
        self._run_callbacks()

    def then(self, callback: Callable[[Future], Any]) -> Future:
        out = Future()
        self.add_done_callback(functools.partial(_chain, callback, out))
        return out

    def add_done_callback(self, callback: Callable[[Future], Any]) -> None:
        self._callbacks.append(callback)
        if self._done:
            self._run_callbacks()

    def _run_callbacks(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)


def _chain(callback: Callable[[Future], Any], out: Future, fut: Future) -> None:
    try:
        out.set_result(callback(fut))
    except Exception as e:  # the chained future carries it, as PyTorch's then does
        out.set_exception(e)


class _ForkedFuture(Future):
    def __repr__(self) -> str:
        return f"<torch.Future object at {hex(id(self))}>"  # fork's is torch._C.Future


def fork(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
    """Run ``func(*args, **kwargs)`` now and return its completed Future (an exception is
    raised here, as in PyTorch's eager fork)."""
    deprecated("fork")
    fut = _ForkedFuture()
    fut.set_result(func(*args, **kwargs))
    return fut


def wait(future: Future) -> Any:
    """The value of a forked call."""
    deprecated("wait")
    return future.wait()


@contextlib.contextmanager
def optimized_execution(should_optimize: bool) -> Iterator[None]:
    """TorchScript's graph-executor switch: eagerly there is nothing to optimize."""
    yield


def save(m: Any, f: Any, _extra_files: Any = None) -> None:
    """Refused: there is no TorchScript program to write (Note [jit runs eagerly])."""
    raise no_program("torch.jit.save")


def load(
    f: Any, map_location: Any = None, _extra_files: Any = None, _restore_shapes: bool = False
) -> Any:
    """Refused: adjit cannot run a TorchScript archive (Note [jit runs eagerly])."""
    raise no_program("torch.jit.load")


_fusion_strategy: list[tuple[str, int]] = [("STATIC", 2), ("DYNAMIC", 10)]
_onednn_fusion = False


def set_fusion_strategy(strategy: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Record TorchScript's fusion strategy (nothing is fused eagerly); returns the previous."""
    global _fusion_strategy
    deprecated("set_fusion_strategy")
    for behavior, _ in strategy:
        if behavior not in ("STATIC", "DYNAMIC"):
            raise ValueError(
                f"FusionBehavior only supported 'STATIC' or 'DYNAMIC', got: {behavior}"
            )
    previous, _fusion_strategy = _fusion_strategy, list(strategy)
    return previous


def enable_onednn_fusion(enabled: bool) -> None:
    """Record the oneDNN fusion switch (nothing is fused eagerly)."""
    global _onednn_fusion
    _onednn_fusion = bool(enabled)


def onednn_fusion_enabled() -> bool:
    return _onednn_fusion


class strict_fusion:
    """TorchScript's "everything in this block must fuse" check: eagerly, a warning."""

    def __init__(self) -> None:
        warnings.warn("Only works in script mode", stacklevel=2)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: Any) -> None:
        pass


class CompilationUnit:
    """Refused: it compiles TorchScript source text (Note [jit runs eagerly])."""

    def __init__(self, lang: str | None = None, _frames_up: int = 0) -> None:
        raise no_program("torch.jit.CompilationUnit")


def export_opnames(m: Any) -> list[str]:
    """Refused: the operator names of a TorchScript program (Note [jit runs eagerly])."""
    raise no_program("torch.jit.export_opnames")
