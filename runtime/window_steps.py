"""A convolution's UNFOLD written straight into the (C kh kw, N L) matrix its GEMM reads (Note
[columns in the GEMM's layout])."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..ir.graph import Eqn, Graph, Var
from ..ir.interpreter import eval_eqn_arrays
from ..ir.ops import Op
from ..passes.record import Record
from . import split_windows
from .buffer_plan import StepIO

if TYPE_CHECKING:
    from .executor import Buffers, Env

# Note [columns in the GEMM's layout]
# A convolution multiplies the weight by the columns of the whole batch, the (C kh kw, N L)
# matrix (Note [one GEMM for the batch] in adjit/nn/functional_conv.py): UNFOLD's (N, C kh kw, L)
# permuted to (C kh kw, N, L) and reshaped, a reshape that must copy (Note [reshape copies]).
# The copy is as large as the columns, and written right after them: for resnet18 at batch 8
# the 20 copies were ~6 ms of a ~165 ms step. When the columns are read only by that permute
# and the permute only by that reshape, one UnfoldColumns step replaces the three: the compiled
# UNFOLD writes the matrix through the strides of its (N, C kh kw, L) view (Note [strided
# columns] in codegen/windows.py), images innermost (Note [loop order of the windows]).

_MATRIX_AXES = (1, 0, 2)


class UnfoldColumns(Record):
    """UNFOLD, PERMUTE (1, 0, 2) and RESHAPE to (C kh kw, N L) as one write into the
    reshape's pooled buffer."""

    __slots__ = FIELDS = ("unfold", "matrix")
    unfold: Eqn
    matrix: Eqn  # the RESHAPE whose value the step writes

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:
        from ..codegen import windows as compiled  # imports llvmlite.ir: lazily

        e = self.unfold
        x = env[e.inputs[0]]  # type: ignore[index]
        out, p = bufs.get(self.matrix.out)
        n, rows, cells = e.out.aval.shape
        view = out.reshape(rows, n, cells).transpose(_MATRIX_AXES)
        if x.dtype == out.dtype and compiled.supported("unfold", x.dtype):
            split_windows.unfold_into(np.ascontiguousarray(x), view, **e.attrs)
        else:  # the NumPy rule, then the copy
            args = [x]
            np.copyto(view, eval_eqn_arrays(e.op, e.attrs, args, [e.inputs[0].aval], e.out.aval))
        env[self.matrix.out], ptrs[self.matrix.out] = out, p

    def io(self) -> StepIO:
        return StepIO(self.unfold.inputs, (self.matrix.out,), ())


def _matrix_of(e: Eqn, uses: Counter[Var], reader: dict[Var, Eqn]) -> Eqn | None:
    """The RESHAPE to (C kh kw, N L) that alone reads ``e``'s columns through a permute."""
    if e.op is not Op.UNFOLD or uses[e.out] != 1:
        return None
    perm = reader.get(e.out)
    if perm is None or perm.op is not Op.PERMUTE or tuple(perm.attrs["axes"]) != _MATRIX_AXES:
        return None
    reshape = reader.get(perm.out)
    n, rows, cells = e.out.aval.shape
    if uses[perm.out] != 1 or reshape is None or reshape.op is not Op.RESHAPE:
        return None
    if tuple(reshape.out.aval.shape) != (rows, n * cells):
        return None
    return reshape if reshape.out.aval.dtype == e.out.aval.dtype else None


def sole_readers(graph: Graph) -> tuple[Counter[Var], dict[Var, Eqn]]:
    """How many times each value of ``graph`` is read (its outputs count as readers), and the
    equation reading each value read exactly once."""
    uses: Counter[Var] = Counter(a for e in graph.eqns for a in e.inputs if isinstance(a, Var))
    uses.update(o for o in graph.outputs if isinstance(o, Var))
    reader = {a: e for e in graph.eqns for a in e.inputs if isinstance(a, Var) and uses[a] == 1}
    return uses, reader


def with_unfold_columns(graph: Graph, steps: Sequence[Any]) -> list[Any]:
    """``steps`` (the executor's) with each UNFOLD that only feeds its GEMM's column matrix as
    an UnfoldColumns step, its PERMUTE and RESHAPE steps dropped (Note [columns in the GEMM's
    layout])."""
    uses, reader = sole_readers(graph)
    fused: dict[int, UnfoldColumns] = {}
    dropped: set[int] = set()
    for s in steps:
        e = getattr(s, "eqn", None)
        if e is None or e.op is not Op.UNFOLD or not isinstance(e.inputs[0], Var):
            continue
        matrix = _matrix_of(e, uses, reader)
        if matrix is not None:
            fused[id(e)] = UnfoldColumns(e, matrix)
            dropped.update((id(reader[e.out]), id(matrix)))
    if not fused:
        return list(steps)
    out = []
    for s in steps:
        e = getattr(s, "eqn", None)
        if e is not None and id(e) in dropped:
            continue
        out.append(fused.get(id(e), s) if e is not None else s)
    return out


def replaced(steps: Sequence[Any], fused: dict[int, Any], dropped: set[int]) -> list[Any]:
    """``steps`` without those whose id is in ``dropped``, each plain extern step whose
    equation's id is in ``fused`` replaced by that step."""
    from .executor import ExternStep  # (it imports this module)

    out = []
    for s in steps:
        if id(s) in dropped:
            continue
        e = getattr(s, "eqn", None)
        out.append(fused.get(id(e), s) if type(s) is ExternStep else s)
    return out
