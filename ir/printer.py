"""The graph IR as compact, typed, deterministic text (jaxpr-like), optionally with source lines."""

from __future__ import annotations

from typing import Any

import numpy as np

from .dtypes import DType
from .graph import Atom, Eqn, Graph, Lit, Var
from .sizes import SymbolicSize, symbolic_attr


def _names() -> Any:
    """a, b, ..., z, ba, bb, ...: the deterministic names values print with."""
    n = 0
    while True:
        s, k = "", n
        while True:
            s = chr(ord("a") + k % 26) + s
            k //= 26
            if k == 0:
                break
        yield s
        n += 1


def format_attr(value: Any) -> str:
    if isinstance(value, DType):
        return value.name
    if isinstance(value, Graph):  # a loop's or branch's body: its own names, indented
        return print_graph(value).replace("\n", "\n    ")
    if isinstance(value, tuple) and symbolic_attr(value):  # sizes: their expressions
        return (
            "(" + ", ".join(format_attr(v) for v in value) + ("," if len(value) == 1 else "") + ")"
        )
    if isinstance(value, SymbolicSize):
        return str(getattr(value, "expr", value))
    return repr(value)


class _Namer:
    def __init__(self) -> None:
        self.names: dict[Var, str] = {}
        self._gen = _names()

    def __call__(self, v: Atom) -> str:
        if isinstance(v, Lit):
            return format_attr(v.value) if isinstance(v.value, SymbolicSize) else repr(v.value)
        if v not in self.names:
            self.names[v] = next(self._gen)
        return self.names[v]

    def typed(self, v: Var) -> str:
        return f"{self(v)}:{v.aval}"


def format_eqn(e: Eqn, name: _Namer) -> str:
    attrs = " ".join(f"{k}={format_attr(v)}" for k, v in e.attrs.items())
    head = e.op.name.lower() + (f"[{attrs}]" if attrs else "")
    args = " ".join(name(a) for a in e.inputs)
    return f"{name.typed(e.out)} = {head} {args}".rstrip()


def print_graph(g: Graph, *, source: bool = False) -> str:
    """``{ lambda a:f32[3] . let b:f32[3] = sin a ; c:f32[] = sum[...] b in (c) }``, one
    equation per line; ``source=True`` appends each equation's file:line. no_grad equations
    are marked ``# no_grad``."""
    name = _Namer()
    params = " ".join(name.typed(v) for v in g.inputs)
    lines = [f"{{ lambda {params} ."]
    for var, arr in g.consts:
        lines.append(f"  const {name.typed(var)} = {np.asarray(arr).tolist()!r}")
    body = [format_eqn(e, name) for e in g.eqns]
    width = max((len(b) for b in body), default=0)
    for i, (e, b) in enumerate(zip(g.eqns, body, strict=True)):
        notes = [
            n for n in ("no_grad" if e.no_grad else "", e.loc if source and e.loc else "") if n
        ]
        text = ("  let " if i == 0 else "      ") + b
        lines.append(text + (" " * (width - len(b)) + "  # " + " ".join(notes) if notes else ""))
    lines.append(f"  in ({', '.join(name(o) for o in g.outputs)}) }}")
    return "\n".join(lines)
