"""``torch.utils.hooks``: the handle every ``register_*_hook`` returns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adjit.nn._module_state import RemovableHandle

__all__ = ["RemovableHandle", "unserializable_hook"]


def unserializable_hook(f: Callable[..., Any]) -> Callable[..., Any]:
    """Mark ``f`` as a hook that is not saved with its tensor (PyTorch's marker attribute)."""
    f.__torch_unserializable__ = True  # type: ignore[attr-defined]
    return f
