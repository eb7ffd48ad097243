"""Random programs compiled with symbolic sizes, run at the traced sizes and at larger sizes
their guards accept: values and backward gradients vs eager (Note [symbolic shapes])."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

import adjit

from .checks import STATS, assert_close, near_kink, rtol, run_backward
from .programs import Input, Program
from .strategies import ALL, programs

BUMPS = (1, 3)  # each free symbol grows by these, one program per bump


def dynamic_cases() -> st.SearchStrategy[Program]:
    return programs(ALL)


def _compare(p: Program, cf: Any, what: str) -> None:
    eager, eager_grads = run_backward(adjit, p, p.bind(adjit))
    out, grads = run_backward(adjit, p, cf)
    assert out.dtype == eager.dtype, f"{what}: dtype {out.dtype} != {eager.dtype}"
    assert_close(out, eager, rtol(p), f"{what}: compiled value vs eager")
    for i, (g, e) in enumerate(zip(grads, eager_grads, strict=True)):
        assert (g is None) == (e is None), f"{what}: x{i}.grad is {g} compiled, {e} eager"
        if g is not None:
            assert_close(g, e, rtol(p), f"{what}: compiled x{i}.grad vs eager")


def check_dynamic(p: Program) -> None:
    assume(not near_kink(p))
    cf = adjit.compile(p.bind(adjit), dynamic=True)
    _compare(p, cf, "traced sizes")
    templates = [t.symbolic for t in cf._templates]
    if not templates:
        STATS["dynamic: traced static"] += 1
        return
    t = templates[-1]
    for bump in BUMPS:
        shapes = t.grown([inp.shape for inp in p.inputs], bump)
        if shapes is None:
            STATS["dynamic: a size the guards reject"] += 1
            continue
        q = replace(
            p,
            inputs=[Input(s, i.requires_grad) for s, i in zip(shapes, p.inputs, strict=True)],
            _functions={},
        )
        if near_kink(q):
            continue
        before = cf.trace_count
        _compare(q, cf, f"sizes {shapes}")
        assert cf.trace_count == before, "a size the guards accept traced again"
        STATS["dynamic: another size served"] += 1
