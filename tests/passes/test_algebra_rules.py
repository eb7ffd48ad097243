"""Golden tests of the algebraic rules: one row per rule, and rows for what must not fire."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.ir.interpreter import interpret
from adjit.ir.parser import parse_graph
from adjit.ir.printer import print_graph
from adjit.ir.verify import verify
from adjit.passes.algebra import algebra
from conftest import normalize

# (name, body, expected body): each graph is `{ lambda a:f32[3] b:f32[3] c:bool[3] . ... }`
HEAD = "{ lambda a:f32[3] b:f32[3] c:bool[3] .\n"
FIRES = [
    ("add_neg_zero", "d:f32[3] = add a -0.0\n in (d)", "in (a)"),
    ("neg_zero_add", "d:f32[3] = add -0.0 a\n in (d)", "in (a)"),
    ("sub_zero", "d:f32[3] = sub a 0.0\n in (d)", "in (a)"),
    ("mul_one", "d:f32[3] = mul a 1\n in (d)", "in (a)"),
    # a literal is tested in the dtype the op computes in: 1.0000000367 is 1.0 in float32
    ("mul_one_in_f32", "d:f32[3] = mul a 1.0000000367\n in (d)", "in (a)"),
    ("one_mul", "d:f32[3] = mul 1.0 a\n in (d)", "in (a)"),
    ("div_one", "d:f32[3] = div a 1\n in (d)", "in (a)"),
    ("pow_one", "d:f32[3] = pow a 1\n in (d)", "in (a)"),
    ("pow_two", "d:f32[3] = pow a 2\n in (d)", "d:f32[3] = mul a a\n in (d)"),
    ("neg_neg", "d:f32[3] = neg a\n e:f32[3] = neg d\n in (e)", "d:f32[3] = neg a\n in (a)"),
    ("where_true", "d:f32[3] = where True a b\n in (d)", "in (a)"),
    ("where_false", "d:f32[3] = where False a b\n in (d)", "in (b)"),
    ("where_same", "d:f32[3] = where c a a\n in (d)", "in (a)"),
    ("and_true", "d:bool[3] = and c True\n in (d)", "in (c)"),
    ("or_false", "d:bool[3] = or False c\n in (d)", "in (c)"),
    ("not_not", "d:bool[3] = not c\n e:bool[3] = not d\n in (e)", "d:bool[3] = not c\n in (c)"),
    ("reshape_same", "d:f32[3] = reshape[shape=(3,)] a\n in (d)", "in (a)"),
    ("expand_same", "d:f32[3] = expand[shape=(3,)] a\n in (d)", "in (a)"),
    ("cast_same", "d:f32[3] = cast[dtype=float32] a\n in (d)", "in (a)"),
    ("permute_identity", "d:f32[3] = permute[axes=(0,)] a\n in (d)", "in (a)"),
    (
        "sum_no_axes_int",
        "d:i64[3] = cast[dtype=int64] a\n e:i64[3] = sum[axes=() keepdim=False] d\n in (e)",
        "d:i64[3] = cast[dtype=int64] a\n in (d)",
    ),
    (
        "reshape_reshape",
        "d:f32[3,1] = reshape[shape=(3, 1)] a\n e:f32[1,3] = reshape[shape=(1, 3)] d\n in (e)",
        "d:f32[3,1] = reshape[shape=(3, 1)] a\n e:f32[1,3] = reshape[shape=(1, 3)] a\n in (e)",
    ),
    (
        "detach_detach",
        "d:f32[3] = detach a\n e:f32[3] = detach d\n in (e)",
        "d:f32[3] = detach a\n in (d)",
    ),
    (
        "expand_expand",
        "d:f32[2,3] = expand[shape=(2, 3)] a\n e:f32[4,2,3] = expand[shape=(4, 2, 3)] d\n in (e)",
        "d:f32[2,3] = expand[shape=(2, 3)] a\n e:f32[4,2,3] = expand[shape=(4, 2, 3)] a\n in (e)",
    ),
    (
        "reshape_drops_keepdim",
        "d:f32[1] = sum[axes=(0,) keepdim=True] a\n e:f32[] = reshape[shape=()] d\n in (e)",
        "d:f32[1] = sum[axes=(0,) keepdim=True] a\n e:f32[] = sum[axes=(0,) keepdim=False] a\n"
        " in (e)",
    ),
    (  # a rewritten equation is rewritten again: pow -> mul, then nothing more
        "chain",
        "d:f32[3] = mul a 1\n e:f32[3] = pow d 2\n f:f32[3] = where True e b\n in (f)",
        "d:f32[3] = mul a 1\n e:f32[3] = mul a a\n in (e)",
    ),
]

KEEPS = [
    # (-0.0) + 0.0 is +0.0: x + 0.0 is not x for floats
    ("add_pos_zero", "d:f32[3] = add a 0.0\n in (d)"),
    ("sub_neg_zero", "d:f32[3] = sub a -0.0\n in (d)"),
    # inf * 0 and nan * 0 are nan; x - x is nan at inf
    ("mul_zero", "d:f32[3] = mul a 0\n in (d)"),
    ("sub_self", "d:f32[3] = sub a a\n in (d)"),
    ("zero_sub", "d:f32[3] = sub 0.0 a\n in (d)"),
    # replacing would change the dtype or broadcasting
    ("mul_one_promotes", "d:f64[3] = cast[dtype=float64] a\n e:f64[3] = mul a d\n in (e)"),
    (
        "where_true_widens",
        "d:f32[] = sum[axes=None keepdim=False] a\n e:f32[3] = where True d b\n in (e)",
    ),
    (
        "where_true_lit",
        "d:f32[] = sum[axes=None keepdim=False] a\n e:f32[] = where True 1.0 d\n in (e)",
    ),
    ("reshape_other", "d:f32[3,1] = reshape[shape=(3, 1)] a\n in (d)"),
    (
        "permute_swap",
        "d:f32[3,3] = expand[shape=(3, 3)] a\n e:f32[3,3] = permute[axes=(1, 0)] d\n in (e)",
    ),
    # a float sum starts from +0.0: it maps -0.0 to +0.0
    ("sum_no_axes_float", "d:f32[3] = sum[axes=() keepdim=False] a\n in (d)"),
    # NaN * -1 keeps the NaN's sign bit, neg flips it
    ("mul_minus_one", "d:f32[3] = mul a -1\n in (d)"),
    # ... but not in float64 (the literal's weak default dtype is float32)
    (
        "mul_near_one_f64",
        "d:f64[3] = cast[dtype=float64] a\n e:f64[3] = mul d 1.0000000367\n in (e)",
    ),
    ("sum_one_axis", "d:f32[] = sum[axes=(0,) keepdim=False] a\n in (d)"),
    ("cast_cast", "d:f64[3] = cast[dtype=float64] a\n e:f32[3] = cast[dtype=float32] d\n in (e)"),
    ("maximum_self", "d:f32[3] = maximum a a\n in (d)"),
]


def _graph(body: str) -> str:
    lines = body.split("\n")
    first = "  let " + lines[0].strip() if not lines[0].strip().startswith("in ") else lines[0]
    rest = [
        "      " + x.strip() if not x.strip().startswith("in ") else "  " + x.strip()
        for x in lines[1:]
    ]
    return HEAD + "\n".join([first if first.startswith("  let") else "  " + first, *rest]) + " }"


@pytest.mark.parametrize("name,body,expected", FIRES, ids=[r[0] for r in FIRES])
def test_rule_fires(name: str, body: str, expected: str) -> None:
    g = parse_graph(_graph(body))
    before = print_graph(g)
    out = verify(algebra(g))
    assert print_graph(g) == before, "algebra changed its input graph"
    # algebra leaves dead equations to dce; compare the live part
    from adjit.passes.dce import dce

    assert print_graph(dce(out)) == print_graph(dce(parse_graph(_graph(expected))))
    _same_values(g, out)


@pytest.mark.parametrize("name,body", KEEPS, ids=[r[0] for r in KEEPS])
def test_rule_does_not_fire(name: str, body: str) -> None:
    g = parse_graph(_graph(body))
    assert print_graph(algebra(g)) == normalize(_graph(body))


def _same_values(a, b) -> None:  # type: ignore[no-untyped-def]
    special = np.array([-0.0, np.inf, np.nan], np.float32)
    args = [special, np.array([0.0, -np.inf, 3.5], np.float32), np.array([True, False, True])]
    for x, y in zip(interpret(a, args), interpret(b, args), strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(np.signbit(x), np.signbit(y))


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_pow_two_is_the_correctly_rounded_square(dtype: str) -> None:
    """The reference pow squares exactly as mul does, over the whole exponent range."""
    n = 20000
    g = parse_graph(f"{{ lambda a:{dtype}[{n}] .\n  let b:{dtype}[{n}] = pow a 2\n  in (b) }}")
    assert algebra(g).eqns[0].op.name == "MUL"
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n) * np.exp(rng.uniform(-100, 100, n))
    with np.errstate(over="ignore"):  # float32 overflows to inf: squaring inf is covered too
        x = x.astype(g.inputs[0].aval.dtype.np)
    np.testing.assert_array_equal(interpret(g, [x])[0], interpret(algebra(g), [x])[0])
