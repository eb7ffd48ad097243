"""The value of ``t[index] = value`` fitted to the indexed shape as PyTorch's setitem fits it:
leading size-1 dimensions dropped (slicePrefix1sDims), then expanded (copy_to) or broadcast
(index_put_), with PyTorch's refusal texts."""

from __future__ import annotations

from .tensor import Tensor


def fit_value(v: Tensor, target: tuple[int, ...], advanced: bool) -> Tensor:
    """``v`` without its leading 1s, checked to broadcast to ``target``."""
    shape = tuple(v.shape)
    lead = next((i for i, n in enumerate(shape) if n != 1), len(shape))
    stripped = shape[lead:]
    if advanced:
        _check_index_put(stripped, target)
    else:
        _check_expand(stripped, target, v.dtype.type_name)
    return v.reshape(stripped) if lead and v.ndim else v


def _check_index_put(shape: tuple[int, ...], target: tuple[int, ...]) -> None:
    fits = len(shape) <= len(target) and all(
        n in (1, m) for n, m in zip(shape[::-1], target[::-1], strict=False)
    )
    if not fits:
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {list(shape)} cannot be broadcast to "
            f"indexing result of shape {list(target)}"
        )


def _check_expand(shape: tuple[int, ...], target: tuple[int, ...], type_name: str) -> None:
    lead = len(target) - len(shape)
    if lead < 0:
        raise RuntimeError(
            f"expand(torch.{type_name}Tensor{{{list(shape)}}}, size={list(target)}): the "
            f"number of sizes provided ({len(target)}) must be greater or equal to the number "
            f"of dimensions in the tensor ({len(shape)})"
        )
    for i, n in enumerate(shape):
        if n not in (1, target[lead + i]):
            raise RuntimeError(
                f"The expanded size of the tensor ({target[lead + i]}) must match the existing "
                f"size ({n}) at non-singleton dimension {lead + i}.  Target sizes: "
                f"{list(target)}.  Tensor sizes: {list(shape)}"
            )
