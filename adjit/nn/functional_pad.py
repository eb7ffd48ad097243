"""``F.pad``'s reflect, replicate and circular modes: PyTorch's values, errors and negative pads."""

from __future__ import annotations

from typing import Any

import numpy as np

from adjit.runtime import autocast
from adjit.runtime import functional as R
from adjit.runtime.dispatch import composite
from adjit.runtime.tensor import Tensor

_PAD_NAMES = {"reflect": "ReflectionPad{}DBackward0", "replicate": "ReplicationPad{}DBackward0"}
# (mode, padded dims) -> PyTorch's op under F.pad that its CPU autocast lists (float32)
PAD_OPS = {
    ("reflect", 1): autocast.listed("reflection_pad1d"),
    ("reflect", 2): autocast.listed("reflection_pad2d"),
    **{("replicate", d): autocast.listed(f"replication_pad{d}d") for d in (1, 2, 3)},
}

# Note [negative padding]
# A negative pad crops. PyTorch's reflect and replicate kernels index the *uncropped* input: output
# position j reads input position j - before, reflected about 0 and n - 1 (reflect) or clamped
# to [0, n - 1] (replicate), so a crop on one side and a pad on the other reflect or repeat
# elements that the crop removed. Circular padding crops first and then wraps around what is
# left (m elements): position j reads crop_start + (j - max(before, 0)) mod m. PyTorch copies the
# wrapped strips from the output itself, so a strip longer than m reads memory it is writing:
# it raises (or, when m = 0, would read uninitialized memory), and so does adjit.


def pad_indices(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """The input position each output position reads along one padded dimension."""
    if mode == "circular":
        start = max(-before, 0)
        m = n - start - max(-after, 0)
        return start + np.arange(-max(before, 0), m + max(after, 0)) % max(m, 1)
    pos = np.arange(-before, n + after)
    if mode == "reflect":
        period = 2 * (n - 1)
        pos = np.abs(pos) % period if period else np.zeros_like(pos)
        return np.where(pos >= n, period - pos, pos)
    if mode == "replicate":
        return np.clip(pos, 0, n - 1)
    raise NotImplementedError(f"adjit: padding mode '{mode}' is not implemented")


def _check_reflect_replicate(shape: tuple[int, ...], pad: list[int], mode: str) -> None:
    dims = len(pad) // 2
    sizes = shape[-dims:][::-1]  # W, H, D
    if mode == "reflect":
        for k, n in enumerate(sizes):
            before, after = pad[2 * k], pad[2 * k + 1]
            if before >= n or after >= n:
                raise RuntimeError(
                    f"Argument #{4 + 2 * k}: Padding size should be less than the corresponding "
                    f"input dimension, but got: padding ({before}, {after}) at dimension "
                    f"{len(shape) - 1 - k} of input {list(shape)}"
                )
    outs = [n + pad[2 * k] + pad[2 * k + 1] for k, n in enumerate(sizes)]
    if all(o < 1 for o in outs):
        names = "WHD"[:dims][::-1]
        gap = " " if mode == "replicate" and dims == 2 else ""
        sep = ", " if dims == 2 else " "
        ins = sep.join(f"{c}: {n}" for c, n in zip(names, sizes[::-1], strict=True))
        if dims == 3:  # "D: 2 H: 4, W: 5"
            ins = f"D: {sizes[2]} H: {sizes[1]}, W: {sizes[0]}"
        got = " ".join(f"{c}: {o}" for c, o in zip(names, outs[::-1], strict=True))
        raise RuntimeError(f"input ({ins}{gap}) is too small. Calculated output {got}")
    _check_sizes(shape, outs)


def _check_sizes(shape: tuple[int, ...], outs: list[int]) -> None:
    if any(o < 0 for o in outs):
        out_shape = [*shape[: len(shape) - len(outs)], *outs[::-1]]
        bad = next(o for o in out_shape if o < 0)
        raise RuntimeError(f"Trying to create tensor with negative dimension {bad}: {out_shape}")


def _check_circular(shape: tuple[int, ...], pad: list[int]) -> None:
    dims = len(pad) // 2
    for k in reversed(range(dims)):  # PyTorch checks from the outermost padded dimension
        n, before, after = shape[len(shape) - 1 - k], pad[2 * k], pad[2 * k + 1]
        if before > n or after > n:
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if n + before + after < 0:
            raise RuntimeError("Negative padding value is resulting in an empty dimension")
    if any(shape[len(shape) - 1 - k] + pad[2 * k] + pad[2 * k + 1] == 0 for k in range(dims)):
        return  # an empty result reads nothing
    for k in range(dims):
        n, before, after = shape[len(shape) - 1 - k], pad[2 * k], pad[2 * k + 1]
        m = n - max(-before, 0) - max(-after, 0)
        if m < 0:
            raise RuntimeError(
                f"Negative padding ({before}, {after}) crops more than the {n} elements of "
                f"dimension {len(shape) - 1 - k}"
            )
        if before > m or after > m or (m == 0 and (before > 0 or after > 0)):
            # Note [negative padding]: PyTorch's strip copy would overlap itself
            raise RuntimeError(
                "unsupported operation: some elements of the input tensor and the written-to "
                "tensor refer to a single memory location. Please clone() the tensor before "
                "performing the operation."
            )


def pad_nd(input: Tensor, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:
    """``F.pad`` with the 'reflect', 'replicate' and 'circular' modes too (integer INDEX)."""
    if mode == "constant":
        from adjit.nn import functional as F

        return F.pad(input, pad, value=value)  # (its name: ConstantPadNdBackward0)
    dims = len(pad) // 2
    if len(pad) not in (2, 4, 6) or input.ndim not in (dims + 1, dims + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {input.ndim}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"
        )
    pads = [int(p) for p in pad]
    shape = tuple(input.shape)
    if mode == "circular":
        _check_circular(shape, pads)
    elif mode in ("reflect", "replicate"):
        _check_reflect_replicate(shape, pads, mode)

    def decomposition(a: Tensor) -> Tensor:
        for k in range(dims):
            axis = a.ndim - 1 - k
            idx = pad_indices(a.shape[axis], pads[2 * k], pads[2 * k + 1], mode)
            a = R.getitem(a, (slice(None),) * axis + (Tensor._make(idx),))
        return a

    name = _PAD_NAMES.get(mode, "CopySlices").format(dims)

    def run(a: Tensor) -> Tensor:
        return composite(name, decomposition, a)

    return autocast.run_as(PAD_OPS.get((mode, dims)), run, input)  # type: ignore[no-any-return]
