"""torch.func's helpers: functionalize, replace_all_batch_norm_modules_, debug_unwrap."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from adjit.nn.module import Module
from adjit.nn.normalization import _BatchNorm
from adjit.runtime.tensor import Tensor


def functionalize(func: Callable[..., Any], *, remove: str = "mutations") -> Callable[..., Any]:
    """``func`` with its mutations removed, as ``torch.func.functionalize``. adjit's transforms
    and compiler already work on a functional program (a traced in-place op is a new value,
    written back to an argument after the call), so the result behaves as ``func`` does:
    same values, and the same updates of mutated arguments, as in PyTorch."""
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError(
            f"functionalize(f, remove='mutations'): received invalid argument for remove={remove}."
            " Valid options are:\n"
            "     remove='mutations': all inplace and out= operators will be removed from the "
            "program, and replaced with their out-of-place equivalents.\n"
            "     remove='mutations_and_views': In addition to the above, all aliasing operators "
            "{view} will be replaced with their non-aliasing counterparts, {view}_copy.\n"
        )

    @functools.wraps(func)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapped


def replace_all_batch_norm_modules_(root: Module) -> Module:
    """Every BatchNorm module in ``root`` stops tracking running statistics (in place), so it
    normalizes with batch statistics under ``vmap``, as ``torch.func``'s."""
    for m in root.modules():
        if isinstance(m, _BatchNorm) and m.track_running_stats:
            m.running_mean = None
            m.running_var = None
            m.num_batches_tracked = None
            m.track_running_stats = False
    return root


def debug_unwrap(tensor: Tensor, *, recurse: bool = True) -> Tensor:
    """The tensor under functorch's wrappers. adjit's transforms trace instead of wrapping
    tensors, so a tensor is never wrapped: it is returned as it is."""
    return tensor
