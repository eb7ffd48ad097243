"""torch.has_cuda, has_mps, has_cudnn, has_mkldnn: deprecated names answered by torch.backends."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from adjit.backends import cuda, cudnn, mkldnn, mps

# PyTorch's torch._deprecated_attrs: each name warns and calls its replacement
DEPRECATED: dict[str, tuple[str, Callable[[], bool]]] = {
    "has_mps": ("torch.backends.mps.is_built", mps.is_built),
    "has_cuda": ("torch.backends.cuda.is_built", cuda.is_built),
    "has_cudnn": ("torch.backends.cudnn.is_available", cudnn.is_available),
    "has_mkldnn": ("torch.backends.mkldnn.is_available", mkldnn.is_available),
}


def module_getattr(name: str) -> Any:
    """The package's ``__getattr__`` (PEP 562): a deprecated name warns as PyTorch's."""
    if name in DEPRECATED:
        replacement, fn = DEPRECATED[name]
        warnings.warn(f"'{name}' is deprecated, please use '{replacement}()'", stacklevel=2)
        return fn()
    raise AttributeError(f"module 'adjit' has no attribute '{name}'")
