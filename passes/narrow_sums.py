"""float16/bfloat16 sums as float32 sums rounded once, for the code generator."""

from __future__ import annotations

from ..ir.aval import Aval
from ..ir.dtypes import float32
from ..ir.graph import Eqn, Graph, Var
from ..ir.ops import Op


# Note [narrow sums]: a float16/bfloat16 sum accumulates in float32 and rounds once (PyTorch's
# kernels, adjit's eager mode). A compiled reduction keeps partial totals in its output buffer
# when the reduced axes are not innermost, and combines threads' partial outputs: in a narrow
# output each of those would round. So before fusion, sum[f16](x) becomes
# cast[f16](sum[f32](cast[f32](x))): the sum is an ordinary float32 reduction, the casts are
# exact (widening) and the one rounding (narrowing), both elementwise.
def widen_narrow_sums(graph: Graph) -> Graph:
    """``graph`` with every float16/bfloat16 SUM computed in float32 (the same Vars out)."""
    if not any(e.op is Op.SUM and e.out.aval.dtype.reduced for e in graph.eqns):
        return graph
    eqns: list[Eqn] = []
    for e in graph.eqns:
        narrow = e.out.aval.dtype
        if e.op is not Op.SUM or not narrow.reduced:
            eqns.append(e)
            continue
        x = e.inputs[0]
        wide_in = Var(Aval(x.aval.shape, float32))
        wide_out = Var(Aval(e.out.aval.shape, float32))
        loc, no_grad = e.loc, e.no_grad
        eqns.append(Eqn(Op.CAST, (x,), {"dtype": float32}, wide_in, loc, no_grad))
        eqns.append(Eqn(Op.SUM, (wide_in,), dict(e.attrs), wide_out, loc, no_grad))
        eqns.append(Eqn(Op.CAST, (wide_out,), {"dtype": narrow}, e.out, loc, no_grad))
    return graph.replace(eqns=tuple(eqns))
