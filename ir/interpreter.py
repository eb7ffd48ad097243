"""The reference interpreter: runs any graph with the NumPy rules."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .dtypes import to_storage, widen
from .graph import Atom, Graph, Lit, Var
from .ops import GroupOp, Op
from .reference import REFERENCE
from .shapes import operand_dtypes

# ops that only move or copy values: nothing for NumPy to warn about (and RANDOM, whose
# sampler converts its operands itself, as in eager mode)
_MOVES_ONLY = frozenset(
    {
        Op.RESHAPE,
        Op.PERMUTE,
        Op.EXPAND,
        Op.INDEX,
        Op.GATHER,
        Op.CAT,
        Op.UNFOLD,
        Op.DETACH,
        Op.CHECK,
        Op.CUSTOM_VJP,
        Op.RANDOM,
        Op.COLLECTIVE,
    }
)


# Note [reduced-float scalars]: PyTorch's CPU mul and div of float16/bfloat16 take a second
# operand of one element (a Python number, a 0-dim or a broadcast size-1 tensor) as a float32
# from its original value, never rounded to the narrow type; every other op (add and sub too)
# converts it to the narrow type first. Measured on torch 2.13 with random scalars.
SCALAR_IN_FLOAT32 = frozenset({Op.MUL, Op.DIV})


def _reduced_operands(op, arrays: list[np.ndarray], targets) -> list[np.ndarray]:
    """Operands of an op on float16/bfloat16, converted to the float32 it computes in."""
    out = []
    for i, (a, dt) in enumerate(zip(arrays, targets, strict=True)):
        if dt is not None and a.dtype != dt.np:
            if i == 1 and a.size == 1 and op in SCALAR_IN_FLOAT32:
                out.append(a.astype(np.float32))
                continue
            a = to_storage(a, dt)
        out.append(widen(a))
    return out


def _reduced(out_aval, avals) -> bool:
    if out_aval.dtype.reduced:
        return True
    for a in avals:  # noqa: SIM110 - a loop: any() over a generator costs eager ops ~0.3 us
        if a.dtype.reduced:
            return True
    return False


def eval_eqn_arrays(op, attrs, arrays: list[np.ndarray], avals, out_aval) -> np.ndarray:
    """One op on NumPy arrays, with the operand conversions the dtype rules ask for. A loop
    or branch gives a tuple of arrays, which ``get`` reads (Note [loops in the IR])."""
    if op in GroupOp.CONTROL:
        return REFERENCE[op](*arrays, **attrs)
    targets = operand_dtypes(op, avals, out_aval)
    if op not in _MOVES_ONLY and out_aval.dtype.category != 3 and _reduced(out_aval, avals):
        # Note [reduced floats] in ir/dtypes.py: compute in float32, round once
        arrays = _reduced_operands(op, arrays, targets)
        with np.errstate(all="ignore"):
            data = np.asarray(REFERENCE[op](*arrays, **attrs))
        return to_storage(data, out_aval.dtype)
    for i, dt in enumerate(targets):
        if dt is not None and arrays[i].dtype != dt.np:
            if dt.category >= 2 and arrays[i].dtype.kind == "f":  # 1e300 -> float32: inf, quietly
                with np.errstate(all="ignore"):
                    arrays[i] = arrays[i].astype(dt.np)
            else:
                arrays[i] = arrays[i].astype(dt.np)
    # float arithmetic and casts are the only ones NumPy warns about (errstate costs ~2 µs)
    if (out_aval.dtype.category >= 2 and op not in _MOVES_ONLY) or op is Op.CAST:
        with np.errstate(all="ignore"):
            data = np.asarray(REFERENCE[op](*arrays, **attrs))
    else:
        data = np.asarray(REFERENCE[op](*arrays, **attrs))
    return data if data.dtype == out_aval.dtype.np else data.astype(out_aval.dtype.np)


def lit_array(a: Lit) -> np.ndarray:
    """A Python-number operand at full precision (a float stays double until the op converts
    it to the dtype it computes in, as in eager mode)."""
    if a.aval.weak and a.aval.dtype.is_floating_point:
        return np.asarray(a.value, np.float64)
    return np.asarray(a.value, a.aval.dtype.np)


def interpret(g: Graph, args: Sequence[np.ndarray], public: int | None = None) -> list[np.ndarray]:
    """Evaluate ``g`` on input arrays; returns its outputs as arrays. The first ``public``
    outputs (default: all) never share an input's or a constant's memory; the rest may."""
    if len(args) != len(g.inputs):
        raise TypeError(f"graph takes {len(g.inputs)} inputs, got {len(args)}")
    env: dict[Var, np.ndarray] = dict(zip(g.inputs, (np.asarray(a) for a in args), strict=True))
    env.update((v, np.asarray(a)) for v, a in g.consts)

    def read(a: Atom) -> np.ndarray:
        return lit_array(a) if isinstance(a, Lit) else env[a]

    for e in g.eqns:
        env[e.out] = eval_eqn_arrays(
            e.op, e.attrs, [read(a) for a in e.inputs], [a.aval for a in e.inputs], e.out.aval
        )
    owners = [env[v] for v, _ in g.consts] + [env[v] for v in g.inputs]
    outs = [read(o) for o in g.outputs]
    n = len(outs) if public is None else public
    return unshared(outs[:n], owners) + outs[n:]


def unshared(outputs: list[np.ndarray], owners: Sequence[np.ndarray]) -> list[np.ndarray]:
    """``outputs`` with those that are (views of) a graph input or constant copied: the caller
    may write into what it gets, and that must change neither the next call's constants nor
    the arguments (an optimized ``x * 1`` is ``x``, but eager's result is a new tensor)."""
    roots = {id(_root(a)) for a in owners}
    return [a.copy() if id(_root(a)) in roots else a for a in outputs]


def _root(a: np.ndarray) -> np.ndarray:
    """The array that owns ``a``'s memory (views share their owner's)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a
