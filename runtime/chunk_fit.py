"""A training step's column steps given smaller chunks where their buffers make its peak."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .buffer_plan import BufferPlan, nbytes
from .column_grads import chunked, rechunked
from .executor import STEP_IO

# Note [chunks fitted to the peak]
# A convolution's column steps (Note [weight gradient by chunks] in column_grads.py) unfold
# and multiply chunks of about CHUNK_BYTES (2 MB) of columns: larger chunks run faster (wider
# GEMMs, fewer calls: resnet18 b8's step, interleaved in one process at 1 thread, 152.6 ms
# CPU with 2 MB chunks everywhere, 158.5 with 1 MB, 165.7 with 0.6 MB in up to 8 chunks). A
# chunk's buffers live only during its step, but when that step comes at the training step's
# peak of live bytes they add to it: resnet18 b8's peak came in layer2's backward, 43.7 MB of
# gradients made (Note [gradients in the step's arena] in joint_arena.py), 9.75 MB of
# residuals and 1.97 MB of columns, 7 of 8 images, where PyTorch unfolds one image (0.3 MB).
# So ``fit`` plans a training step, takes each column step's bytes live without its chunk
# buffers (``base``), and the lowest peak any chunks allow: the most bytes live at a step that
# is not a column step, or at a column step with chunks of one image (or channel). Each column
# step then gets the largest chunks that keep it at or below that level, and the step is
# planned again, kept when its arena is smaller. Only the steps at the peak pay for smaller
# chunks (resnet18 b8: layer2's three input gradients 7 -> 3 images and weight gradients by
# 113 -> 59-65 channels, one of layer1's 3 -> 2 images; its step's CPU time unchanged within
# noise). A weight gradient by chunks of images sums its chunks' products, so smaller
# chunks change its rounding (as PyTorch's per-image sums differ from one GEMM's: within
# float32 tolerances, Note [weight gradient by chunks]); by chunks of channels each element is
# still one GEMM's sum over the batch, a narrower GEMM perhaps blocking it otherwise; an
# input's gradient (FoldProduct) sums nothing across images. resnet18 b8's arena (1 thread):
# 56.30 -> 55.55 MB, its live peak 55.08 (layer2's weight gradients, and the max pool's
# backward with its 4.5 MB masked product at about the same level); 55.46 without that
# product (Note [max pool by its index] in nn/functional_pool.py): step 55.5 MB, torch 55.5.
Plans = tuple[BufferPlan, BufferPlan]  # a training step's plan, and its backward's


def _live_bytes(plan: BufferPlan) -> list[int]:
    """The planned bytes live at each step (a value written in place over its input counted
    once, as buffer_plan.peak_live_bytes counts)."""
    ends = [hi for v, (_, hi) in plan.live.items() if v in plan.offset_of]
    delta = [0] * (max(ends, default=0) + 2)
    for v in plan.offset_of:
        lo, hi = plan.live[v]
        lo += v in plan.shared  # (its input's bytes at the step that writes it)
        if lo <= hi:
            delta[lo] += nbytes(v)
            delta[hi + 1] -= nbytes(v)
    live, out = 0, []
    for d in delta[:-1]:
        live += d
        out.append(live)
    return out


def _buffers(step: Any) -> int:
    """Bytes of a column step's buffers other than its result."""
    return sum(nbytes(v) for v in STEP_IO[type(step)](step).pooled[1:])


def fit(steps: Sequence[Any], plan_of: Callable[[Sequence[Any]], Plans]) -> tuple[list[Any], Plans]:
    """``steps`` (a training step's forward steps then its backward's) with each column step
    given the largest chunks that keep it below the lowest peak of live bytes any chunks
    allow, and their plans (``plan_of(steps)``, the first planning all of ``steps``), when
    that takes a smaller arena (Note [chunks fitted to the peak])."""
    steps = list(steps)
    plans = plan_of(steps)
    chunks = {t: c for t, s in enumerate(steps) if (c := chunked(s)) > 1}
    live = _live_bytes(plans[0])
    if not chunks or len(live) < len(steps):
        return steps, plans
    base = {t: live[t] - _buffers(steps[t]) for t in chunks}  # without the chunk's buffers
    level = max(
        max((b for t, b in enumerate(live) if t not in chunks), default=0),
        max(base[t] + _buffers(rechunked(steps[t], 1)) for t in chunks),
    )
    changed = list(steps)
    for t, count in chunks.items():
        while count > 1 and base[t] + _buffers(changed[t]) > level:
            count -= 1
            changed[t] = rechunked(steps[t], count)
    if all(a is b for a, b in zip(changed, steps, strict=True)):
        return steps, plans
    other = plan_of(changed)
    return (changed, other) if other[0].arena_bytes < plans[0].arena_bytes else (steps, plans)
