"""The derivative (VJP) table: one rule per differentiable op, in a tiny vocabulary.

A rule takes the output cotangent ``g`` and, by parameter name, only what it needs:
``out`` (the op's result), the inputs by name (``x``, ``y``, ``z`` for positions 0, 1, 2 unless
INPUT_NAMES says otherwise), ``inputs`` (all of them), ``x_shape``/``y_shape``, ``shapes``,
``needs`` (which inputs want a cotangent: a rule may skip the others), and the op's attributes.
The names a rule asks for are exactly what the eager engine saves for backward. An operand that
was a Python number arrives as that number. It returns one cotangent per input (None for
inputs without one), in the output's broadcast shape and dtype: undoing broadcasting and casting
back to each input's dtype happens once, in the engine and in the adjoint pass.

Values are tensors with the Tensor API: eager tensors when autograd runs eagerly, tracer
tensors (that emit IR) inside the adjoint pass. Since the rules are made of differentiable
ops, evaluating them with grad recording on gives higher-order derivatives.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

from .custom import custom_vjp_rule
from .linalg_vjp import linalg_vjp
from .ops import Op
from .sizes import same_shape

Rule = Callable[..., tuple[Any, ...]]


def where(c: Any, a: Any, b: Any) -> Any:
    """``a`` where ``c`` holds, else ``b`` (any of them may be a Python value)."""
    if isinstance(c, bool):
        return a if c else b
    if isinstance(a, int | float):
        return b.where(~c, a)
    return a.where(c, b)


def _maximum(g: Any, x: Any, y: Any, needs: tuple[bool, ...]) -> tuple[Any, Any]:
    # PyTorch's max backward: ties share the gradient equally; a NaN on either side passes the
    # whole gradient to both inputs (no comparison holds)
    return (
        _masked_zero(where(x == y, g / 2, g), x < y) if needs[0] else None,
        _masked_zero(where(x == y, g / 2, g), x > y) if needs[1] else None,
    )


def _minimum(g: Any, x: Any, y: Any, needs: tuple[bool, ...]) -> tuple[Any, Any]:
    return (
        _masked_zero(where(x == y, g / 2, g), x > y) if needs[0] else None,
        _masked_zero(where(x == y, g / 2, g), x < y) if needs[1] else None,
    )


def _masked_zero(v: Any, mask: Any) -> Any:
    """``v.masked_fill(mask, 0)``."""
    return where(mask, 0.0, v)


def _zeros(g: Any) -> Any:
    """PyTorch's ``zeros_like(grad)``: zero even where ``g`` is inf or NaN (``g * 0`` is not)."""
    return g.new_zeros(()).expand(tuple(g.shape))


def _pow(g: Any, out: Any, x: Any, y: Any, needs: tuple[bool, ...]) -> tuple[Any, Any]:
    # PyTorch's pow_backward_self / pow_backward_exponent: zeros_like for a Python exponent of
    # 0; 0 where the exponent is 0; d/dy is 0 where x == 0 and y >= 0
    if not needs[0]:
        dx = None
    elif isinstance(y, int | float) and y == 0:
        dx = _zeros(g)
    else:
        dx = where(y == 0, 0.0, g * y * _power(x, y - 1))
    dy = g * where((x == 0) & (y >= 0), 0.0, out * _log(x)) if needs[1] else None
    return dx, dy


def _quotient(x: Any, y: Any) -> Any:
    """``x / y`` as the DIV op computes it, also for a Python-number ``x``, for PyTorch's
    div_tensor_other_backward ``-g * ((x / y) / y)``: ``x / y**2`` would underflow to 0 and
    make 0/0 = NaN (x = 0, y = 1e-30 in float32), and ``1 / y * x`` rounds twice."""
    return y.new_full((), x) / y if isinstance(x, int | float) else x / y


def _power(x: Any, e: Any) -> Any:
    """``x ** e``, skipping the op for a Python-number exponent of 1 (``x**2``'s derivative)."""
    return x if isinstance(e, int | float) and e == 1 else x**e


def _log(x: Any) -> Any:
    """log of a tensor, or of a Python-number base (``2 ** t``), IEEE-style for x <= 0."""
    if not isinstance(x, int | float):
        return x.log()
    return math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)


def _unreduce(g: Any, shape: tuple[int, ...], axes: tuple[int, ...] | None, keepdim: bool) -> Any:
    """Bring a reduction's cotangent back to the input shape."""
    if not keepdim:
        axes_ = range(len(shape)) if axes is None else axes
        g = g.reshape(tuple(1 if i in axes_ else n for i, n in enumerate(shape)))
    return g.expand(shape)


def _extremum(
    g: Any, out: Any, x: Any, x_shape: tuple[int, ...], axes: tuple[int, ...] | None, keepdim: bool
) -> tuple[Any]:
    # PyTorch's amax/amin backward (scale_grad_by_count): the gradient is shared evenly among
    # the elements equal to the extremum (none equal a NaN result: its gradient is NaN)
    mask = x == _unreduce(out, x_shape, axes, keepdim)
    count = mask.sum(dim=axes, keepdim=True)
    return (_unreduce(g, x_shape, axes, keepdim) / count * mask,)


def _matmul(g: Any, x: Any, y: Any, needs: tuple[bool, ...]) -> tuple[Any, Any]:
    if x.dim() == 1 and y.dim() == 1:
        dx, dy = (lambda: g * y), (lambda: g * x)
    elif x.dim() == 1:
        dx = lambda: (g.unsqueeze(-2) @ y.mT).squeeze(-2)  # noqa: E731
        dy = lambda: x.unsqueeze(-1) @ g.unsqueeze(-2)  # noqa: E731
    elif y.dim() == 1:
        dx = lambda: g.unsqueeze(-1) @ y.unsqueeze(-2)  # noqa: E731
        dy = lambda: (x.mT @ g.unsqueeze(-1)).squeeze(-1)  # noqa: E731
    else:
        dx, dy = (lambda: g @ y.mT), (lambda: x.mT @ g)
    if needs[0] and needs[1] and x.dim() > y.dim() == 2 and _fewer(y, x):
        got_y = dy()  # Note [the weight's gradient first]
        return dx(), got_y
    return dx() if needs[0] else None, dy() if needs[1] else None


# Note [the weight's gradient first]
# The two products of a matmul's backward are independent, and a compiled backward runs them
# in the order the rule makes them. Each reads the other operand, so an operand that dies at
# this matmul is free only once the product reading the other one's gradient has run. For a
# batched activation times a smaller weight matrix, ``x @ w`` (a linear layer), the weight's
# gradient ``x.mT @ g`` (one 2-D GEMM, Note [one GEMM over the batch] in passes/gemm.py, a
# ``.grad`` outside the step's arena) is made first: an activation saved for this product
# only then goes before its own gradient, as large, is allocated. A transformer block's
# ``gelu(h @ w1 + c1) @ w2``: its backward held the GELU's output, its input and the output's
# gradient, 8 MB each, at once (PyTorch too), now two of them (step arena 44 -> 38 MB, with
# Note [kernels in place] in codegen/loops.py). Only there: with every product making its
# smaller operand's gradient first, resnet18 b8's step arena grew 13.6 -> 14.6 MB (its
# convolutions' 2-D products of weights and recomputed columns).


def _fewer(a: Any, b: Any) -> bool:
    """Whether ``a`` has fewer elements than ``b`` (sizes known as numbers)."""
    na, nb = a.numel(), b.numel()
    return isinstance(na, int) and isinstance(nb, int) and na < nb


def _cat(g: Any, shapes: tuple[tuple[int, ...], ...], axis: int) -> tuple[Any, ...]:
    grads, start = [], 0
    for s in shapes:
        grads.append(g.narrow(axis, start, s[axis]))
        start += s[axis]
    return tuple(grads)


def _inverse(axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(sorted(range(len(axes)), key=axes.__getitem__))


def _atan2(g: Any, x: Any, y: Any, needs: tuple[bool, ...]) -> tuple[Any, Any]:
    # PyTorch's atan2_backward: 0 where 1 / (x^2 + y^2) is inf (at (0, 0), or underflow); one
    # recip per cotangent, so that each has its own graph (CSE merges them when compiled)
    def recip() -> Any:
        r = 1 / (x * x + y * y)
        return where(r == math.inf, 0.0, r)

    return (g * y * recip() if needs[0] else None, g * -x * recip() if needs[1] else None)


INPUT_NAMES: dict[Op, tuple[str, ...]] = {
    Op.WHERE: ("cond", "x", "y"),
    Op.GATHER: ("x", "index"),
    Op.SCATTER_ADD: ("src", "index"),
}
DEFAULT_INPUT_NAMES = ("x", "y", "z")

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

DERIVATIVES: dict[Op, Rule] = {
    Op.NEG: lambda g: (-g,),
    Op.ABS: lambda g, x: (g * x.sign(),),
    Op.SIGN: lambda g: (_zeros(g),),
    Op.EXP: lambda g, out: (g * out,),
    Op.LOG: lambda g, x: (g / x,),
    Op.LOG1P: lambda g, x: (g / (x + 1),),
    Op.SQRT: lambda g, out: (g / (2 * out),),
    Op.SIN: lambda g, x: (g * x.cos(),),
    Op.COS: lambda g, x: (-g * x.sin(),),
    Op.TANH: lambda g, out: (g * (1 - out * out),),
    Op.SIGMOID: lambda g, out: (g * out * (1 - out),),
    Op.RELU: lambda g, out: (where(out <= 0, 0.0, g),),  # threshold_backward: NaN passes
    Op.ERF: lambda g, x: (g * _TWO_OVER_SQRT_PI * (-x * x).exp(),),
    Op.FLOOR: lambda g: (_zeros(g),),
    Op.TRUNC: lambda g: (_zeros(g),),
    Op.CAST: lambda g: (g,),
    Op.CLAMP: lambda g, x, lo, hi: (where(_in_range(x, lo, hi), g, 0.0),),
    Op.ADD: lambda g: (g, g),
    Op.SUB: lambda g: (g, -g),
    Op.MUL: lambda g, x, y, needs: (g * y if needs[0] else None, g * x if needs[1] else None),
    Op.DIV: lambda g, x, y, needs: (
        g / y if needs[0] else None,
        -g * (_quotient(x, y) / y) if needs[1] else None,
    ),
    # PyTorch's fmod backward: d/dy = -trunc(x / y) (remainder is built on fmod)
    Op.FMOD: lambda g, x, y, needs: (g, -g * (x / y).trunc() if needs[1] else None),
    Op.POW: _pow,
    Op.ATAN2: _atan2,
    # PyTorch's copysign_tensor_self_backward: g * (out / x), 0 where x == 0; none for y
    Op.COPYSIGN: lambda g, x, out, needs: (
        g * where(x == 0, 0.0, out / x) if needs[0] else None,
        _zeros(g) if needs[1] else None,
    ),
    Op.MAXIMUM: _maximum,
    Op.MINIMUM: _minimum,
    Op.WHERE: lambda g, cond: (None, where(cond, g, 0.0), where(cond, 0.0, g)),
    Op.FMA: lambda g, x, y, needs: (g * y if needs[0] else None, g * x if needs[1] else None, g),
    Op.SUM: lambda g, x_shape, axes, keepdim: (_unreduce(g, x_shape, axes, keepdim),),
    Op.AMAX: _extremum,
    Op.AMIN: _extremum,
    Op.RESHAPE: lambda g, x_shape: (g.reshape(x_shape),),
    Op.PERMUTE: lambda g, axes: (g.permute(_inverse(axes)),),
    Op.EXPAND: lambda g, x_shape: (g._sum_to(x_shape),),
    Op.INDEX: lambda g, inputs, x_shape, spec: (
        g._index_add(spec, x_shape, *inputs[1:]),
        *[None] * (len(inputs) - 1),
    ),
    Op.INDEX_ADD: lambda g, inputs, spec: (
        g._index(spec, *inputs[1:]),
        *[None] * (len(inputs) - 1),
    ),
    Op.GATHER: lambda g, index, x_shape, axis: (g._scatter_add(axis, x_shape, index), None),
    Op.SCATTER_ADD: lambda g, index, axis: (g._gather(axis, index), None),
    Op.CAT: _cat,
    Op.UNFOLD: lambda g, x_shape, kernel_size, dilation, padding, stride: (
        g._fold(x_shape[2:], kernel_size, dilation, padding, stride),
    ),
    Op.FOLD: lambda g, kernel_size, dilation, padding, stride: (
        g._unfold(kernel_size, dilation, padding, stride),
    ),
    Op.MATMUL: _matmul,
    Op.LINALG: linalg_vjp,
    Op.CHECK: lambda g, inputs: (g, *[None] * (len(inputs) - 1)),  # identity on input 0
    Op.CUSTOM_VJP: custom_vjp_rule,
}


def _in_range(x: Any, lo: float | None, hi: float | None) -> Any:
    if lo is not None and hi is not None:
        return (x >= lo) & (x <= hi)
    return x >= lo if lo is not None else x <= hi


@functools.cache
def rule_params(op: Op) -> tuple[str, ...]:
    """The names a rule asks for, after ``g``: what must be saved for its backward."""
    # rules are plain functions of named parameters: read them off the code object
    # (``inspect.signature`` would cost a warm first call ~30 µs a rule)
    code = DERIVATIVES[op].__code__  # type: ignore[attr-defined]
    return tuple(code.co_varnames[1 : code.co_argcount])


def input_names(op: Op, n: int) -> tuple[str, ...]:
    return INPUT_NAMES.get(op, DEFAULT_INPUT_NAMES)[:n]


def rule_context(
    op: Op,
    attrs: dict[str, Any],
    shapes: Sequence[tuple[int, ...]],
    get_input: Callable[[int], Any],
    get_out: Callable[[], Any],
    needs: tuple[bool, ...],
) -> dict[str, Any]:
    """The keyword arguments of ``op``'s rule, fetching saved values only when it names them."""
    names = input_names(op, len(shapes))
    ctx: dict[str, Any] = {}
    for p in rule_params(op):
        if p == "needs":
            ctx[p] = needs
        elif p == "out":
            ctx[p] = get_out()
        elif p == "inputs":
            ctx[p] = tuple(get_input(i) for i in range(len(shapes)))
        elif p in names:
            ctx[p] = get_input(names.index(p))
        elif p == "shapes":
            ctx[p] = tuple(shapes)
        elif p.endswith("_shape") and p[:-6] in names:
            ctx[p] = shapes[names.index(p[:-6])]
        else:
            ctx[p] = attrs[p]
    return ctx


def conform(g: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """Undo broadcasting and type promotion: the one place a cotangent meets its input."""
    if not same_shape(g.shape, shape):  # (size-oblivious: the sum is right when equal too)
        g = g._sum_to(shape)
    if g.dtype is not dtype:
        g = g.to(dtype)
    return g
