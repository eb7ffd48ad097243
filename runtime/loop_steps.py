"""Loops and branches in a compiled program: each body compiled once, run per iteration.

Note [loop overhead]: per iteration, a scan runs its body's steps and little else: the body's
operands are converted to their dtypes once, the addresses of its consts are found once, a
slice's is its array's plus ``i`` strides, a carry's is where the body wrote it (a kernel's or
BLAS's buffer), and the stacked ys come from the program's buffer pool. Before the loop, the
body's invariants run once (Note [loop invariants]) and its slice-times-const products are one
GEMM (Note [products of slices]), both in passes/loops.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..ir.aval import Aval
from ..ir.graph import Eqn, Graph, Lit, Var
from ..ir.interpreter import lit_array
from ..ir.ops import Op
from ..passes.loops import hoist_invariants, hoist_products
from ..passes.pipeline import run_pipeline
from ..passes.record import Record
from . import mkl_gemm

if TYPE_CHECKING:
    from .executor import Buffers, Env, Executable


def _ptr(a: np.ndarray) -> int:
    return a.ctypes.data


def _contiguous(a: np.ndarray) -> np.ndarray:
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


class LoopStep(Record):
    """A loop or branch (Note [loops in the IR]): each body optimized and compiled once, then
    run per iteration on the carries; a scan's ys go into stacked buffers made up front."""

    __slots__ = FIELDS = ("eqn", "programs", "hoisted", "pre", "stacked")
    eqn: Eqn
    programs: dict[str, Executable]
    hoisted: list[tuple[int, int]]  # scan: products made before the loop (passes/loops.py)
    pre: Executable | None  # scan: its invariants, computed before the loop (passes/loops.py)
    stacked: list[Var]  # scan: its stacked ys, as values of the buffer pool (Note [buffer reuse])

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:
        e = self.eqn
        args = [lit_array(a) if isinstance(a, Lit) else env[a] for a in e.inputs]
        env[e.out] = LOOPS[e.op](self, args, bufs)  # type: ignore[assignment]


def _operands(step: LoopStep, args: list[np.ndarray]) -> list[np.ndarray]:
    """The loop's operands in their declared dtypes (a Python number's literal is a double)."""
    return [
        x if x.dtype == a.aval.dtype.np else np.asarray(x, a.aval.dtype.np)
        for x, a in zip(args, step.eqn.inputs, strict=True)
    ]


def _addresses(vs: Sequence[Var], arrays: Sequence[np.ndarray]) -> dict[Var, int]:
    return {v: _ptr(a) for v, a in zip(vs, arrays, strict=True) if a.flags.c_contiguous}


def _scan(step: LoopStep, args: list[np.ndarray], bufs: Buffers) -> tuple[np.ndarray, ...]:
    """The body once per slice of the xs, in order (Note [loop overhead])."""
    a, ex = step.eqn.attrs, step.programs["body"]
    body, ins, outs = ex.run_body, ex.graph.inputs, ex.graph.outputs
    args = _operands(step, args)
    k, c, n = a["n_consts"], a["n_carry"], a["length"]
    consts, carry, xs = args[:k], args[k : k + c], args[k + c :]
    xs += [mkl_gemm.product(xs[m], consts[j]) for m, j in step.hoisted]  # Note [products of slices]
    if step.pre is not None:  # Note [loop invariants]
        consts = consts + [_contiguous(v) for v in step.pre.run_body(consts, {})[0]]
        args = [*consts, *carry]
        k = len(consts)
    ys = [bufs.get(v)[0] for v in step.stacked]
    known = _addresses(ins[: k + c], args[: k + c])
    slices = [
        (v, _ptr(x), x.strides[0])
        for v, x in zip(ins[k + c :], xs, strict=True)
        if x.flags.c_contiguous
    ]
    carry_vars, carry_outs = ins[k : k + c], outs[:c]
    for i in range(n - 1, -1, -1) if a["reverse"] else range(n):
        for v, p, stride in slices:
            known[v] = p + i * stride
        results, found = body([*consts, *carry, *(x[i, ...] for x in xs)], known)
        carry = results[:c]
        for y, r in zip(ys, results[c:], strict=True):
            y[i] = r
        for v, o in zip(carry_vars, carry_outs, strict=True):
            p = found.get(o)  # type: ignore[arg-type]
            if p is None:
                known.pop(v, None)
            else:
                known[v] = p
    return (*carry, *ys)


def _while(step: LoopStep, args: list[np.ndarray], bufs: Buffers) -> tuple[np.ndarray, ...]:
    a, test, body = step.eqn.attrs, step.programs["cond"].run_body, step.programs["body"].run_body
    nc, nb = a["n_cond"], a["n_body"]
    args = _operands(step, args)
    cond_consts, body_consts, carry = args[:nc], args[nc : nc + nb], args[nc + nb :]
    while test([*cond_consts, *carry], {})[0][0]:
        carry = body([*body_consts, *carry], {})[0]
    return tuple(carry)


def _cond(step: LoopStep, args: list[np.ndarray], bufs: Buffers) -> tuple[np.ndarray, ...]:
    branch = step.programs["true_fn" if args[0].reshape(()) else "false_fn"]
    return tuple(branch.run_body(_operands(step, args)[1:], {})[0])


LOOPS: dict[Op, Callable[[LoopStep, list[np.ndarray], Buffers], tuple[np.ndarray, ...]]] = {
    Op.SCAN: _scan,
    Op.WHILE: _while,
    Op.COND: _cond,
}


def loop_step(e: Eqn, compile_body: Callable[[Graph], Any]) -> LoopStep:
    """The step of a loop or branch equation: its bodies optimized and compiled (a scan's
    after its products and invariants are hoisted)."""
    attrs: dict[str, Any] = dict(e.attrs)
    hoisted: list[tuple[int, int]] = []
    pre = None
    if e.op is Op.SCAN:
        attrs["body"], hoisted = hoist_products(e)
        invariants, attrs["body"] = hoist_invariants(attrs["body"], attrs["n_consts"])
        if invariants.eqns:
            pre = compile_body(invariants)
    bodies = {
        name: compile_body(run_pipeline(body)[0])
        for name, body in attrs.items()
        if isinstance(body, Graph)
    }
    stacked = []
    if e.op is Op.SCAN:
        n, c = attrs["length"], attrs["n_carry"]
        stacked = [Var(Aval((n, *y.aval.shape), y.aval.dtype)) for y in attrs["body"].outputs[c:]]
    return LoopStep(e, bodies, hoisted, pre, stacked)
