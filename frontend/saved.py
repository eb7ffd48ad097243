"""``explain().saved``: the residuals a compiled training step keeps for backward, and its peak."""

from __future__ import annotations

import ast
import linecache
from dataclasses import dataclass
from typing import Any

from ..ir.graph import Graph, Var
from ..passes.remat import live_peak, nbytes
from ..passes.split import Split

# Note [explain saved]
# ~~~~~~~~~~~~~~~~~~~~
# ``explain(fn, *args).saved`` is a list of Residual, one per value the forward program hands to
# the backward (passes/split.py), in forward order, with attributes:
#   name   the user's variable: the tracer's name for it (Var.hint), else the target of the
#          assignment on the user's line when the value is the last one that line computes
#          (``h = gelu(h @ w1)`` names gelu's result ``h``), else the op applied to its
#          operands' names where one is known (``tanh(out)``), else the op that made it
#   shape, dtype (PyTorch's name), bytes, op, line (the user's file:line, or None), source
#          (that line's text)
# and the list itself has
#   bytes          residual bytes: what stays allocated between the forward and the backward
#                  beyond the inputs (the activation memory a checkpoint or a budget reduces)
#   peak_bytes     Note [peak activation memory] (passes/remat.py): the most bytes of buffers
#                  the fused forward and backward programs hold at once, residuals included,
#                  inputs and parameters not (an upper bound: a reshape counts as a copy);
#                  peak_at says where
#   pool_bytes     measured: what the compiled programs' executors keep allocated between
#                  calls (Note [buffer reuse] in runtime/executor.py: the training step's
#                  arena of residuals and planned values, Note [one arena for a training
#                  step], and one buffer per escaping value), None before a call
#   inputs_read    the inputs the backward reads (not counted: the caller holds them)
#   budget, target_bytes, min_bytes, max_bytes, steps   when residuals were chosen by a cut
#                  (a checkpoint region or a budget < 1: Note [rematerialization])
#   recomputed     forward values the backward computes again instead of reading
# str() prints all of it.


@dataclass(frozen=True)
class Residual:
    """One value kept for backward (Note [explain saved])."""

    name: str
    shape: tuple[Any, ...]
    dtype: str
    bytes: int
    op: str
    line: str | None
    aval: str  # the IR's short form, e.g. f32[8,16]
    source: str = ""  # the text of the user's line

    def __str__(self) -> str:
        where = f"  at {self.line}" if self.line else ""
        where += f"  | {self.source}" if self.source else ""
        return f"{self.name}: {self.aval}, {self.bytes} bytes ({self.op}){where}"


class Saved(list[Residual]):
    """The residuals, with the totals of Note [explain saved]."""

    bytes: int = 0
    peak_bytes: int = 0
    peak_at: str = ""
    inputs_read: list[str]
    recomputed: list[str]
    budget: float = 1.0
    target_bytes: int | None = None
    min_bytes: int | None = None
    max_bytes: int | None = None
    steps: list[str]
    pool_bytes: int | None = None

    def __init__(self, *items: Any) -> None:
        super().__init__(*items)
        self.inputs_read, self.recomputed, self.steps = [], [], []

    def __str__(self) -> str:
        lines = [str(r) for r in self] or ["(nothing)"]
        lines.append(f"residual bytes (held from forward to backward): {self.bytes}")
        lines.append(f"peak activation memory: {self.peak_bytes} bytes ({self.peak_at})")
        if self.pool_bytes is not None:
            lines.append(
                f"held by the executors' buffer pools between calls: {self.pool_bytes} bytes "
                "(Note [buffer reuse]: reused by the next call)"
            )
        if self.inputs_read:
            lines.append("inputs the backward reads (held by the caller, not counted): ")
            lines[-1] += ", ".join(self.inputs_read)
        if self.target_bytes is not None:
            met = "met" if self.bytes <= self.target_bytes else "NOT met"
            lines.append(
                f"activation_memory_budget {self.budget:g}: target {self.target_bytes} bytes "
                f"(min {self.min_bytes}, max {self.max_bytes}), {met}; " + "; ".join(self.steps)
            )
        lines.append(f"recomputed in backward instead: {', '.join(self.recomputed) or '(nothing)'}")
        return "\n".join(lines)


def _target(line: str) -> str | None:
    """The variable a one-line assignment ``name = ...`` (or ``name += ...``) binds."""
    try:
        tree = ast.parse(line.strip())
    except SyntaxError:
        return None
    node = tree.body[0] if len(tree.body) == 1 else None
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        target = node.target
    else:
        return None
    return target.id if isinstance(target, ast.Name) else None


def _source_line(loc: str | None) -> str:
    if not loc or ":" not in loc:
        return ""
    path, _, number = loc.rpartition(":")
    return linecache.getline(path, int(number)) if number.isdigit() else ""


def saved(split: Split, input_names: list[str] | None = None) -> Saved:
    """The report of Note [explain saved] for a split; ``input_names``: the graph inputs'."""
    fwd: Graph = split.forward
    made = {e.out: e for e in fwd.eqns}
    last_of_line = {e.loc: e.out for e in fwd.eqns if e.loc}
    out = Saved()
    names = input_names or []
    known = {v: v.hint or (names[i] if i < len(names) else "") for i, v in enumerate(fwd.inputs)}

    def user_name(v: Any) -> str:
        """The user's name for ``v``: the tracer's, an input's, or its line's target."""
        e = made.get(v)
        if getattr(v, "hint", None) or e is None:
            return getattr(v, "hint", None) or known.get(v, "")
        if e.loc is not None and last_of_line.get(e.loc) is v:
            return _target(_source_line(e.loc)) or ""
        return ""

    for v in split.residuals:
        e = made.get(v)
        op = e.op.name.lower() if e is not None else "input"
        loc = e.loc if e is not None else None
        name = user_name(v)
        if not name and e is not None:  # op(its operands' names), e.g. tanh(out)
            args = [user_name(x) if isinstance(x, Var) else "" for x in e.inputs]
            if any(args):
                name = f"{op}({', '.join(a or '…' for a in args)})"
        out.append(
            Residual(
                name or op,
                v.aval.shape,
                v.aval.dtype.name,
                max(nbytes(v.aval), 0),
                op,
                loc,
                str(v.aval),
                _source_line(loc).strip(),
            )
        )
    out.bytes = sum(r.bytes for r in out)
    out.peak_bytes, out.peak_at = live_peak(fwd, split.backward, split.residuals)
    ins = fwd.inputs
    out.inputs_read = [
        ins[i].hint or (names[i] if i < len(names) else f"input {i}") for i in split.saved_inputs
    ]
    out.recomputed = list(split.recomputed)
    out.steps = []
    if split.memory is not None:
        m = split.memory
        out.budget, out.target_bytes = m.budget, m.target_bytes
        out.min_bytes, out.max_bytes, out.steps = m.min_bytes, m.max_bytes, list(m.steps)
    return out
