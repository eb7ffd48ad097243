"""Parse the printer's text back into a Graph, so tests and users can write IR by hand."""

from __future__ import annotations

import ast
import re
from typing import Any

import numpy as np

from . import dtypes as D
from .aval import Aval
from .graph import Atom, Eqn, Graph, Lit, Var
from .ops import Op
from .shapes import infer

_SHORT = {
    "f32": D.float32,
    "f64": D.float64,
    "i64": D.int64,
    "i32": D.int32,
    "bool": D.bool_,
    "u8": D.uint8,
    "i8": D.int8,
    "i16": D.int16,
    "f16": D.float16,
    "bf16": D.bfloat16,
}
_DTYPES = {d.name: d for d in D.ALL}
_TYPED = re.compile(r"(\w+):(\w+)\[([\d,]*)\]")


class ParseError(ValueError):
    """IR text that does not parse; names the line."""


def parse_aval(dtype: str, dims: str) -> Aval:
    shape = tuple(int(n) for n in dims.split(",") if n)
    return Aval(shape, _SHORT[dtype])


def _split_attrs(text: str) -> dict[str, Any]:
    """``axes=(0, 1) keepdim=False`` -> dict, splitting only at top-level spaces."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == " " and depth == 0 and re.match(r"\s*\w+=", text[i:]):
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    attrs: dict[str, Any] = {}
    for p in (p.strip() for p in parts if p.strip()):
        k, v = p.split("=", 1)
        attrs[k] = _DTYPES[v] if v in _DTYPES else _value(v)
    return attrs


# the printer writes non-finite floats as Python's repr does (inf, -inf, nan): Python
# literals cannot spell them, so they are read as 1e999 (which overflows to inf) and a marker
_NAN = "__adjit_nan__"
_NONFINITE = re.compile(r"(?<![\w.'])(inf|nan)(?![\w'])")


def _value(text: str) -> Any:
    """A printed literal (number, tuple, nested list) back as Python values."""
    spelled = _NONFINITE.sub(lambda m: "1e999" if m.group(1) == "inf" else repr(_NAN), text)
    return _floats(ast.literal_eval(spelled))


def _floats(v: Any) -> Any:
    if isinstance(v, str) and v == _NAN:
        return float("nan")
    if isinstance(v, list | tuple):
        return type(v)(_floats(x) for x in v)
    return v


def _literal(tok: str) -> Lit:
    value = _value(tok)
    return Lit(value, Aval((), D.scalar_dtype(value), weak=True))


def parse_graph(text: str) -> Graph:
    """The inverse of ``print_graph`` (source locations and no_grad marks included)."""
    m = re.search(r"\{\s*lambda(.*?)\.\s*\n", text)
    if not m:
        raise ParseError("expected '{ lambda <inputs> .' on the first line")
    env: dict[str, Var] = {}
    inputs = []
    for name, dt, dims in _TYPED.findall(m.group(1)):
        env[name] = Var(parse_aval(dt, dims))
        inputs.append(env[name])
    consts: list[Any] = []
    eqns: list[Any] = []
    outputs: list[Atom] = []
    for lineno, raw in enumerate(text[m.end() :].splitlines(), start=2):
        line, _, comment = raw.partition("#")
        line = line.strip()
        if line.startswith("let "):
            line = line[4:]
        if not line:
            continue
        if line.startswith("const "):
            name, dt, dims = _TYPED.match(line[6:]).groups()  # type: ignore[union-attr]
            var = Var(parse_aval(dt, dims))
            env[name] = var
            value = _value(line.split("=", 1)[1].strip())
            consts.append((var, np.asarray(value, var.aval.dtype.np).reshape(var.aval.shape)))
            continue
        if line.startswith("in "):
            inner = line[3:].strip().rstrip("}").strip().strip("()")
            outputs = [
                env[t] if t in env else _literal(t)
                for t in (s.strip() for s in inner.split(","))
                if t
            ]
            break
        eqns.append(_parse_eqn(line, comment.strip(), env, lineno))
    return Graph(tuple(inputs), tuple(eqns), tuple(outputs), tuple(consts))


def _parse_eqn(line: str, comment: str, env: dict[str, Var], lineno: int) -> Eqn:
    m = re.match(r"(\w+):(\w+)\[([\d,]*)\]\s*=\s*(\w+)(\[.*\])?\s*(.*)$", line)
    if not m:
        raise ParseError(f"line {lineno}: cannot parse equation {line!r}")
    name, dt, dims, opname, attr_text, args = m.groups()
    try:
        op = Op[opname.upper()]
    except KeyError:
        raise ParseError(f"line {lineno}: unknown op {opname!r}") from None
    attrs = _split_attrs(attr_text[1:-1]) if attr_text else {}
    try:
        inputs = tuple(env[t] if t in env else _literal(t) for t in args.split())
    except (ValueError, SyntaxError):
        raise ParseError(f"line {lineno}: unknown operand in {args!r}") from None
    out = Var(parse_aval(dt, dims))
    expected = infer(op, [a.aval for a in inputs], attrs)
    if (expected.shape, expected.dtype) != (out.aval.shape, out.aval.dtype):
        raise ParseError(
            f"line {lineno}: {name} is declared {out.aval} but {opname} gives {expected}"
        )
    env[name] = out
    no_grad = comment.startswith("no_grad")
    loc = comment[len("no_grad") :].strip() if no_grad else comment
    return Eqn(op, inputs, attrs, out, loc or None, no_grad)
