"""Each stability rule proven once: both sides equal as real functions (sympy), and on IEEE
samples the replacement is at least as accurate as the original against an mpmath reference
(NaN, +-inf, +-0, subnormals, huge and tiny magnitudes; float32 and float64), and finite
wherever the reference is (Note [stability rewrites])."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from adjit.ir.graph import Graph, Lit
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.ir.parser import parse_graph
from adjit.ir.symbolic import SYMPY_FORMS
from adjit.passes.stability import RULES, stabilize_report

SLACK_ULPS = 4.0  # the replacement's own roundings, where the original is accurate as well
DTYPES = {"f32": np.float32, "f64": np.float64}

# rule -> (original equations over a (and b) of type {T}; the mpmath reference)
ELEMENTWISE: dict[str, tuple[str, Callable[..., Any]]] = {
    "log(exp(x)) -> x": ("c:{T} = exp a\n d:{T} = log c", lambda x: x),
    "log(1 + exp(x)) -> softplus(x)": (
        "c:{T} = exp a\n d:{T} = add 1 c\n e:{T} = log d",
        lambda x: mp.log1p(mp.exp(x)),
    ),
    "log1p(exp(x)) -> softplus(x)": (
        "c:{T} = exp a\n d:{T} = log1p c",
        lambda x: mp.log1p(mp.exp(x)),
    ),
    "log(sigmoid(x)) -> -softplus(-x)": (
        "c:{T} = sigmoid a\n d:{T} = log c",
        lambda x: -mp.log1p(mp.exp(-x)),
    ),
    "log(1 - sigmoid(x)) -> -softplus(x)": (
        "c:{T} = sigmoid a\n d:{T} = sub 1 c\n e:{T} = log d",
        lambda x: -mp.log1p(mp.exp(x)),
    ),
    "log(1 + x) -> log1p(x)": ("c:{T} = add a 1\n d:{T} = log c", lambda x: mp.log1p(x)),
    "exp(x) - 1 -> expm1(x)": ("c:{T} = exp a\n d:{T} = sub c 1", lambda x: mp.expm1(x)),
    "1 - exp(x) -> -expm1(x)": ("c:{T} = exp a\n d:{T} = sub 1 c", lambda x: -mp.expm1(x)),
    "sqrt(x*x) -> |x|": ("c:{T} = mul a a\n d:{T} = sqrt c", lambda x: abs(x)),
    "sqrt(x**2) -> |x|": ("c:{T} = pow a 2\n d:{T} = sqrt c", lambda x: abs(x)),
    "x*y/y -> x": (  # y = exp(b)
        "c:{T} = exp b\n d:{T} = mul a c\n e:{T} = exp b\n f:{T} = div d e",
        lambda x, y: x,
    ),
}
LOG_SOFTMAX = "log(softmax(x)) -> log_softmax(x)"
ROWS: dict[str, tuple[str, Callable[..., Any]]] = {  # over rows of 4: a is {T} = [n, 4]
    "log(sum(exp(x))) -> logsumexp(x)": (
        "c:{T} = exp a\n d:{R} = sum[axes=(1,) keepdim=False] c\n e:{R} = log d",
        lambda row: [mp.log(mp.fsum(mp.exp(v) for v in row))],
    ),
    LOG_SOFTMAX: (
        "c:{T} = exp a\n d:{K} = sum[axes=(1,) keepdim=True] c\n e:{T} = div c d\n f:{T} = log e",
        lambda row: [v - mp.log(mp.fsum(mp.exp(w) for w in row)) for v in row],
    ),
}


# the log of F.softmax: its exps are of x - max(x) already, and the rule does not shift again
SHIFTED = (
    "m:{K} = amax[axes=(1,) keepdim=True] a\n n:{K} = detach m\n s:{T} = sub a n\n"
    " c:{T} = exp s\n d:{K} = sum[axes=(1,) keepdim=True] c\n e:{T} = div c d\n f:{T} = log e"
)
ROWS["log(softmax(x)) -> log_softmax(x), shifted"] = (SHIFTED, ROWS[LOG_SOFTMAX][1])


def _rule(key: str) -> str:
    return key.split(",")[0]


def test_every_rule_is_proven() -> None:
    assert {r.name for r in RULES} == {*ELEMENTWISE, *map(_rule, ROWS)}


def _graph(body: str, t: str, shape: tuple[int, ...], binary: bool) -> Graph:
    typ = f"{t}[{','.join(map(str, shape))}]"
    kinds = {"T": typ, "R": f"{t}[{shape[0]}]", "K": f"{t}[{shape[0]},1]"}
    lines = body.format(**kinds).split("\n")
    out = lines[-1].split(":")[0].strip()
    inputs = f"a:{typ} b:{typ}" if binary else f"a:{typ}"
    return parse_graph(f"{{ lambda {inputs} .\n let " + "\n ".join(lines) + f"\n in ({out}) }}")


def _both(rule: str, body: str, t: str, shape: tuple[int, ...], binary: bool):  # noqa: ANN202
    g = _graph(body, t, shape, binary)
    new, fired = stabilize_report(g)
    assert [name for name, _ in fired] == [_rule(rule)]
    return g, new


# ---- 1. sympy: both sides equal as real functions -------------------------------------------


def _sympy(g: Graph, args: list[np.ndarray]) -> np.ndarray:
    """``g`` evaluated on object arrays of sympy expressions. A clamp's value is a fresh
    symbol: the replacements use one only as a split point (logsumexp's shift, expm1's c) that
    cancels, so this proves them for every value the clamp can take."""
    env: dict[Any, np.ndarray] = dict(zip(g.inputs, args, strict=True))
    fresh: dict[Any, sp.Symbol] = {}  # one symbol per clamp, equal clamps (not CSE'd) alike
    keys: dict[Any, Any] = {v: i for i, v in enumerate(g.inputs)}

    def read(a: Any) -> Any:
        return sp.nsimplify(a.value) if isinstance(a, Lit) else env[a]

    for e in g.eqns:
        xs = [read(a) for a in e.inputs]
        keys[e.out] = (e.op, repr(e.attrs), tuple(keys.get(a, repr(a)) for a in e.inputs))
        if e.op in (Op.CLAMP, Op.AMAX):  # (the maximum only ever reaches a clamp)
            m = fresh.setdefault(keys[e.out], sp.Symbol(f"m{len(fresh)}", real=True))
            val = np.full(e.out.aval.shape, m, dtype=object)
        elif e.op is Op.DETACH:
            val = xs[0]
        elif e.op is Op.SUM:
            val = np.sum(xs[0], axis=e.attrs["axes"], keepdims=e.attrs["keepdim"])
        elif e.op is Op.RESHAPE:
            val = np.reshape(xs[0], e.attrs["shape"])
        else:
            form = SYMPY_FORMS[e.op]
            val = np.vectorize(lambda *v, form=form, at=e.attrs: form(*v, **at), otypes=[object])(
                *xs
            )
        env[e.out] = np.asarray(val, dtype=object)
    return env[g.outputs[0]]  # type: ignore[index]


def _equal(lhs: Any, rhs: Any, sym: list[sp.Symbol]) -> bool:
    """Equal as real functions: simplified difference 0, each sign of each variable apart
    (so |x|, max and min resolve)."""
    for signs in itertools.product((1, -1), repeat=len(sym)):
        p = [sp.Symbol(f"p{i}", positive=True) for i in range(len(sym))]
        sub = {s: k * q for s, k, q in zip(sym, signs, p, strict=True)}
        d = sp.simplify(sp.expand_log((lhs - rhs).subs(sub).rewrite(sp.exp), force=True))
        if d != 0 and d.equals(0) is not True:
            return False
    return True


@pytest.mark.parametrize("rule", [*ELEMENTWISE, *ROWS])
def test_sympy_proof(rule: str) -> None:
    rows = rule in ROWS
    body = (ROWS if rows else ELEMENTWISE)[rule][0]
    binary = not rows and ELEMENTWISE[rule][1].__code__.co_argcount == 2
    shape = (1, 3) if rows else (1,)
    g, new = _both(rule, body, "f64", shape, binary)
    n = 3 if rows else 2 if binary else 1
    sym = [sp.Symbol(f"x{i}", real=True) for i in range(n)]
    args = (
        [np.array(sym, dtype=object).reshape(shape)]
        if rows
        else [np.array([s], dtype=object) for s in sym]
    )
    lhs, rhs = _sympy(g, args), _sympy(new, args)
    for u, v in zip(lhs.reshape(-1), rhs.reshape(-1), strict=True):
        assert _equal(u, v, sym), (rule, u, v)


# ---- 2. IEEE samples vs mpmath ---------------------------------------------------------------


def _samples(t: type) -> np.ndarray:
    fi = np.finfo(t)
    mags = [0.0, fi.smallest_subnormal, fi.tiny, 1e-30, 1e-10, 1e-7, 1e-4, 0.01, 0.3, 0.5,
            0.69, 1.0, 1.5, 2.0, 5.0, 10.0, 17.0, 20.0, 30.0, 39.0, 41.0, 50.0, 87.0, 89.0,
            100.0, 200.0, 700.0, 710.0, 1000.0, 1e10, 1e20, 1e30, fi.max, np.inf]  # fmt: skip
    v = np.array([m for m in mags if np.isfinite(t(m)) or m == np.inf], dtype=t)
    return np.concatenate([v, -v, np.array([np.nan], t)])


def _mp(v: float) -> Any:
    return mp.mpf(float(v)) if np.isfinite(v) else mp.mpf("inf" if v > 0 else "-inf")


def _reference(fn: Callable[..., Any], args: list[Any], t: type) -> float:
    """mpmath's value rounded to ``t`` (NaN where it is undefined or complex)."""
    if any(np.isnan(a) for a in args):
        return np.nan
    try:
        with mp.workprec(300):
            r = fn(*[_mp(a) for a in args])
    except (ValueError, ZeroDivisionError):
        return np.nan
    if isinstance(r, mp.mpc):
        return np.nan if r.imag != 0 else float(r.real)
    with np.errstate(over="ignore"):
        return np.nan if mp.isnan(r) else float(t(float(r)))  # rounded: +-inf past the range


def _ulps(got: np.ndarray, ref: np.ndarray, t: type) -> np.ndarray:
    """Error in units of the reference's last place (inf where a finite reference is missed)."""
    with np.errstate(all="ignore"):
        err = np.abs(got.astype(np.float64) - ref) / np.spacing(np.abs(ref).astype(t)).astype(
            np.float64
        )
    same_special = (np.isnan(ref) & np.isnan(got)) | (np.isinf(ref) & (got == ref))
    return np.where(same_special, 0.0, np.where(np.isfinite(err), err, np.inf))


def _check(rule: str, t: type, got_old: np.ndarray, got_new: np.ndarray, ref: np.ndarray,
           where: Callable[[tuple], Any]) -> None:  # fmt: skip
    old, new = _ulps(got_old, ref, t), _ulps(got_new, ref, t)
    finite = np.isfinite(ref)
    bad = (new > np.maximum(old, SLACK_ULPS)) | (finite & ~np.isfinite(got_new))
    if bad.any():
        k = np.argwhere(bad)[0]
        at = where(tuple(k))
        raise AssertionError(
            f"{rule} [{np.dtype(t).name}] at {at}: replacement {got_new[tuple(k)]!r} "
            f"({new[tuple(k)]:.3g} ulp), original {got_old[tuple(k)]!r} ({old[tuple(k)]:.3g} "
            f"ulp), reference {ref[tuple(k)]!r}"
        )


@pytest.mark.parametrize("t", DTYPES)
@pytest.mark.parametrize("rule", ELEMENTWISE)
def test_ieee_samples_elementwise(rule: str, t: str) -> None:
    body, fn = ELEMENTWISE[rule]
    dt = DTYPES[t]
    s = _samples(dt)
    binary = fn.__code__.co_argcount == 2
    if binary:
        a, b = (x.reshape(-1) for x in np.meshgrid(s, s[np.abs(s) <= 200], indexing="ij"))
    else:
        a, b = s, None
    g, new = _both(rule, body, t, a.shape, binary)
    with np.errstate(all="ignore"):
        ins = [a] if b is None else [a, b]
        got_old, got_new = interpret(g, ins)[0], interpret(new, ins)[0]
        ref = np.array([_reference(fn, [x] if b is None else [x, y], dt)
                        for x, y in zip(a, a if b is None else b, strict=True)])  # fmt: skip
    _check(rule, dt, got_old, got_new, ref, lambda k: (a[k], None if b is None else b[k]))


def _rows(t: type) -> np.ndarray:
    fi = np.finfo(t)
    big = float(fi.max)
    rows = [
        [0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0], [1000.0, 0.0, -5.0, 999.0],
        [-1000.0, -1001.0, -1002.0, -2000.0], [100.0, 100.0, 100.0, 100.0],
        [1e-30, -1e-30, 0.0, -0.0], [-np.inf, 0.0, 1.0, 2.0], [-np.inf] * 4,
        [np.inf, 0.0, 1.0, 2.0], [np.nan, 0.0, 1.0, 2.0], [big, big, 0.0, -big],
        [88.0, 89.0, 700.0, 710.0], [-745.0, -746.0, -800.0, -100.0],
    ]  # fmt: skip
    return np.array(rows, dtype=t)


@pytest.mark.parametrize("t", DTYPES)
@pytest.mark.parametrize("rule", ROWS)
def test_ieee_samples_rows(rule: str, t: str) -> None:
    body, fn = ROWS[rule]
    dt = DTYPES[t]
    a = _rows(dt)
    g, new = _both(rule, body, t, a.shape, False)
    with np.errstate(all="ignore"):
        got_old, got_new = interpret(g, [a])[0], interpret(new, [a])[0]
    per_row = got_old.size // len(a)
    ref = np.array([[_reference(lambda *r, i=i: fn(r)[i], list(row), dt)
                     for i in range(per_row)] for row in a])  # fmt: skip
    _check(rule, dt, got_old, got_new, ref.reshape(got_old.shape), lambda k: a[k[0]])


def test_a_wrong_rule_is_caught() -> None:
    """The checks can fail: log(1 + x) -> log(x) is neither equal nor accurate."""
    x = sp.Symbol("x0", real=True)
    assert not _equal(sp.log(1 + x), sp.log(x), [x])
    a = _samples(np.float32)
    ref = np.array([_reference(lambda v: mp.log(1 + v), [v], np.float32) for v in a])
    with np.errstate(all="ignore"):
        good, wrong = np.log1p(a), np.log(a)
    with pytest.raises(AssertionError):
        _check("wrong", np.float32, good, wrong, ref, lambda k: a[k])
