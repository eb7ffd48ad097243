"""Streamed calls: each output handed out right after the last step touching its memory (Note
[gradients as they are made] in runtime/streaming.py), equal to the plain call's results."""

from __future__ import annotations

import numpy as np
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float64
from adjit.ir.graph import Eqn, Graph, Lit, Var
from adjit.ir.ops import Op
from adjit.runtime import streaming
from adjit.runtime.executor import compile_program

N = 6


def _var(shape: tuple[int, ...] = (N, N)) -> Var:
    return Var(Aval(shape, float64))


def _program() -> Graph:
    """tanh -> matmul -> sin -> matmul -> exp, returning the first product early, a reshaped
    view of the second, the input itself and a literal."""
    x = _var()
    a, b, c, d, e = (_var() for _ in range(5))
    r = _var((N * N,))
    eqns = (
        Eqn(Op.TANH, (x,), {}, a),
        Eqn(Op.MATMUL, (a, a), {}, b),
        Eqn(Op.SIN, (b,), {}, c),
        Eqn(Op.MATMUL, (c, c), {}, d),
        Eqn(Op.RESHAPE, (d,), {"shape": (N * N,)}, r),
        Eqn(Op.EXP, (d,), {}, e),
    )
    lit = Lit(2.0, Aval((), float64))
    return Graph((x,), eqns, (b, r, e, x, lit))


class Log:
    def __init__(self) -> None:
        self.steps = 0
        self.got: list[tuple[int, int, np.ndarray]] = []

    def tick(self) -> None:
        self.steps += 1

    def __call__(self, k: int, a: np.ndarray) -> None:
        self.got.append((k, self.steps, a))


def test_streamed_outputs_equal_the_plain_call_and_come_when_final() -> None:
    g = _program()
    ex = compile_program(g)
    x = np.random.default_rng(0).standard_normal((N, N))
    plain = [a.copy() for a in ex([x])]
    log = Log()
    streaming.POLLERS.append(log.tick)
    try:
        outs = ex([x], ready=log)
    finally:
        streaming.POLLERS.remove(log.tick)
    assert sorted(k for k, _, _ in log.got) == [0, 1, 2, 3, 4]
    table = streaming.ready_table(ex)
    at = {k: i + 1 for i, ks in enumerate(table.after) for k in ks}
    at.update(dict.fromkeys(table.first, 0))
    assert {k: n for k, n, _ in log.got} == at
    assert at[4] == 0  # the literal: before any step
    assert at[3] == 1  # the input: after its last reader (tanh)
    # the reshaped view of d is handed out only after exp has read d (its memory)
    assert at[0] < at[1] == at[2] == len(ex.steps)
    for k, _, a in log.got:
        np.testing.assert_array_equal(a, plain[k])
        assert a is outs[k]
    assert not np.shares_memory(outs[3], x)  # an input is handed out as a copy


def test_a_plain_call_is_unchanged_after_a_streamed_one() -> None:
    g = _program()
    ex = compile_program(g)
    x = np.random.default_rng(1).standard_normal((N, N))
    first = [a.copy() for a in ex([x])]
    ex([x], ready=lambda k, a: None)
    for a, b in zip(first, ex([x]), strict=True):
        np.testing.assert_array_equal(a, b)
