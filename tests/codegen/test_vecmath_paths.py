"""vecmath edge paths: portable ldexp, saturation thresholds, huge arguments, sin/cos sharing."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from adjit.codegen import vecmath, vecmath_core, vecmath_trig
from adjit.codegen.lower import lower_kernel
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float32, float64
from adjit.ir.graph import Eqn, Graph, Var
from adjit.ir.ops import Op
from adjit.passes.fusion import Kernel, fuse
from jit_util import compile_loop, ulp_distance
from test_vecmath import CASES, SPECIALS, reference, samples

F32, F64 = np.float32, np.float64
DTYPES = [F32, F64]
LDEXP_USERS = ["exp", "sigmoid"]  # the functions whose result goes through vecmath_core.ldexp


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", LDEXP_USERS)
def test_portable_ldexp_path(monkeypatch: pytest.MonkeyPatch, name: str, dtype: type) -> None:
    """Hosts without AVX-512 scale by two integer steps: same bounds, same special values."""
    monkeypatch.setattr(vecmath_core, "native_ldexp", lambda: False)
    k = compile_loop(vecmath.MATH[name], dtype)
    assert "llvm.ldexp" not in k.optimized_ir
    fn, ulp32, ulp64, _, _ = CASES[name]
    x = samples(name, dtype)
    d = ulp_distance(k(x), reference(name, fn, x))
    assert d.max() <= (ulp32 if dtype is F32 else ulp64)
    xs, want = (np.array(col, dtype=dtype) for col in zip(*SPECIALS[name], strict=True))
    got = k(xs)
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))


def test_native_ldexp_is_used_on_avx512_hosts() -> None:
    k = compile_loop(vecmath.MATH["exp"], F32)
    assert ("llvm.ldexp" in k.optimized_ir) == vecmath_core.native_ldexp()


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_exp_around_overflow_and_underflow(dtype: type) -> None:
    """Every float near the thresholds: inf above log(max), denormals, then 0 (as np.exp)."""
    info = np.finfo(dtype)
    hi, lo = math.log(float(info.max)), math.log(float(info.smallest_subnormal))
    x = np.concatenate(
        [np.linspace(hi - 1, hi + 1, 20001), np.linspace(lo - 2, lo + 30, 20001), [1e6, -1e6]]
    ).astype(dtype)
    got = compile_loop(vecmath.MATH["exp"], dtype)(x)
    wide = x.astype(F64 if dtype is F32 else np.longdouble)
    with np.errstate(over="ignore", under="ignore"):
        want = np.exp(wide).astype(dtype)
    assert ulp_distance(got, want).max() <= 1


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_tanh_saturates_exactly(dtype: type) -> None:
    x = np.concatenate([np.linspace(5, 40, 50001), [1e6, 1e30, float(np.finfo(dtype).max)]])
    x = np.concatenate([x, -x]).astype(dtype)
    got = compile_loop(vecmath.MATH["tanh"], dtype)(x)
    assert ulp_distance(got, np.tanh(x.astype(F64)).astype(dtype)).max() <= 1
    assert np.array_equal(got[np.abs(x) >= 20], np.sign(x[np.abs(x) >= 20]))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", ["sin", "cos"])
def test_trig_huge_arguments_are_accurate(name: str, dtype: type) -> None:
    """Around the Cody-Waite/Payne-Hanek switch and the round-to-integer limit (2**mant pi/2),
    where the old kernels returned +-1 or 0 (issue 12): as accurate as for small x."""
    mant = np.finfo(dtype).nmant
    edge = 2.0 ** (mant - 1) * math.pi / 2
    switch = vecmath_trig.FAST_BELOW[vecmath_core.F32 if dtype is F32 else vecmath_core.F64]
    x = np.concatenate(
        [np.linspace(edge / 4, edge * 4, 50_001), np.linspace(switch * 0.99, switch * 1.01, 20_001)]
    ).astype(dtype)
    x = np.concatenate([x, -x])
    fn, ulp32, ulp64, _, _ = CASES[name]
    got = compile_loop(vecmath.MATH[name], dtype)(x)
    d = ulp_distance(got, reference(name, fn, x))
    assert d.max() <= (ulp32 if dtype is F32 else ulp64), x[int(np.argmax(d))]


def _kernel(ops: list[Op], dtype: object, n: int = 64) -> Kernel:
    x = Var(Aval((n,), dtype))
    outs = [Var(Aval((n,), dtype)) for _ in ops]
    g = Graph((x,), tuple(Eqn(op, (x,), {}, o) for op, o in zip(ops, outs, strict=True)), outs)
    (k,) = [s for s in fuse(g).steps if isinstance(s, Kernel)]
    return k


@pytest.mark.parametrize("dtype", [float32, float64], ids=str)
def test_sin_and_cos_of_one_operand_share_the_reduction(dtype: object) -> None:
    """The emitted IR reduces once per function, but the reduction is the same expression, so
    the optimizer keeps one: one 2/pi product per vector of x loaded (however interleaved)."""
    from adjit.codegen.jit import compile_ir

    both = lower_kernel(_kernel([Op.SIN, Op.COS], dtype))
    loop = re.search(rf'^define [^\n]*@"{both.name}"\(.*?^}}$', both.ir, re.M | re.S)
    assert loop is not None
    assert loop.group(0).count("0x3fe45f306") == 2  # 2/pi, in each of sin and cos as lowered
    opt = compile_ir(both.ir, "sincos", both.name, disk=False).optimized_ir
    body = re.search(r"vector\.body:.*?\n\n", opt, re.S)
    assert body is not None, "the sin/cos kernel did not vectorize"
    loads = len(re.findall(r"= load <", body.group(0)))
    assert loads >= 1 and body.group(0).count("0x3FE45F306") == loads
