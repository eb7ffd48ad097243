"""The exceptions adjit raises for bad programs; each names the op, shapes and dtypes."""

from __future__ import annotations


class ShapeError(RuntimeError):
    """Operands whose shapes (or dtypes) an op cannot accept. A RuntimeError, as in PyTorch."""


class _LinAlgError(RuntimeError):  # noqa: N801 - PyTorch's class name (torch._C._LinAlgError)
    """A singular or non-positive-definite matrix: ``adjit.linalg.LinAlgError``, as PyTorch's."""
