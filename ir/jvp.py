"""The JVP (forward-mode) table: one rule per op, in the derivative table's vocabulary.

A rule takes ``ts`` (one tangent per input, None where an input has none: at least one is
not None) and, by parameter name, what it needs: ``out`` (the op's result), ``inputs``, ``x``/
``y``/... (ir/derivatives.py's names), the op's attributes, and three helpers the caller
provides: ``same(*operands)`` (this op, with its attributes, on other operands: a linear op
applied to a tangent), ``vjp(g, needs)`` (the op's VJP rule from ir/derivatives.py, on this
equation's values) and ``reverse`` (``reverse.grad`` is ``autograd.grad``, eager or traced,
``reverse.leaf(v)`` ones like ``v`` that require grad, ``reverse.recording()`` grad mode on).
It returns the output's tangent in the output's shape and dtype, or None for no tangent (a
zero tangent).

Values are tensors with the Tensor API, as in ir/derivatives.py: eager tensors for
``autograd.forward_ad`` (runtime/forward_ad.py's hook in ``apply``), tracers inside the JVP pass
(passes/jvp.py), so the same rule runs eagerly and compiled.

Note [JVP of an elementwise op from its VJP rule]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
An elementwise op computes ``out[k] = f(x[b(k)], y[b(k)], ..)`` (``b``: broadcasting), so its
Jacobian with respect to input i is diagonal after broadcasting: ``d out[k] / d x_i[b(k)] =
f_i(k)``. The VJP rule returns, before ``conform`` sums it back to the input's shape, exactly
``g[k] * f_i(k)`` in the output's shape (with PyTorch's choices at kinks and ties: a masked
zero, half at a tie). Given the tangent broadcast to the output, ``t_i[b(k)]``, as ``g``, it
returns ``t_i[b(k)] * f_i(k)``: the i-th term of the JVP. So ``JVP(t) = sum_i vjp_i(t_i)``,
and the table writes no elementwise formula twice (tests/ir/test_jvp_table.py checks the
identity on every elementwise row against finite differences). PyTorch's own forward formulas
agree: e.g. maximum's tie gives ``(t_x + t_y) / 2``, as the VJP's ``g / 2`` to each side.

Note [JVP as the transpose of the VJP]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
For an op without a forward formula of its own (LINALG, the derivative rules of ``with_rule``
values), the JVP comes from the VJP rule: ``g -> vjp(g) = J^T g`` is linear in ``g``, so the
gradient of ``<vjp(g), t>`` with respect to ``g`` is ``J t`` at every ``g``. We take ``g = 1``,
not 0: a rule may special-case an exactly zero cotangent (``where(g == 0, 0, g * log(y))`` in
xlogy's, Note [zero cotangents of unused parts] in LINALG's), and differentiated at 0 such a
branch would cut the path to ``g``.
That gradient is reverse mode through the VJP rule's ops (``grad(vjp(g), g, t)``), which runs
eagerly and, inside the JVP pass, is inlined into the traced graph (Note [autograd while
tracing]); with ``create_graph`` its result is differentiable again. Cost: one evaluation of
the VJP rule plus its reverse, about twice a VJP (a dedicated formula would cost about one);
the VJP's value itself is dead code that compiled programs drop.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from .derivatives import DEFAULT_INPUT_NAMES, DERIVATIVES, INPUT_NAMES, _unreduce, rule_context
from .ops import GroupOp, Op

JvpRule = Callable[..., Any]

CUSTOM_JVP_MISSING = (
    "You must implement the jvp function for custom autograd.Function to use it with forward "
    "mode AD."
)


def _add(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else a + b


def _fit(t: Any, out: Any) -> Any:
    """``t`` in ``out``'s dtype and shape (a tangent of a broadcast or promoted operand)."""
    if t.dtype is not out.dtype:
        t = t.to(out.dtype)
    if tuple(t.shape) != tuple(out.shape):
        t = t.expand(tuple(out.shape))
    return t


def diagonal(ts: Sequence[Any], out: Any, vjp: Callable[..., tuple]) -> Any:
    """An elementwise op: the sum of its VJP rule applied to each tangent (see the Note)."""
    total = None
    n = len(ts)
    for i, t in enumerate(ts):
        if t is None:
            continue
        if t.dtype is not out.dtype:
            t = t.to(out.dtype)
        total = _add(total, vjp(t, tuple(j == i for j in range(n)))[i])
    return None if total is None else _fit(total, out)


def transposed(ts: Sequence[Any], out: Any, vjp: Callable[..., tuple], reverse: Any) -> Any:
    """``J t`` as the gradient of ``<vjp(g), t>`` in ``g`` (Note [JVP as the transpose of the
    VJP]); ``reverse.grad`` is autograd.grad, ``reverse.leaf(out)`` makes the ``g``: ones
    like ``out`` that require grad."""
    needs = tuple(t is not None for t in ts)
    with reverse.recording():  # (grad mode on: the rule's ops are differentiated)
        g = reverse.leaf(out)
        cts = vjp(g, needs)
        pairs = [(c, t) for c, t in zip(cts, ts, strict=True) if c is not None and t is not None]
        pairs = [(c, t) for c, t in pairs if c.requires_grad]  # (independent of g: 0)
        if not pairs:
            return None
        # each cotangent is in the output's broadcast shape: its input's tangent meets it there
        (jt,) = reverse.grad(
            [c for c, _ in pairs],
            [g],
            [_fit(t, c) for c, t in pairs],
            create_graph=True,
            allow_unused=True,
        )
    return None if jt is None else _fit(jt, out)


def _linear_first(ts: Sequence[Any], inputs: Sequence[Any], same: Callable[..., Any]) -> Any:
    """An op linear in input 0 (the others are indices or sizes): itself on the tangent."""
    return None if ts[0] is None else same(ts[0], *inputs[1:])


def _linear(ts: Sequence[Any], same: Callable[..., Any]) -> Any:
    return None if ts[0] is None else same(ts[0])


def _matmul(ts: Sequence[Any], x: Any, y: Any, same: Callable[..., Any]) -> Any:
    tx, ty = ts
    return _add(None if tx is None else same(tx, y), None if ty is None else same(x, ty))


def _cat(ts: Sequence[Any], inputs: Sequence[Any], same: Callable[..., Any]) -> Any:
    return same(*(_zero_like(x) if t is None else t for t, x in zip(ts, inputs, strict=True)))


def _zero_like(x: Any) -> Any:
    return x.new_zeros(()).expand(tuple(x.shape))


def _extremum(
    ts: Sequence[Any], out: Any, x: Any, axes: tuple[int, ...] | None, keepdim: bool
) -> Any:
    # PyTorch's amaxamin_jvp: the mean of the tangents of the elements equal to the extremum
    mask = x == _unreduce(out, tuple(x.shape), axes, keepdim)
    return (ts[0] * mask).sum(dim=axes, keepdim=keepdim) / mask.sum(dim=axes, keepdim=keepdim)


def _custom(
    ts: Sequence[Any], out: Any, inputs: Any, rule: Any, vjp: Callable[..., tuple], reverse: Any
) -> Any:
    """A custom rule's own ``jvp``; a user Function without one refuses as PyTorch does; an
    internal ``with_rule`` formula is transposed (Note [JVP as the transpose of the VJP])."""
    jvp = getattr(rule, "jvp", None)
    if jvp is not None:
        return jvp(inputs, ts, out)
    if is_user_rule(rule):
        raise NotImplementedError(CUSTOM_JVP_MISSING)
    return transposed(ts, out, vjp, reverse)


def is_user_rule(rule: Any) -> bool:
    """Whether a CUSTOM_VJP rule is a user's autograd.Function (or a custom_vjp): its backward
    is the user's, and only the user can say what its forward derivative is."""
    owner = getattr(rule, "call", rule)  # (an output's rule files for its call's rule)
    return getattr(owner, "cls", None) is not None or getattr(rule, "user", False)


def _nothing(ts: Sequence[Any]) -> None:
    return None


def _elementwise(ts: Sequence[Any], out: Any, vjp: Callable[..., tuple]) -> Any:
    return diagonal(ts, out, vjp)


def _transpose_rule(ts: Sequence[Any], out: Any, vjp: Callable[..., tuple], reverse: Any) -> Any:
    return transposed(ts, out, vjp, reverse)


JVPS: dict[Op, JvpRule] = {
    **{op: _elementwise for op in GroupOp.ELEMENTWISE - GroupOp.NONDIFF},
    **{op: _nothing for op in GroupOp.NONDIFF},  # (bool/integer results, detach, draws, ...)
    Op.SUM: _linear,
    Op.AMAX: _extremum,
    Op.AMIN: _extremum,
    Op.RESHAPE: _linear,
    Op.PERMUTE: _linear,
    Op.EXPAND: _linear,
    Op.INDEX: _linear_first,
    Op.INDEX_ADD: _linear_first,
    Op.GATHER: _linear_first,
    Op.SCATTER_ADD: _linear_first,
    Op.CAT: _cat,
    Op.UNFOLD: _linear,
    Op.FOLD: _linear,
    Op.MATMUL: _matmul,
    Op.LINALG: _transpose_rule,
    Op.CHECK: lambda ts: ts[0],  # the identity on input 0
    Op.CUSTOM_VJP: _custom,
    # control flow: the JVP pass differentiates loops and branches itself (passes/jvp.py)
    **{op: _nothing for op in GroupOp.CONTROL},
}


@functools.cache
def jvp_params(op: Op) -> tuple[str, ...]:
    """The names a JVP rule asks for, after ``ts``."""
    code = JVPS[op].__code__  # type: ignore[attr-defined]
    return tuple(code.co_varnames[1 : code.co_argcount])


def jvp_context(
    op: Op,
    attrs: dict[str, Any],
    inputs: Sequence[Any],
    out: Any,
    helpers: dict[str, Any],
) -> dict[str, Any]:
    """The keyword arguments of ``op``'s JVP rule (``helpers``: same, vjp, reverse)."""
    names = INPUT_NAMES.get(op, DEFAULT_INPUT_NAMES)[: len(inputs)]
    ctx: dict[str, Any] = {}
    for p in jvp_params(op):
        if p == "out":
            ctx[p] = out
        elif p == "inputs":
            ctx[p] = tuple(inputs)
        elif p in names:
            ctx[p] = inputs[names.index(p)]
        elif p in helpers:
            ctx[p] = helpers[p]
        else:
            ctx[p] = attrs[p]
    return ctx


def _shape(v: Any) -> tuple[int, ...]:
    return tuple(v.shape) if hasattr(v, "shape") else ()


def tangent_of(
    op: Op,
    attrs: dict[str, Any],
    ts: Sequence[Any],
    inputs: Sequence[Any],
    out: Any,
    same: Callable[..., Any],
    reverse: Any,
) -> Any:
    """The output tangent of one equation ``out = op[attrs](inputs)`` (None: no tangent)."""
    shapes = [_shape(v) for v in inputs]

    def vjp(g: Any, needs: tuple[bool, ...]) -> tuple:
        ctx = rule_context(op, attrs, shapes, inputs.__getitem__, lambda: out, needs)
        return tuple(DERIVATIVES[op](g, **ctx))

    helpers = {"same": same, "vjp": vjp, "reverse": reverse}
    return JVPS[op](ts, **jvp_context(op, attrs, inputs, out, helpers))
