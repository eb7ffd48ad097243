"""The verifier: rejects malformed graphs, printing the offending equation."""

from __future__ import annotations

from .control import bodies
from .graph import Graph, Lit, Var
from .printer import _Namer, format_eqn
from .shapes import infer


class VerifyError(ValueError):
    """A graph that breaks an IR invariant."""


def verify(g: Graph) -> Graph:
    """Check SSA (defined once, before use), types (every Aval matches its shape rule)."""
    defined: set[Var] = set()
    name = _Namer()
    for v in (*g.inputs, *(c for c, _ in g.consts)):
        if v in defined:
            raise VerifyError(f"{name(v)} is defined twice")
        defined.add(v)
    for e in g.eqns:
        for a in e.inputs:
            if isinstance(a, Var) and a not in defined:
                raise VerifyError(
                    f"{name(a)} is used before it is defined in:\n  {format_eqn(e, name)}"
                )
        expected = infer(e.op, [a.aval for a in e.inputs], e.attrs)
        if (expected.shape, expected.dtype) != (e.out.aval.shape, e.out.aval.dtype) or (
            getattr(expected, "parts", None) != getattr(e.out.aval, "parts", None)
        ):
            raise VerifyError(
                f"type mismatch: the op gives {expected} in:\n  {format_eqn(e, name)}"
            )
        for body in bodies(e.attrs):  # a loop's or branch's body (Note [loops in the IR])
            try:
                verify(body)
            except VerifyError as err:
                raise VerifyError(f"in the body of:\n  {format_eqn(e, name)}\n{err}") from None
        if e.out in defined:
            raise VerifyError(f"{name(e.out)} is defined twice, again in:\n  {format_eqn(e, name)}")
        defined.add(e.out)
    for o in g.outputs:
        if isinstance(o, Var) and o not in defined:
            raise VerifyError(f"output {name(o)} is never defined")
        if not isinstance(o, Var | Lit):
            raise VerifyError(f"output {o!r} is not a value")
    return g
