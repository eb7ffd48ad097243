"""A graph as readable, runnable Python/NumPy source (source transformation, Tangent-style)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .dtypes import DType
from .graph import Atom, Eqn, Graph, Lit, Var
from .ops import Op
from .printer import _Namer, format_attr
from .shapes import operand_dtypes

# one NumPy expression per op; {0}, {1}... are operands, {name} are attributes
TEMPLATES: dict[Op, str] = {
    Op.NEG: "-{0}",
    Op.ABS: "np.abs({0})",
    Op.SIGN: "np.sign(np.where({0} != {0}, 0, {0}))",
    Op.EXP: "np.exp({0})",
    Op.LOG: "np.log({0})",
    Op.LOG1P: "np.log1p({0})",
    Op.SQRT: "np.sqrt({0})",
    Op.SIN: "np.sin({0})",
    Op.COS: "np.cos({0})",
    Op.TANH: "np.tanh({0})",
    Op.SIGMOID: "ref.REFERENCE[Op.SIGMOID]({0})",
    Op.RELU: "np.maximum({0}, 0)",
    Op.ERF: "ref.REFERENCE[Op.ERF]({0})",
    Op.FLOOR: "np.floor({0})",
    Op.TRUNC: "np.trunc({0})",
    Op.NOT: "np.invert({0})",
    Op.CAST: "{0}.astype({dtype})",
    Op.CLAMP: "np.clip({0}, {lo}, {hi})",
    Op.ADD: "{0} + {1}",
    Op.SUB: "{0} - {1}",
    Op.MUL: "{0} * {1}",
    Op.DIV: "{0} / {1}",
    Op.POW: "ref.REFERENCE[Op.POW]({0}, {1})",
    Op.MAXIMUM: "np.maximum({0}, {1})",
    Op.MINIMUM: "np.minimum({0}, {1})",
    Op.ATAN2: "np.arctan2({0}, {1})",
    Op.COPYSIGN: "np.copysign({0}, {1})",
    Op.EQ: "{0} == {1}",
    Op.NE: "{0} != {1}",
    Op.LT: "{0} < {1}",
    Op.LE: "{0} <= {1}",
    Op.GT: "{0} > {1}",
    Op.GE: "{0} >= {1}",
    Op.AND: "{0} & {1}",
    Op.OR: "{0} | {1}",
    Op.XOR: "{0} ^ {1}",
    Op.WHERE: "np.where({0}, {1}, {2})",
    Op.SUM: "np.sum({0}, axis={axes}, keepdims={keepdim})",
    Op.AMAX: "np.max({0}, axis={axes}, keepdims={keepdim})",
    Op.AMIN: "np.min({0}, axis={axes}, keepdims={keepdim})",
    Op.RESHAPE: "{0}.reshape({shape})",
    Op.PERMUTE: "{0}.transpose({axes})",
    Op.EXPAND: "np.broadcast_to({0}, {shape})",
    Op.MATMUL: "{0} @ {1}",
    Op.DETACH: "{0}",
}


def _call(e: Eqn, args: list[str]) -> str:
    template = TEMPLATES.get(e.op)
    if template is None:  # ops with index specs etc.: the reference implementation, by name
        attrs = "".join(f", {k}={_attr(v)}" for k, v in e.attrs.items())
        return f"ref.REFERENCE[Op.{e.op.name}]({', '.join(args)}{attrs})"
    return template.format(*args, **{k: _attr(v) for k, v in e.attrs.items()})


def _attr(v: Any) -> str:
    if isinstance(v, DType):
        return _np(v)
    return format_attr(v) if not isinstance(v, tuple) else repr(v)


def _np(dt: Any) -> str:
    """The NumPy scalar type's spelling (``np.bool_`` exists on every NumPy version)."""
    name = np.dtype(dt.np).name
    return "np.bool_" if name == "bool" else f"np.{name}"


def to_python(g: Graph, name: str = "program") -> str:
    """Python source of a function computing ``g``'s outputs from its inputs with NumPy."""
    namer = _Namer()
    params = ", ".join(namer(v) for v in g.inputs)
    lines = [
        "import numpy as np",
        "",
        "import adjit.ir.reference as ref",
        "from adjit.ir.ops import Op",
        "",
        "",
        f"def {name}({params}):",
    ]
    for v, arr in g.consts:
        value = np.asarray(arr).tolist()
        lines.append(f"    {namer(v)} = np.array({value!r}, dtype={_np(v.aval.dtype)})")

    def operand(a: Atom, dt: Any) -> str:
        if isinstance(a, Lit):
            return f"{_np(dt or a.aval.dtype)}({a.value!r})"
        text = namer(a)
        return text if dt is None or dt is a.aval.dtype else f"{text}.astype({_np(dt)})"

    for e in g.eqns:
        dts = operand_dtypes(e.op, [a.aval for a in e.inputs], e.out.aval)
        args = [operand(a, dt) for a, dt in zip(e.inputs, dts, strict=True)]
        expr = _call(e, args)
        where = f"  # {e.op.name.lower()}" + (f" at {e.loc}" if e.loc else "")
        lines.append(f"    {namer(e.out)} = {expr}{where}")
    outs = ", ".join(namer(o) if isinstance(o, Var) else repr(o.value) for o in g.outputs)
    lines.append(f"    return ({outs},)")
    return "\n".join(lines) + "\n"


def load(source: str, name: str = "program") -> Any:
    """Execute generated source and return its function (for tests and users)."""
    scope: dict[str, Any] = {}
    exec(compile(source, f"<adjit:{name}>", "exec"), scope)  # noqa: S102 - our own output
    return scope[name]
