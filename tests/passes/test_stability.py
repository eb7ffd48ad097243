"""The stability rewrites: which rule fires on which IR (and which must not), one row each
($ in a row stands for f32[2,3])."""

from __future__ import annotations

import pytest
from adjit.ir.graph import op_count
from adjit.ir.parser import parse_graph
from adjit.ir.verify import verify
from adjit.passes.stability import RULES, stabilize, stabilize_report

HEAD = "{ lambda a:f32[2,3] b:f32[2,3] i:i64[2,3] t:i64[2,1] .\n let "

LOG_SOFTMAX = "log(softmax(x)) -> log_softmax(x)"
LSE = "log(sum(exp(x))) -> logsumexp(x)"
FIRES = [
    ("log(exp(x)) -> x", "c:$ = exp a\n d:$ = log c\n in (d)"),
    (
        "log(1 + exp(x)) -> softplus(x)",
        "c:$ = exp a\n d:$ = add 1 c\n e:$ = log d\n in (e)",
    ),
    (
        "log(1 + exp(x)) -> softplus(x)",
        "c:$ = exp a\n d:$ = add c 1.0\n e:$ = log d\n in (e)",
    ),
    ("log1p(exp(x)) -> softplus(x)", "c:$ = exp a\n d:$ = log1p c\n in (d)"),
    ("log(sigmoid(x)) -> -softplus(-x)", "c:$ = sigmoid a\n d:$ = log c\n in (d)"),
    (
        "log(1 - sigmoid(x)) -> -softplus(x)",
        "c:$ = sigmoid a\n d:$ = sub 1 c\n e:$ = log d\n in (e)",
    ),
    ("log(1 + x) -> log1p(x)", "c:$ = add a 1\n d:$ = log c\n in (d)"),
    ("exp(x) - 1 -> expm1(x)", "c:$ = exp a\n d:$ = sub c 1\n in (d)"),
    ("1 - exp(x) -> -expm1(x)", "c:$ = exp a\n d:$ = sub 1.0 c\n in (d)"),
    ("sqrt(x*x) -> |x|", "c:$ = mul a a\n d:$ = sqrt c\n in (d)"),
    ("sqrt(x**2) -> |x|", "c:$ = pow a 2\n d:$ = sqrt c\n in (d)"),
    # x*y/y: y = exp(..) (computed twice: the traced graph has no CSE), 1 + b*b, a literal
    (
        "x*y/y -> x",
        "c:$ = exp b\n d:$ = mul a c\n e:$ = exp b\n f:$ = div d e\n in (f)",
    ),
    (
        "x*y/y -> x",
        "c:$ = mul b b\n d:$ = add 1 c\n e:$ = mul d a\n f:$ = div e d\n in (f)",
    ),
    ("x*y/y -> x", "c:$ = mul a 3.0\n d:$ = div c 3.0\n in (d)"),
    (
        LSE,
        "c:$ = exp a\n d:f32[2] = sum[axes=(1,) keepdim=False] c\n e:f32[2] = log d\n in (e)",
    ),
    (
        LSE,
        "c:$ = exp a\n d:f32[] = sum[axes=None keepdim=False] c\n e:f32[] = log d\n in (e)",
    ),
    (
        LOG_SOFTMAX,
        "c:$ = exp a\n d:f32[2,1] = sum[axes=(1,) keepdim=True] c\n"
        " e:$ = div c d\n f:$ = log e\n in (f)",
    ),
    (  # over the first axis, two exps
        LOG_SOFTMAX,
        "c:$ = exp a\n g:$ = exp a\n d:f32[1,3] = sum[axes=(0,) keepdim=True] g\n"
        " e:$ = div c d\n f:$ = log e\n in (f)",
    ),
    (  # a hand-written cross-entropy: the targets' probabilities gathered, then the log
        LOG_SOFTMAX,
        "c:$ = exp a\n d:f32[2,1] = sum[axes=(1,) keepdim=True] c\n"
        " e:$ = div c d\n g:f32[2,1] = gather[axis=1] e t\n f:f32[2,1] = log g\n in (f)",
    ),
]

STAYS = [
    # integers: log(1 + i) computes in float, but the add is an integer add
    ("int add", "c:i64[2,3] = add i 1\n d:$ = log c\n in (d)"),
    ("int sqrt(i*i)", "c:i64[2,3] = mul i i\n d:$ = sqrt c\n in (d)"),
    ("not one", "c:$ = exp a\n d:$ = sub 2.0 c\n in (d)"),
    ("not one, minus", "c:$ = exp a\n d:$ = sub c 0.5\n in (d)"),
    ("not one, log", "c:$ = exp a\n d:$ = add 2 c\n e:$ = log d\n in (e)"),
    ("two sides differ", "c:$ = mul a b\n d:$ = sqrt c\n in (d)"),
    ("y may be 0", "c:$ = mul a b\n d:$ = div c b\n in (d)"),
    (
        "y = sin(..) may be 0",
        "e:$ = sin b\n c:$ = mul a e\n d:$ = div c e\n in (d)",
    ),
    (
        "other y",
        "e:$ = exp b\n c:$ = mul a e\n g:$ = exp a\n d:$ = div c g\n in (d)",
    ),
    ("zero literal", "c:$ = mul a 0.0\n d:$ = div c 0.0\n in (d)"),
    # F.log_softmax's own form: already shifted by the (detached) maximum
    (
        "log_softmax",
        "c:f32[2,1] = amax[axes=(1,) keepdim=True] a\n d:f32[2,1] = detach c\n"
        " e:$ = sub a d\n f:$ = exp e\n g:f32[2,1] = sum[axes=(1,) keepdim=True] f\n"
        " h:f32[2,1] = log g\n j:$ = sub e h\n in (j)",
    ),
    # the exps or the sum read elsewhere: the rewrite would compute the reductions twice
    (
        "exp shared",
        "c:$ = exp a\n d:f32[2] = sum[axes=(1,) keepdim=False] c\n e:f32[2] = log d\n in (e, c)",
    ),
    (
        "probabilities shared",
        "c:$ = exp a\n d:f32[2,1] = sum[axes=(1,) keepdim=True] c\n"
        " e:$ = div c d\n f:$ = log e\n in (f, e)",
    ),
    (  # the sum is over another axis than a row: not a softmax
        "not a row sum",
        "c:$ = exp a\n d:f32[2,1] = sum[axes=(1,) keepdim=True] c\n g:$ = exp b\n"
        " e:$ = div g d\n f:$ = log e\n in (f)",
    ),
    # the library's guarded forms (F.softplus, F.logsigmoid, BCE with logits): bounded exps
    (
        "F.softplus",
        "c:bool[2,3] = gt a 20.0\n d:$ = where c 0.0 a\n e:$ = exp d\n f:$ = log1p e\n in (f)",
    ),
    (
        "F.logsigmoid",
        "c:$ = clamp[lo=0.0 hi=None] a\n d:$ = neg c\n e:$ = exp d\n f:$ = log1p e\n in (f)",
    ),
    ("min bound", "c:$ = minimum a 3.0\n e:$ = exp c\n f:$ = log1p e\n in (f)"),
    # softplus's own tail: log1p(exp(-|x|)) is stable already (and must not loop)
    (
        "softplus tail",
        "c:$ = abs a\n d:$ = neg c\n e:$ = exp d\n f:$ = log1p e\n in (f)",
    ),
]


def _graph(body: str):  # noqa: ANN202
    return parse_graph(HEAD + body.replace("$", "f32[2,3]") + " }")


@pytest.mark.parametrize(
    ("rule", "body"), FIRES, ids=[f"{r} #{i}" for i, (r, _) in enumerate(FIRES)]
)
def test_rule_fires(rule: str, body: str) -> None:
    g = _graph(body)
    out, fired = stabilize_report(g)
    assert [name for name, _ in fired] == [rule]
    verify(out)
    assert stabilize_report(out)[1] == []  # a fixed point: the stable forms do not match again


@pytest.mark.parametrize(("why", "body"), STAYS, ids=[w for w, _ in STAYS])
def test_rule_does_not_fire(why: str, body: str) -> None:
    g = _graph(body)
    out, fired = stabilize_report(g)
    assert fired == [] and out is g


def test_unbounded_guards_fire() -> None:
    """A where guard above 20, or over another value, leaves exp(x) free to overflow."""
    for guard in (
        "c:bool[2,3] = gt a 100.0\n d:$ = where c 0.0 a",
        "c:bool[2,3] = gt b 0.0\n d:$ = where c 0.0 a",
    ):
        g = _graph(guard + "\n e:$ = exp d\n f:$ = log1p e\n in (f)")
        assert [r for r, _ in stabilize_report(g)[1]] == ["log1p(exp(x)) -> softplus(x)"]


def test_float64_and_not_float16() -> None:
    body = "c:{t}[3] = exp a\n d:{t}[3] = add 1 c\n e:{t}[3] = log d\n in (e)"
    for t, fires in (("f64", True), ("f16", False)):
        g = parse_graph(f"{{ lambda a:{t}[3] .\n let " + body.format(t=t) + " }")
        assert bool(stabilize_report(g)[1]) is fires


def test_every_rule_has_a_firing_row() -> None:
    assert {r.name for r in RULES} == {rule for rule, _ in FIRES}


def test_replacements_are_the_stable_forms() -> None:
    sp = stabilize(_graph(FIRES[1][1]))
    assert op_count(sp).keys() >= {"maximum", "abs", "log1p"}
    ls = stabilize(_graph(FIRES[-3][1]))  # the hand-written log(softmax): F.log_softmax's eqns
    assert {"amax", "detach"} <= op_count(ls).keys()
