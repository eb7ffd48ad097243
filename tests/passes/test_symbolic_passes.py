"""The symbolic passes: where-safe gradients from Piecewise regions, and bounded simplify."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.frontend.builder import SYMBOLIC_HOST, joint_graph
from adjit.ir.graph import Graph, op_count
from adjit.ir.interpreter import interpret
from adjit.ir.parser import parse_graph
from adjit.ir.verify import verify
from adjit.passes import symbolic as S

SUM = "sum[axes=None keepdim=False]"

# name -> (IR with {t} for the float dtype, input shapes, inputs differentiated)
CASES: dict[str, tuple[str, list[tuple[int, ...]], list[int]]] = {
    "sqrt": (
        """{{ lambda a:{t}[2] .
          let b:bool[2] = gt a 0
              c:{t}[2] = sqrt a
              d:{t}[2] = where b c 0.0
              e:{t}[] = %s d
          in (e) }}""",
        [(2,)],
        [0],
    ),
    "log_neg": (
        """{{ lambda a:{t}[4] .
          let b:bool[4] = lt a 0
              c:{t}[4] = neg a
              d:{t}[4] = log c
              e:{t}[4] = where b d 0.0
              f:{t}[] = %s e
          in (f) }}""",
        [(4,)],
        [0],
    ),
    "relu_like": (
        """{{ lambda a:{t}[4] b:{t}[4] .
          let c:bool[4] = gt a 0
              d:{t}[4] = mul a b
              e:{t}[4] = where c d 0.0
              f:{t}[] = %s e
          in (f) }}""",
        [(4,), (4,)],
        [0, 1],
    ),
    "clamp_like": (
        """{{ lambda a:{t}[4] .
          let b:bool[4] = lt a -1.0
              c:bool[4] = gt a 1.0
              d:{t}[4] = mul a a
              e:{t}[4] = where c 1.0 d
              f:{t}[4] = where b -1.0 e
              g:{t}[] = %s f
          in (g) }}""",
        [(4,)],
        [0],
    ),
    "nested": (
        """{{ lambda a:{t}[4] .
          let b:bool[4] = gt a 0
              c:{t}[4] = sqrt a
              d:bool[4] = lt a -1.0
              e:{t}[4] = neg a
              f:{t}[4] = log e
              g:{t}[4] = mul a a
              h:{t}[4] = where d f g
              i:{t}[4] = where b c h
              j:{t}[] = %s i
          in (j) }}""",
        [(4,)],
        [0],
    ),
    "broadcast": (
        """{{ lambda a:{t}[3,1] b:{t}[4] .
          let c:bool[3,1] = gt a 0
              d:{t}[3,1] = sqrt a
              e:{t}[3,4] = mul d b
              f:{t}[3,4] = where c e b
              g:{t}[] = %s f
          in (g) }}""",
        [(3, 1), (4,)],
        [0, 1],
    ),
    "mask_input": (
        """{{ lambda a:{t}[4] m:bool[4] .
          let c:{t}[4] = sqrt a
              d:{t}[4] = where m c 0.0
              e:{t}[] = %s d
          in (e) }}""",
        [(4,), (4,)],
        [0],
    ),
}


def graph(name: str, dtype: str = "f32") -> Graph:
    return parse_graph(CASES[name][0].format(t=dtype) % SUM)


def gradients(fwd: Graph, args: list[np.ndarray], wrt: list[int], symbolic: bool) -> list:
    joint = joint_graph(fwd, wrt, S.where_regions(fwd, host=SYMBOLIC_HOST) if symbolic else ())
    verify(joint.graph)
    outs = interpret(joint.graph, [*args, np.ones((), args[0].dtype)])
    return outs[len(fwd.outputs) :]


def inputs(name: str, rng: np.random.Generator) -> list[np.ndarray]:
    shapes = CASES[name][1]
    args = [rng.normal(0, 2, s).astype(np.float32) for s in shapes]
    args = [np.where(np.abs(a) < 0.05, 0.5, a).astype(np.float32) for a in args]  # off kinks
    if name == "mask_input":  # the mask selects sqrt only where it is defined (else NaN)
        args[1] = args[0] > 0
    return args


def finite_differences(fwd64: Graph, args: list[np.ndarray], i: int, h: float = 1e-6):
    x = args[i].astype(np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        hi[idx] += h
        lo[idx] -= h
        f = lambda v: float(interpret(fwd64, [*args[:i], v, *args[i + 1 :]])[0])
        grad[idx] = (f(hi) - f(lo)) / (2 * h)
    return grad


def test_sqrt_gradient_is_finite_where_eager_is_nan() -> None:
    fwd = graph("sqrt")
    x = np.array([-1.0, 4.0], np.float32)
    (per_op,) = gradients(fwd, [x], [0], symbolic=False)
    assert np.isnan(per_op[0])  # PyTorch's answer (pytorch#52248): eager keeps it
    (grad,) = gradients(fwd, [x], [0], symbolic=True)
    np.testing.assert_array_equal(grad, [0.0, 0.25])
    fd = finite_differences(graph("sqrt", "f64"), [x.astype(np.float64)], 0)
    np.testing.assert_allclose(grad, fd, atol=1e-6)


@pytest.mark.parametrize("name", list(CASES))
def test_gradients_match_finite_differences_and_per_op_rules(name: str) -> None:
    rng = np.random.default_rng(0)
    fwd, fwd64 = graph(name), graph(name, "f64")
    assert S.where_regions(fwd, host=SYMBOLIC_HOST), "the case has a where region"
    for _ in range(3):
        args = inputs(name, rng)
        grads = gradients(fwd, args, CASES[name][2], symbolic=True)
        per_op = gradients(fwd, args, CASES[name][2], symbolic=False)
        args64 = [a if a.dtype == bool else a.astype(np.float64) for a in args]
        for i, g, p in zip(CASES[name][2], grads, per_op, strict=True):
            assert g.dtype == np.float32 and g.shape == args[i].shape
            assert np.all(np.isfinite(g))
            finite = np.isfinite(p)
            np.testing.assert_allclose(g[finite], p[finite], rtol=1e-5, atol=1e-6)
            fd = finite_differences(fwd64, args64, i)
            np.testing.assert_allclose(g, fd, rtol=1e-3, atol=1e-3)


def test_condition_inputs_get_no_cotangent() -> None:
    fwd = graph("mask_input")
    (region,) = S.where_regions(fwd, host=SYMBOLIC_HOST)
    assert [v.aval.dtype.name for v in region.inputs] == ["float32", "bool"]
    joint = joint_graph(fwd, [0], [region])
    assert "not" not in op_count(joint.graph)  # no cotangent was built for the mask


SIGMOID = f"""{{ lambda a:f32[3] .
  let b:f32[3] = neg a
      c:f32[3] = exp b
      d:f32[3] = add c 1.0
      e:f32[3] = div 1.0 d
      f:bool[3] = gt a 0
      h:f32[3] = where f e 0.0
      i:f32[] = {SUM} h
  in (i) }}"""


def test_sigmoid_region_derivative_is_s_times_one_minus_s() -> None:
    fwd = parse_graph(SIGMOID)
    joint = joint_graph(fwd, [0], S.where_regions(fwd, host=SYMBOLIC_HOST))
    backward = joint.graph.replace(eqns=joint.graph.eqns[joint.n_forward_eqns :])
    ops = op_count(backward)
    # g -> reshape, expand; then s = sigmoid a, 1 - s, g*s*(1-s), the select (and its cond)
    assert ops == {"reshape": 1, "expand": 1, "sigmoid": 1, "sub": 1, "mul": 2, "gt": 1, "where": 1}
    x = np.array([-2.0, 0.5, 3.0], np.float32)
    (grad,) = interpret(joint.graph, [x, np.float32(1)])[1:]
    s = 1 / (1 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(grad, np.where(x > 0, s * (1 - s), 0), rtol=1e-6)


SIMPLIFIABLE = f"""{{ lambda a:f32[5] b:f32[5] c:f32[5] .
  let d:f32[5] = mul a b
      e:f32[5] = mul a c
      f:f32[5] = add d e
      g:f32[5] = mul a a
      h:f32[5] = mul b b
      i:f32[5] = sub g h
      j:f32[5] = sub a b
      k:f32[5] = div i j
      l:f32[5] = add 1.0 f
      m:f32[5] = log l
      n:f32[5] = mul m 0.1
      o:f32[5] = mul m 0.2
      p:f32[5] = add n o
      q:f32[] = {SUM} p
  in (f, k, p, q) }}"""


def _simplify_cases() -> list[Graph]:
    fwd = [graph(n) for n in CASES] + [parse_graph(SIGMOID), parse_graph(SIMPLIFIABLE)]
    joints = [joint_graph(g, [0], S.where_regions(g, host=SYMBOLIC_HOST)).graph for g in fwd]
    return fwd + joints + [graph("nested", "f64")]


def test_simplify_keeps_values_avals_and_never_grows() -> None:
    rng = np.random.default_rng(1)
    shrunk = 0
    for g in _simplify_cases():
        s = S.simplify(g, host=SYMBOLIC_HOST)
        verify(s)
        assert len(s.eqns) <= len(g.eqns)
        shrunk += len(s.eqns) < len(g.eqns)
        assert [o.aval for o in s.outputs] == [o.aval for o in g.outputs]  # f32 stays f32
        assert "cast" not in op_count(s)
        # positive inputs away from the cancellations: every rewrite here is exact algebra, so
        # the two graphs differ only by float32 roundings of a few ops (eps = 1.2e-7 each)
        args = [
            (rng.random(v.aval.shape) > 0.5)
            if v.aval.dtype.name == "bool"
            else rng.uniform(0.5, 2.0, v.aval.shape).astype(v.aval.dtype.np)
            for v in g.inputs
        ]
        for want, got in zip(interpret(g, args), interpret(s, args), strict=True):
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert shrunk >= 3


def test_simplify_rewrites_what_it_can() -> None:
    s = S.simplify(parse_graph(SIMPLIFIABLE), host=SYMBOLIC_HOST)
    # 0.1*log(1+f) + 0.2*log(1+f) -> 0.3*log1p(f) is kept. a*b + a*c -> a*(b+c) and
    # (a*a - b*b)/(a - b) -> a + b are rejected: they change IEEE results (a = inf with
    # b + c = 0 gives inf instead of nan; a == b gives 2a instead of 0/0 = nan), which the
    # numeric check on NaN/inf/0 samples catches: rewrites may only change rounding
    assert op_count(s) == {"mul": 5, "add": 1, "sub": 2, "div": 1, "log1p": 1, "sum": 1}
    stats = S.simplify.last_stats
    assert (stats.regions, stats.rewritten, stats.ops_before, stats.ops_after) == (3, 1, 13, 10)
    assert stats.seconds >= stats.sympy_seconds >= 0


TWO_REGIONS = f"""{{ lambda a:f32[3] b:f32[3] .
  let c:bool[3] = gt a 0
      d:f32[3] = sqrt a
      e:f32[3] = where c d 0.0
      f:f32[] = {SUM} e
      g:bool[3] = gt b 0
      h:f32[3] = sqrt b
      i:f32[3] = where g h 0.0
      j:f32[] = {SUM} i
      k:f32[] = add f j
  in (k) }}"""


def test_identical_regions_hit_the_cache() -> None:
    fwd = parse_graph(TWO_REGIONS)
    hits = S.VJP_CACHE.hits
    assert len(S.where_regions(fwd, host=SYMBOLIC_HOST)) == 2
    assert S.VJP_CACHE.hits >= hits + 1  # the second region reuses the first's derivative
    hits = S.SIMPLIFY_CACHE.hits
    S.simplify(fwd, host=SYMBOLIC_HOST)
    assert S.SIMPLIFY_CACHE.hits >= hits + 1
    (ga, gb) = gradients(fwd, [np.array([-1.0, 4.0, 1.0], np.float32)] * 2, [0, 1], True)
    np.testing.assert_array_equal(ga, [0.0, 0.25, 0.5])
    np.testing.assert_array_equal(gb, ga)


def test_region_above_the_size_bound_falls_back() -> None:
    n = S.MAX_REGION_OPS + 2
    body = [f"x{k + 1}:f32[3] = mul x{k} 1.5" for k in range(n)]
    text = "\n".join(
        [
            "{ lambda x0:f32[3] .",
            "  let c:bool[3] = gt x0 0",
            *body,
            f"      w:f32[3] = where c x{n} 0.0",
            f"      s:f32[] = {SUM} w",
            "  in (s) }",
        ]
    )
    fwd = parse_graph(text)
    assert S.where_regions(fwd, host=SYMBOLIC_HOST) == []
    assert len(S.where_regions(fwd, host=SYMBOLIC_HOST, limit=n + 4)) == 1
    x = np.array([-1.0, 0.5, 2.0], np.float32)
    (grad,) = gradients(fwd, [x], [0], symbolic=True)  # the per-op rules
    np.testing.assert_allclose(grad, np.where(x > 0, 1.5**n, 0.0), rtol=1e-5)
