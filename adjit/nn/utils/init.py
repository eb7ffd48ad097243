"""``skip_init``: build a module without spending its initializers' random draws."""

from __future__ import annotations

import inspect
from typing import Any

from adjit.nn.module import Module


def skip_init(module_cls: Any, *args: Any, **kwargs: Any) -> Module:
    """Instantiate ``module_cls`` leaving the global generator as it was: the parameter values
    are unspecified (PyTorch's are ``torch.empty``; ours are whatever the initializers drew)."""
    from adjit import random

    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    state = random.get_rng_state()
    try:
        return module_cls(*args, **kwargs)
    finally:
        random.set_rng_state(state)
