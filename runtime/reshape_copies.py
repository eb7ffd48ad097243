"""Reshapes that must copy (a permuted view whose rows are not one block) write into a pooled
buffer instead of a fresh array (Note [reshape copies])."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..ir.graph import Eqn, Graph, Var
from ..ir.ops import Op
from ..passes.record import Record

if TYPE_CHECKING:
    from .executor import Buffers, Env

# Note [reshape copies]
# A RESHAPE, PERMUTE or EXPAND extern runs NumPy's rule, which returns a view whenever one
# exists: reshapes of contiguous arrays, permutes and expands never copy. A reshape of a
# permuted view whose merged axes are not adjacent in memory cannot be a view (convolution's
# columns, (N, C k k, L) permuted to (C k k, N, L) and read as the (C k k, N L) matrix BLAS
# needs, and the output gradient the other way): NumPy then allocates a fresh array at every
# call, and for resnet18's megabyte-sized columns the fresh pages cost more than the copy
# (page faults on first touch: the same 143 copies took 6-20 ms of a step). Which reshapes copy
# follows from the strides of their operands, known before the first call: every pooled value,
# graph input and constant is C-contiguous, and permutes, reshapes and expands of them have
# NumPy's strides (``strides_after`` replays them on (shape, strides) pairs). A reshape found to
# copy becomes a ReshapeCopy step: its value is pooled (planned in the arena, Note [buffer
# planning]) and the copy is written there, warm memory reused across calls. It copies even
# when a view would do (a graph input found strided at run time: a copy is the same value),
# so its StepIO says pooled and not aliasing its input: the input's live range ends at the
# copy. (It returned the view then, and was planned as maybe aliasing: a convolution's output
# gradient was kept alive with its (C, N L) copy until the copy's last reader, 2 MB at
# VGG-11 b8's step peak: its arena 30.5 -> 29.5 MB, resnet18 b8's 13.76 -> 13.63.)

Layout = tuple[tuple[int, ...], tuple[int, ...]]  # (shape, strides in elements)


def c_strides(shape: Sequence[int]) -> tuple[int, ...]:
    out, step = [], 1
    for n in reversed(shape):
        out.append(step)
        step *= max(int(n), 1)
    return tuple(reversed(out))


def view_strides(shape: Sequence[int], strides: Sequence[int], new: Sequence[int]):
    """The strides of ``new`` as a view of an array with ``shape`` and ``strides`` (C order), or
    None when the reshape must copy (NumPy's ``_attempt_nocopy_reshape``)."""
    if 0 in shape:
        return c_strides(new)
    old = [(n, s) for n, s in zip(shape, strides, strict=True) if n != 1]
    out = [0] * len(new)
    oi, oj, ni, nj = 0, 1, 0, 1
    while ni < len(new) and oi < len(old):
        np_, op = new[ni], old[oi][0]
        while np_ != op:
            if np_ < op:
                np_ *= new[nj]
                nj += 1
            else:
                op *= old[oj][0]
                oj += 1
        for ok in range(oi, oj - 1):
            if old[ok][1] != old[ok + 1][0] * old[ok + 1][1]:
                return None
        out[nj - 1] = old[oj - 1][1]
        for nk in range(nj - 1, ni, -1):
            out[nk - 1] = out[nk] * new[nk]
        ni, nj, oi, oj = nj, nj + 1, oj, oj + 1
    return tuple(out)


def _after(e: Eqn, src: Layout) -> Layout | None:
    """The layout of ``e``'s value from its operand's (None: unknown)."""
    shape, strides = src
    if e.op is Op.PERMUTE:
        axes = e.attrs["axes"]
        return tuple(shape[a] for a in axes), tuple(strides[a] for a in axes)
    new = tuple(e.out.aval.shape)
    if e.op is Op.RESHAPE:
        st = view_strides(shape, strides, new)
        return new, st if st is not None else c_strides(new)
    if e.op is Op.EXPAND:
        lead = len(new) - len(shape)
        kept = [0 if n != m else s for n, m, s in zip(shape, new[lead:], strides, strict=True)]
        return new, (0,) * lead + tuple(kept)
    return None


def copying_reshapes(graph: Graph, steps: Iterable[Eqn | Var]) -> set[int]:
    """Ids of the RESHAPE equations that copy (Note [reshape copies]); ``steps`` are the
    program's values in order: a Var for a fresh C-contiguous value (a kernel's, BLAS's), an
    Eqn for an extern's (replayed when it moves data; its value unknown otherwise)."""
    known: dict[Var, Layout] = {}
    for v in (*graph.inputs, *(v for v, _ in graph.consts)):
        known[v] = (tuple(v.aval.shape), c_strides(v.aval.shape))
    copies: set[int] = set()
    for item in steps:
        shape = tuple(item.aval.shape if isinstance(item, Var) else item.out.aval.shape)
        if not all(isinstance(n, int) for n in shape):
            continue
        if isinstance(item, Var):
            known[item] = (shape, c_strides(shape))
            continue
        e = item
        src = e.inputs[0] if e.inputs else None
        layout = known.get(src) if isinstance(src, Var) else None
        if layout is None or e.op not in (Op.PERMUTE, Op.RESHAPE, Op.EXPAND):
            continue
        if e.op is Op.RESHAPE and view_strides(*layout, shape) is None:
            copies.add(id(e))
        after = _after(e, layout)
        if after is not None:
            known[e.out] = after
    return copies


def _copy_unless_view(
    e: Eqn, env: Env, ptrs: dict[Var, int], bufs: Buffers, data: np.ndarray, view: bool
) -> None:
    """``e``'s result: ``data`` (its elements in the result's order) copied into the pooled
    buffer, or, when ``view`` (or the dtype changes), the NumPy rule's view or converting copy."""
    if view or data.dtype != e.out.aval.dtype.np:
        from .executor import _interpret_eqn

        env[e.out] = _interpret_eqn(e, env)
        return
    out, p = bufs.get(e.out)
    np.copyto(out.reshape(data.shape), data)
    env[e.out], ptrs[e.out] = out, p


class ReshapeCopy(Record):
    """A RESHAPE that copies into a pooled buffer (Note [reshape copies])."""

    __slots__ = FIELDS = ("eqn",)
    eqn: Eqn

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:
        _copy_unless_view(self.eqn, env, ptrs, bufs, env[self.eqn.inputs[0]], False)  # type: ignore[index]


# Note [permute copies]: a kernel reads its operands contiguous (fused loops index them by
# their logical shape), so a permuted view feeding one (a convolution's output, the GEMM's
# (C_out, N, OH, OW) read as (N, C_out, OH, OW), Note [one GEMM for the batch]) was copied by
# ``np.ascontiguousarray`` at every call: a fresh array, page faults on first touch (resnet18's
# batch-norm sums after its 20 convs took ~2.5x as long as the same sums of contiguous data).
# Such a PERMUTE becomes a PermuteCopy step: the copy goes to a pooled buffer (planned in the
# arena), and the kernels read it in place. A permute whose result is contiguous anyway stays
# a view, so, like a ReshapeCopy, its StepIO says both pooled and aliasing.


class PermuteCopy(Record):
    """A PERMUTE read by a kernel: copied into a pooled buffer unless already contiguous."""

    __slots__ = FIELDS = ("eqn",)
    eqn: Eqn

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:
        e = self.eqn
        moved = env[e.inputs[0]].transpose(e.attrs["axes"])  # type: ignore[index]
        _copy_unless_view(e, env, ptrs, bufs, moved, moved.flags.c_contiguous)


def with_permute_copies(steps: list[Any], extern: type, kernel: type) -> list[Any]:
    """``steps`` with each PERMUTE ``extern`` step whose value a ``kernel`` step reads as a
    PermuteCopy (Note [permute copies])."""
    read = {v for s in steps if isinstance(s, kernel) for v in s.kernel.inputs}
    return [
        PermuteCopy(s.eqn)
        if isinstance(s, extern)
        and s.eqn.op is Op.PERMUTE
        and isinstance(s.eqn.inputs[0], Var)
        and s.eqn.out in read
        else s
        for s in steps
    ]
