"""Helpers for the data-loading tests: run one program under adjit and under PyTorch, and
compare results structurally (tensor values, shapes and dtypes; container types)."""

from __future__ import annotations

from typing import Any

import numpy as np


def libs() -> tuple[Any, Any]:
    """(adjit, adjit.utils.data) and (torch, torch.utils.data)."""
    import torch
    import torch.utils.data

    import adjit.utils.data

    return (adjit, adjit.utils.data), (torch, torch.utils.data)


def canon(v: Any) -> Any:
    """A comparable form: tensors as (dtype name, shape, values), containers kept by type."""
    if hasattr(v, "tolist") and hasattr(v, "dtype") and hasattr(v, "shape"):
        kind = "np" if isinstance(v, np.ndarray | np.generic) else "T"
        return (kind, str(v.dtype), tuple(v.shape), v.tolist())
    if isinstance(v, tuple) and hasattr(v, "_fields"):
        return (type(v).__name__, tuple(canon(x) for x in v))
    if isinstance(v, dict):
        return ("dict", {k: canon(x) for k, x in v.items()})
    if isinstance(v, list | tuple):
        return (type(v).__name__, [canon(x) for x in v])
    return (type(v).__name__, v)


def both(program: Any) -> tuple[Any, Any]:
    """``program(lib, data)`` under adjit and torch, each result in canonical form."""
    (a, ad), (t, td) = libs()
    return canon(program(a, ad)), canon(program(t, td))


def error_of(fn: Any) -> tuple[type, str] | None:
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the test compares any exception's type and text
        return type(e), str(e)
    return None
