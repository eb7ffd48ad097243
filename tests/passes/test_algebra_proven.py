"""Every algebra rule proven once: sympy says both sides are equal, IEEE samples say bit-equal.

Each row of ``passes.algebra.TABLE`` needs a row in PROOFS: an instance graph on which the rule
fires (alone). The instance before and after the rule is then

- evaluated symbolically, element by element (inputs are arrays of sympy symbols; elementwise
  ops through the sympy forms of ``ir.symbolic`` and the bridge, movement ops as NumPy moves
  on object arrays), and every output element's two sides must simplify to the same
  expression;
- run through the IR interpreter on every combination of NaN, +-inf, +-0, subnormals, the
  smallest normal, the largest finite values, values whose square overflows and ordinary
  numbers, in each dtype the row lists, and must give identical bits (a NaN must stay a NaN
  with the same sign bit; its payload is not tracked, as passes/algebra.py says).

A rule added to the table without a proof row, or whose proof fails, fails this file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import sympy as sp
from adjit.ir.graph import Graph, Lit, Var
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.ir.parser import parse_graph
from adjit.ir.printer import print_graph
from adjit.ir.symbolic import SYMPY_FORMS
from adjit.passes.algebra import TABLE
from adjit.passes.rewrite import rewrite
from adjit.passes.sympy_bridge import BOOL_FORMS, literal

FLOATS = ("f32", "f64")
DTYPE_NAMES = {"f32": "float32", "f64": "float64", "i8": "int8", "u8": "uint8", "i64": "int64"}
NP_DTYPES = {"f32": np.float32, "f64": np.float64, "i8": np.int8, "u8": np.uint8}
NP_DTYPES |= {"i64": np.int64, "bool": np.bool_}
ALL_BITS = {"bool": "True", "i8": "-1", "u8": "255", "i64": "-1"}
FLOAT_NUMBERS = {"nzero": "-0.0", "zero": "0.0", "one": "1.0", "two": "2.0"}
INT_NUMBERS = {"nzero": "0", "zero": "0", "one": "1", "two": "2"}
NUMS = (*FLOATS, "i8", "i64")


@dataclass(frozen=True)
class Proof:
    """An instance of a rule: the graph's inputs, equations and output, with ``{t}`` the
    dtype, ``{T}`` its full name, ``{n}`` a length chosen by the check, ``{ones}`` the
    dtype's all-bits-set literal, ``{nzero}``/``{zero}``/``{one}``/``{two}`` literals of the
    dtype's kind (``-0.0`` for floats, ``0`` for ints); the rule is proven for each of
    ``dtypes`` (symbolically for the first one)."""

    inputs: str
    body: tuple[str, ...]
    out: str
    dtypes: tuple[str, ...] = FLOATS

    def text(self, t: str, n: int) -> str:
        fill = {"t": t, "T": DTYPE_NAMES.get(t, t), "n": n, "ones": ALL_BITS.get(t, "")}
        fill |= FLOAT_NUMBERS if t in FLOATS else INT_NUMBERS  # a float literal promotes ints
        lines = [line.format(**fill) for line in self.body]
        body = "\n      ".join(lines)
        return f"{{ lambda {self.inputs.format(**fill)} .\n  let {body}\n  in ({self.out}) }}"


def _elementwise(inputs: str, *body: str, out: str = "d", dtypes=FLOATS) -> Proof:
    return Proof(inputs, body, out, dtypes)


A, AB, CA = "a:{t}[{n}]", "a:{t}[{n}] b:{t}[{n}]", "c:bool[{n}] a:{t}[{n}]"
CAB = "c:bool[{n}] a:{t}[{n}] b:{t}[{n}]"
BOOLS = ("bool",)

PROOFS: dict[str, Proof] = {
    "add_zero": _elementwise(A, "d:{t}[{n}] = add a {nzero}", dtypes=NUMS),
    "sub_zero": _elementwise(A, "d:{t}[{n}] = sub a {zero}", dtypes=NUMS),
    "mul_one": _elementwise(A, "d:{t}[{n}] = mul {one} a", dtypes=NUMS),
    "mul_expanded_one": _elementwise(
        A, "o:f32[{n}] = expand[shape=({n},)] 1.0", "d:{t}[{n}] = mul a o"
    ),
    "div_one": _elementwise(A, "d:{t}[{n}] = div a 1.0"),
    "pow_one": _elementwise(A, "d:{t}[{n}] = pow a {one}", dtypes=NUMS),
    "pow_two": _elementwise(A, "d:{t}[{n}] = pow a {two}", dtypes=NUMS),
    "neg_neg": _elementwise(A, "e:{t}[{n}] = neg a", "d:{t}[{n}] = neg e", dtypes=NUMS),
    "where_true": _elementwise(AB, "d:{t}[{n}] = where True a b", dtypes=NUMS),
    "where_false": _elementwise(AB, "d:{t}[{n}] = where False a b", dtypes=NUMS),
    "where_same": _elementwise(CA, "d:{t}[{n}] = where c a a", dtypes=NUMS),
    "where_not": _elementwise(CAB, "e:bool[{n}] = not c", "d:{t}[{n}] = where e a b", dtypes=NUMS),
    "and_all_bits": _elementwise(
        "a:{t}[{n}]", "d:{t}[{n}] = and a {ones}", dtypes=("bool", "i8", "u8", "i64")
    ),
    "or_false": _elementwise("a:{t}[{n}]", "d:{t}[{n}] = or False a", dtypes=BOOLS),
    "not_not": _elementwise("a:{t}[{n}]", "e:{t}[{n}] = not a", "d:{t}[{n}] = not e", dtypes=BOOLS),
    "reshape_same": Proof("a:{t}[2,3]", ("d:{t}[2,3] = reshape[shape=(2, 3)] a",), "d"),
    "expand_same": Proof("a:{t}[2,3]", ("d:{t}[2,3] = expand[shape=(2, 3)] a",), "d"),
    "cast_same": Proof("a:{t}[2,3]", ("d:{t}[2,3] = cast[dtype={T}] a",), "d"),
    "permute_identity": Proof("a:{t}[2,3]", ("d:{t}[2,3] = permute[axes=(0, 1)] a",), "d"),
    "reshape_reshape": Proof(
        "a:{t}[2,3]",
        ("e:{t}[3,2] = reshape[shape=(3, 2)] a", "d:{t}[6] = reshape[shape=(6,)] e"),
        "d",
    ),
    "expand_expand": Proof(
        "a:{t}[3]",
        ("e:{t}[2,3] = expand[shape=(2, 3)] a", "d:{t}[4,2,3] = expand[shape=(4, 2, 3)] e"),
        "d",
    ),
    "permute_permute": Proof(
        "a:{t}[2,3,4]",
        ("e:{t}[3,4,2] = permute[axes=(1, 2, 0)] a", "d:{t}[4,3,2] = permute[axes=(1, 0, 2)] e"),
        "d",
    ),
    "sum_no_axes": _elementwise(
        "a:{t}[{n}]", "d:{t}[{n}] = sum[axes=() keepdim=False] a", dtypes=("i64",)
    ),
    "reshape_reshape_single": Proof(
        "a:{t}[1]", ("e:{t}[] = reshape[shape=()] a", "d:{t}[1,1] = reshape[shape=(1, 1)] e"), "d"
    ),
    "reshape_expand_single": Proof(
        "a:{t}[1]", ("e:{t}[3] = expand[shape=(3,)] a", "d:{t}[3,1] = reshape[shape=(3, 1)] e"), "d"
    ),
    "expand_reshape_single": Proof(
        "a:{t}[1]", ("e:{t}[] = reshape[shape=()] a", "d:{t}[2,3] = expand[shape=(2, 3)] e"), "d"
    ),
    "expand_expand_single": Proof(
        "a:{t}[1]",
        ("e:{t}[2,1] = expand[shape=(2, 1)] a", "d:{t}[2,3] = expand[shape=(2, 3)] e"),
        "d",
    ),
    **{
        f"reshape_{r}_keepdim": Proof(
            "a:{t}[2,3]",
            (f"e:{{t}}[2,1] = {r}[axes=(1,) keepdim=True] a", "d:{t}[2] = reshape[shape=(2,)] e"),
            "d",
        )
        for r in ("sum", "amax", "amin")
    },
    "detach_detach": _elementwise(A, "e:{t}[{n}] = detach a", "d:{t}[{n}] = detach e", dtypes=NUMS),
}
RULES = {name: (pattern, replacement) for name, pattern, replacement in TABLE}


def test_every_rule_has_a_proof_and_every_proof_a_rule() -> None:
    names = [name for name, _, _ in TABLE]
    assert len(set(names)) == len(names), "two rules share a name"
    assert [n for n in names if n not in PROOFS] == [], "rules without a proof row"
    assert [n for n in PROOFS if n not in RULES] == [], "proof rows without a rule"


def _instance(name: str, t: str, n: int) -> tuple[Graph, Graph]:
    """The instance graph and what the rule alone makes of it (it must fire)."""
    g = parse_graph(PROOFS[name].text(t, n))
    out = rewrite(g, [RULES[name]])
    assert print_graph(out) != print_graph(g), f"{name} does not fire on its instance ({t})"
    return g, out


# ---- symbolic: both sides simplify to the same expression ------------------------------------
def _lift(f, **attrs):  # type: ignore[no-untyped-def]
    """An elementwise sympy form applied over (broadcast) object arrays."""
    return lambda *xs: np.vectorize(lambda *a: f(*a, **attrs), otypes=[object])(*xs)


def _reduce(f):  # type: ignore[no-untyped-def]
    def run(x, *, axes, keepdim):  # type: ignore[no-untyped-def]
        ufunc = np.frompyfunc(f, 2, 1)
        axes = tuple(range(x.ndim)) if axes is None else tuple(axes)
        out = x
        for axis in sorted(axes, reverse=True):
            out = ufunc.reduce(out, axis=axis, keepdims=keepdim)
        return np.asarray(out, dtype=object)

    return run


def _cast(x, *, dtype):  # type: ignore[no-untyped-def]
    return x  # the rule fires only on a cast to the operand's own dtype (same values)


SYMBOLIC_MOVES = {
    Op.RESHAPE: lambda x, *, shape: np.reshape(x, shape),
    Op.EXPAND: lambda x, *, shape: np.broadcast_to(x, shape),
    Op.PERMUTE: lambda x, *, axes: np.transpose(x, axes),
    Op.DETACH: lambda x: x,
    Op.CAST: _cast,
    Op.SUM: _reduce(lambda a, b: a + b),
    Op.AMAX: _reduce(sp.Max),
    Op.AMIN: _reduce(sp.Min),
}


def _symbolic(g: Graph, inputs: list[np.ndarray]) -> np.ndarray:
    env: dict[Var, np.ndarray] = dict(zip(g.inputs, inputs, strict=True))
    for e in g.eqns:
        args = [
            np.asarray(literal(a.value), dtype=object) if isinstance(a, Lit) else env[a]
            for a in e.inputs
        ]
        if e.op in SYMBOLIC_MOVES:
            value = SYMBOLIC_MOVES[e.op](*args, **e.attrs)
        else:
            value = _lift(SYMPY_FORMS.get(e.op) or BOOL_FORMS[e.op], **e.attrs)(*args)
        env[e.out] = np.asarray(value, dtype=object)
    (out,) = g.outputs
    return np.asarray(env[out] if isinstance(out, Var) else literal(out.value), dtype=object)


def _symbols(g: Graph) -> list[np.ndarray]:
    """One symbol per input element: plain (boolean) for bools, real otherwise."""
    arrays = []
    for k, v in enumerate(g.inputs):
        boolean = v.aval.dtype.name == "bool"
        names = [f"{'c' if boolean else 'x'}{k}_{i}" for i in range(math.prod(v.aval.shape))]
        flat = np.empty(len(names), dtype=object)
        flat[:] = [sp.Symbol(n) if boolean else sp.Symbol(n, real=True) for n in names]
        arrays.append(flat.reshape(v.aval.shape))
    return arrays


def _same_expression(a: object, b: object, boolean: bool = False) -> bool:
    if a == b:
        return True
    if boolean:
        return sp.simplify_logic(sp.Xor(a, b)) == sp.false
    return sp.simplify(sp.piecewise_fold(a - b)) == 0


@pytest.mark.parametrize("name", list(RULES))
def test_rule_proven_by_sympy(name: str) -> None:
    if name not in PROOFS:
        pytest.fail(f"rule {name} has no proof row in PROOFS")
    g, out = _instance(name, PROOFS[name].dtypes[0], 2)
    symbols = _symbols(g)
    before, after = _symbolic(g, symbols), _symbolic(out, symbols)
    assert before.shape == after.shape
    boolean = g.outputs[0].aval.dtype.name == "bool"
    for a, b in zip(before.ravel(), after.ravel(), strict=True):
        assert _same_expression(a, b, boolean), f"{name}: {a} != {b}"


# ---- IEEE samples: identical bits through the interpreter ------------------------------------
def _samples(t: str) -> np.ndarray:
    dt = NP_DTYPES[t]
    if t == "bool":
        return np.array([False, True])
    if np.dtype(dt).kind in "iu":
        info = np.iinfo(dt)
        values = {info.min, info.max, info.min + 1, info.max - 1, 0, 1, 2, 7, 100}
        values |= {-1, -2, -100} if info.min < 0 else set()
        return np.array(sorted(values), dt)
    f = np.finfo(dt)
    big = float(np.sqrt(f.max)) * 2  # its square overflows
    values = [0.0, f.smallest_subnormal, f.smallest_subnormal * 3, f.tiny, f.tiny * 0.75]
    values += [0.5, 1.0, 1.5, 2.0, 3.0, math.pi, 1e-3, big, float(f.max), np.inf]
    out = np.array(values + [-v for v in values] + [np.nan], dt)
    return np.concatenate([out, -out[-1:]])  # a NaN with its sign bit set too


def _inputs(g: Graph, rounds: int) -> list[list[np.ndarray]]:
    """Input arrays covering every combination of the inputs' samples, over ``rounds`` calls
    (element j of input i cycles through its samples with stride = product before it)."""
    samples = [_samples(_short(v)) for v in g.inputs]
    strides = [1, *np.cumprod([len(s) for s in samples])[:-1]]
    size = math.prod(g.inputs[0].aval.shape)
    calls = []
    for r in range(rounds):
        j = np.arange(r * size, (r + 1) * size)
        calls.append(
            [
                s[(j // stride) % len(s)].reshape(v.aval.shape)
                for s, stride, v in zip(samples, strides, g.inputs, strict=True)
            ]
        )
    return calls


def _short(v: Var) -> str:
    return {name: short for short, name in DTYPE_NAMES.items()}.get(v.aval.dtype.name, "bool")


def _bits(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.view(f"u{a.dtype.itemsize}") if a.dtype.kind == "f" else a


def _same_bits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per element: identical bits, or both NaN with the same sign bit."""
    if a.dtype.kind != "f":
        return a == b
    same = _bits(a) == _bits(b)
    nans = np.isnan(a) & np.isnan(b) & (np.signbit(a) == np.signbit(b))
    return same | nans


def _coverage(name: str, t: str) -> int:
    """How many combinations of samples the instance's inputs have."""
    g = parse_graph(PROOFS[name].text(t, 1))
    return math.prod(len(_samples(_short(v))) for v in g.inputs)


CASES = [(name, t) for name, proof in PROOFS.items() for t in proof.dtypes]


@pytest.mark.parametrize("name,t", CASES, ids=[f"{n}-{t}" for n, t in CASES])
def test_rule_keeps_ieee_bits(name: str, t: str) -> None:
    combos = _coverage(name, t)
    g, out = _instance(name, t, combos)  # elementwise instances: one element per combination
    size = math.prod(g.inputs[0].aval.shape)
    with np.errstate(all="ignore"):
        for args in _inputs(g, -(-combos // size)):
            (before,), (after,) = interpret(g, args), interpret(out, args)
            assert before.dtype == after.dtype and before.shape == after.shape
            same = _same_bits(before, after)
            if not same.all():
                bad = [a[~same.reshape(a.shape)] if a.shape == same.shape else a for a in args]
                was, now = _bits(before)[~same], _bits(after)[~same]  # NaNs differ by sign
                values = f"{before[~same]} != {after[~same]} at {bad}"
                pytest.fail(f"{name} ({t}): {values} (bits {was} != {now})")


def test_the_sample_check_catches_a_wrong_rule() -> None:
    """x + 0.0 -> x is true over the reals (sympy agrees) but not in IEEE: -0.0 + 0.0 is +0.0."""
    g = parse_graph(_elementwise(A, "d:{t}[{n}] = add a 0.0").text("f32", 4))
    x = np.array([-0.0, 0.0, 1.0, np.nan], np.float32)
    (before,) = interpret(g, [x])
    assert not _same_bits(before, x).all()
    symbols = _symbols(g)
    assert all(
        _same_expression(a, b)
        for a, b in zip(_symbolic(g, symbols).ravel(), symbols[0].ravel(), strict=True)
    )


def test_the_symbolic_check_catches_a_wrong_rule() -> None:
    """x * x -> x**3 has identical bits at 0, +-1, +-inf and NaN, but sympy refuses it."""
    x = sp.Symbol("x", real=True)
    assert not _same_expression(x * x, x**3)
    assert not _same_expression(sp.Piecewise((x, sp.Symbol("c")), (0, True)), x)
    c, d = sp.Symbol("c"), sp.Symbol("d")
    assert not _same_expression(c | d, c, boolean=True)
    assert _same_expression(~~c, c, boolean=True)


def test_samples_cover_the_special_values() -> None:
    s = _samples("f32")
    assert np.isnan(s).sum() == 2 and np.isposinf(s).any() and np.isneginf(s).any()
    assert (np.signbit(s) & (s == 0)).any() and ((s != 0) & (np.abs(s) < np.finfo("f4").tiny)).any()
    with np.errstate(over="ignore"):
        assert np.isinf(s[np.isfinite(s)] ** 2).any()  # a square overflows
