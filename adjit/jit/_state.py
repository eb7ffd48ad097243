"""Whether the running code is a scripted or traced program's (``is_scripting``, ``is_tracing``)."""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator

# Note [jit runs eagerly]
# adjit has no TorchScript: ``torch.jit.script`` and ``torch.jit.trace`` return objects that
# run the original Python code eagerly, which computes what the scripted or traced program
# computes. Two flags keep the branches the same: while a scripted function or module runs,
# ``is_scripting()`` is True (TorchScript compiles it as the constant True), and while a traced
# one runs (also during trace's own run on the example inputs), ``is_tracing()`` is True (the
# trace records the branch taken under it). What a trace would freeze (a Python branch on
# tensor values, a Python number) is recomputed on every call instead: the eager answer, which
# PyTorch's traced program would give only for inputs that take the traced path (PyTorch warns
# with a TracerWarning there). What needs the TorchScript program itself (``.graph``, ``.code``,
# ``save``, ``load``) raises NotImplementedError naming the feature.

_flags = threading.local()


def _get(name: str) -> bool:
    return getattr(_flags, name, 0) > 0


@contextlib.contextmanager
def running(name: str) -> Iterator[None]:
    """Inside the block, ``is_<name>()`` is True (``name`` is "scripting" or "tracing")."""
    setattr(_flags, name, getattr(_flags, name, 0) + 1)
    try:
        yield
    finally:
        setattr(_flags, name, getattr(_flags, name) - 1)


def is_scripting() -> bool:
    """True while a scripted function or module runs (Note [jit runs eagerly]), else False."""
    return _get("scripting")


def is_tracing() -> bool:
    """True while a traced function or module runs, or trace runs it (Note [jit runs eagerly])."""
    return _get("tracing")


def no_program(feature: str) -> NotImplementedError:
    """The refusal of what needs a TorchScript program (Note [jit runs eagerly])."""
    return NotImplementedError(
        f"{feature}: adjit has no TorchScript; its scripted and traced objects run the Python "
        "code eagerly, so there is no TorchScript program to show or save (save the "
        "state_dict with torch.save instead)"
    )


def deprecated(name: str, switch: bool = False) -> None:
    """PyTorch 2.13's DeprecationWarning of ``torch.jit.<name>`` (at the library's line, so
    hidden by default as PyTorch's is)."""
    advice = "switch to `torch.compile` or `torch.export`" if switch else "use `torch.compile`"
    tail = "" if switch else " instead"
    warnings.warn(
        f"`torch.jit.{name}` is deprecated. Please {advice}{tail}.",
        DeprecationWarning,
        stacklevel=3,
    )
