"""The early_collectives pass (Note [collectives as early as possible])."""

from __future__ import annotations

import numpy as np
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float32
from adjit.ir.graph import Eqn, Graph, Var
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.passes.early_collectives import early_collectives


class Doubling:
    def start(self, buffer):
        buffer *= 2
        return self

    def wait(self) -> None:
        pass

    def is_completed(self) -> bool:
        return True


def _v() -> Var:
    return Var(Aval((3,), float32))


def test_collectives_move_up_in_order_and_the_rest_keeps_its_order() -> None:
    x = _v()
    a, b, c, d, g1, g2, r1, r2, out = (_v() for _ in range(9))
    coll1, coll2 = Doubling(), Doubling()
    eqns = (
        Eqn(Op.SIN, (x,), {}, g1),  # the first "gradient"
        Eqn(Op.EXP, (x,), {}, a),  # more "backward"
        Eqn(Op.COS, (a,), {}, g2),  # the second "gradient"
        Eqn(Op.TANH, (a,), {}, b),
        Eqn(Op.NEG, (b,), {}, c),
        Eqn(Op.COLLECTIVE, (g1,), {"coll": coll1}, r1),  # traced after everything
        Eqn(Op.COLLECTIVE, (g2,), {"coll": coll2}, r2),
        Eqn(Op.ADD, (r1, r2), {}, d),
        Eqn(Op.ADD, (d, c), {}, out),
    )
    g = Graph((x,), eqns, (out,))
    moved = early_collectives(g)
    ops = [e.op for e in moved.eqns]
    assert ops == [
        Op.SIN,
        Op.COLLECTIVE,  # right after its operand
        Op.EXP,
        Op.COS,
        Op.COLLECTIVE,  # the second one after the first, right after its operand
        Op.TANH,
        Op.NEG,
        Op.ADD,
        Op.ADD,
    ]
    assert [e.attrs["coll"] for e in moved.eqns if e.op is Op.COLLECTIVE] == [coll1, coll2]

    xs = np.linspace(-1, 1, 3, dtype=np.float32)
    np.testing.assert_array_equal(interpret(moved, [xs])[0], interpret(g, [xs])[0])


def test_unrelated_work_waits_and_no_collective_is_a_no_op() -> None:
    x = _v()
    g1, r1, s = _v(), _v(), _v()
    eqns = (
        Eqn(Op.SIN, (x,), {}, s),
        Eqn(Op.EXP, (x,), {}, g1),
        Eqn(Op.COLLECTIVE, (g1,), {"coll": Doubling()}, r1),
    )
    g = Graph((x,), eqns, (r1, s))
    assert [e.op for e in early_collectives(g).eqns] == [Op.EXP, Op.COLLECTIVE, Op.SIN]
    plain = Graph((x,), eqns[:2], (g1, s))
    assert early_collectives(plain) is plain
