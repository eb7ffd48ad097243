"""The exceptions adjit raises for bad programs; each names the op, shapes and dtypes."""

from __future__ import annotations


class ShapeError(RuntimeError):
    """Operands whose shapes (or dtypes) an op cannot accept. A RuntimeError, as in PyTorch."""


# Note [shape errors print as PyTorch's]
# Programs print what they catch (``f"{type(e).__name__}: {e}"``) and paste tracebacks, and
# adjit is read side by side with PyTorch: a shape error's text is PyTorch's own, and its class
# prints as RuntimeError (``ShapeError`` stays the name to catch it by: ``adjit.ShapeError``). What
# adjit adds, the op and every operand's dtype and shape, is an exception note: a traceback shows
# it under the message, ``str(e)`` does not (ir/shapes.py's ``infer``).
ShapeError.__name__ = ShapeError.__qualname__ = "RuntimeError"
ShapeError.__module__ = "builtins"


def with_notes(e: BaseException) -> str:
    """``e``'s text followed by its notes (Note [shape errors print as PyTorch's])."""
    return " ".join([str(e), *getattr(e, "__notes__", ())])


class _LinAlgError(RuntimeError):  # noqa: N801 - PyTorch's class name (torch._C._LinAlgError)
    """A singular or non-positive-definite matrix: ``adjit.linalg.LinAlgError``, as PyTorch's."""
