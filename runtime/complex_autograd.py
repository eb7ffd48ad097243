"""Autograd through complex tensors: PyTorch's conjugate Wirtinger convention for the primitives.

Note [complex gradients]
~~~~~~~~~~~~~~~~~~~~~~~~
PyTorch's convention: the cotangent of a complex value z = x + iy under a real loss L is
dL/dx + i dL/dy (twice dL/d conj(z)). For a holomorphic f it is grad_in = grad_out * conj(f'(z)).
Each rule of DERIVATIVES for a holomorphic primitive is C-linear in the cotangent and made of
holomorphic expressions (``g * y`` for mul, ``g / x`` for log, ``g @ y.mT`` for matmul), so
``conj(rule(conj(g)))`` is exactly PyTorch's complex rule: the real table runs unchanged on the
conjugated cotangent and its results are conjugated back. The linear primitives (add, sum,
reshapes, indexing, where, casts) need no conjugation at all. The ones that are not holomorphic
have their own rule here: abs (``g * sgn(z)``) and pow (the exponent's where-clause compares the
exponent's real part). A real input of a complex op gets the real part of its cotangent
(PyTorch's handle_r_to_c): ``x * z`` with a real ``x`` gives ``x.grad = Re(g * conj(z))``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..ir.derivatives import DERIVATIVES, conform, where
from ..ir.ops import Op
from .autograd import OpNode
from .tensor import Tensor

# rules that are C-linear with holomorphic factors: conj(rule(conj(g)))
HOLOMORPHIC = frozenset(
    {Op.EXP, Op.LOG, Op.LOG1P, Op.SQRT, Op.SIN, Op.COS, Op.TANH, Op.MUL, Op.DIV, Op.MATMUL}
)
# rules that only move, sum or select the cotangent: the same for complex values
LINEAR = frozenset(
    {Op.NEG, Op.ADD, Op.SUB, Op.CAST, Op.WHERE, Op.SUM, Op.RESHAPE, Op.PERMUTE, Op.EXPAND}
    | {Op.INDEX, Op.INDEX_ADD, Op.GATHER, Op.SCATTER_ADD, Op.CAT, Op.CHECK, Op.CUSTOM_VJP}
    | {Op.DETACH}
)


def _conj(t: Any) -> Any:
    if not isinstance(t, Tensor) or t.dtype.category != 3:
        return t
    from .ops_complex import conj_physical

    return conj_physical(t)


def _abs(g: Tensor, x: Tensor) -> tuple[Any]:
    # PyTorch's abs_backward: g * sgn(x), 0 at 0
    from .ops_complex import sgn

    return (g * sgn(x),)


def _exponent_at_zero(y: Any) -> Any:
    """PyTorch's pow_backward_exponent condition: the exponent is >= 0 (complex: real >= 0 and
    imaginary == 0), where a base of 0 gives a gradient of 0."""
    if isinstance(y, int | float):
        return y >= 0
    if isinstance(y, complex):
        return y.imag == 0 and y.real >= 0
    if y.dtype.category == 3:
        return (y.imag == 0) & (y.real >= 0)
    return y >= 0


def _pow(g: Tensor, out: Tensor, x: Any, y: Any, needs: tuple[bool, ...]) -> tuple[Any, Any]:
    # PyTorch's pow_backward_self / pow_backward_exponent with the conjugates: the operands
    # computed in the result's (complex) dtype, so a negative real base has its complex log
    dt = out.dtype
    xc = x.to(dt) if isinstance(x, Tensor) else complex(x)
    yc = y.to(dt) if isinstance(y, Tensor) else y
    dx = dy = None
    if needs[0]:
        if isinstance(y, int | float | complex) and y == 0:
            dx = g.new_zeros(()).expand(tuple(g.shape))
        else:
            dx = where(yc == 0, 0.0, g * _conj(yc * xc ** (yc - 1)))
    if needs[1]:
        base_zero = xc == 0 if isinstance(xc, Tensor) else xc == 0
        cond = _exponent_at_zero(y)
        both = base_zero & cond if isinstance(base_zero, Tensor) else (cond & base_zero)
        log = xc.log() if isinstance(xc, Tensor) else _complex_log(xc)
        dy = g * _conj(where(both, 0.0, out * log))
    return dx, dy


def _complex_log(v: complex) -> complex:
    import cmath

    return cmath.log(v) if v != 0 else complex(-float("inf"), 0.0)


OWN_RULES: dict[Op, Callable[..., tuple[Any, ...]]] = {Op.ABS: _abs, Op.POW: _pow}


class ComplexOpNode(OpNode):
    """An OpNode with a complex operand or result (Note [complex gradients])."""

    def apply(self, grad: Tensor, create_graph: bool) -> list[Tensor | None]:
        op = self.op
        ctx = self._context()
        if op in OWN_RULES:
            grads = OWN_RULES[op](grad, **ctx)
        elif op in LINEAR:
            grads = DERIVATIVES[op](grad, **ctx)
        elif op in HOLOMORPHIC:
            grads = tuple(_conj(r) for r in DERIVATIVES[op](_conj(grad), **ctx))
        else:  # (COMPLEX_OPS in ir/shapes.py lists no other differentiable primitive)
            raise NotImplementedError(
                f"{op.name.lower()}: adjit has no gradient rule for complex operands"
            )
        return [
            None if g is None or edge[0] is None else _to_input(g, *meta)
            for g, edge, meta in zip(grads, self._edges, self._meta, strict=True)
        ]


def _to_input(g: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """``conform``, taking the real part for a real input (PyTorch's handle_r_to_c)."""
    if isinstance(g, Tensor) and g.dtype.category == 3 and dtype.category != 3:
        from .ops_complex import real

        g = real(g)
    return conform(g, shape, dtype)


_NODES: dict[str, type[ComplexOpNode]] = {}


def node_class(name: str) -> type[ComplexOpNode]:
    cls = _NODES.get(name)
    if cls is None:
        from .autograd import node_class as make

        cls = _NODES[name] = make(name, ComplexOpNode)
    return cls
