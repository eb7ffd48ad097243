"""The rematerialization cut (Note [rematerialization]): the fewest saved bytes, checked against
every subset on small random graphs; bans, forced regions and the budget's sequence."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float32
from adjit.ir.graph import Eqn, Var
from adjit.ir.ops import Op
from adjit.passes.remat import Partition, choose


def _random_forward(seed: int, n: int = 9) -> tuple[list[Eqn], Var, set[Var]]:
    """``n`` equations over one input: each reads one or two earlier values; random sizes."""
    rng = np.random.default_rng(seed)
    x = Var(Aval((1,), float32))
    values, eqns = [x], []
    for i in range(n):
        k = 1 + int(rng.integers(0, 2))
        ins = tuple(values[int(j)] for j in rng.choice(len(values), size=k, replace=True))
        op = Op.MATMUL if rng.random() < 0.2 else (Op.EXP if k == 1 else Op.ADD)
        out = Var(Aval((int(rng.integers(1, 40)),), float32))
        e = Eqn(op, ins[:1] if op is Op.EXP else ins[:2] if len(ins) == 2 else ins * 2, {}, out)
        eqns.append(Eqn(e.op, e.inputs, {}, out, remat=int(i % 4 == 1 and rng.random() < 0.5)))
        values.append(out)
    boundary = {e.out for e in eqns if rng.random() < 0.4} | {eqns[-1].out}
    return eqns, x, boundary


def _feasible(eqns: list[Eqn], saved: set[Var], boundary: set[Var], banned: set[int],
              forced: set[int]) -> bool:  # fmt: skip
    """Every boundary value is saved or recomputable without a banned equation, and no forced
    value is saved."""
    index = {e.out: i for i, e in enumerate(eqns)}
    if any(eqns[i].out in saved for i in forced):
        return False
    stack = [index[v] for v in boundary if v not in saved]
    seen: set[int] = set()
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        if i in banned:
            return False
        stack += [index[a] for a in eqns[i].inputs if a in index and a not in saved]
    return True


@pytest.mark.parametrize("seed", range(12))
def test_min_cut_is_the_fewest_bytes_of_any_valid_choice(seed: int) -> None:
    eqns, _, boundary = _random_forward(seed)
    p = Partition(eqns, boundary)
    rng = np.random.default_rng(100 + seed)
    banned = {i for i in range(len(eqns)) if rng.random() < 0.4}
    forced = {i for i, e in enumerate(eqns) if e.remat} - banned
    got = p.cut(banned, forced)
    assert _feasible(eqns, got, boundary, banned, forced)
    best = min(
        p.bytes_of(s)
        for r in range(len(eqns) + 1)
        for c in itertools.combinations([e.out for e in eqns], r)
        if _feasible(eqns, s := set(c), boundary, banned, forced)
    )
    assert p.bytes_of(got) == best


@pytest.mark.parametrize("seed", range(6))
def test_budget_sequence_is_monotone_and_meets_its_target(seed: int) -> None:
    eqns, _, boundary = _random_forward(seed, n=12)
    eqns = [Eqn(e.op, e.inputs, {}, e.out) for e in eqns]  # no regions
    default = set(boundary)  # everything the backward reads saved: the largest choice
    sizes = []
    for b in (1.0, 0.8, 0.6, 0.4, 0.2, 0.0):
        c = choose(eqns, boundary, default, set(), b)
        sizes.append(c.saved_bytes)
        assert c.met and c.saved_bytes <= c.target_bytes, c.steps
        assert _feasible(eqns, c.saved, boundary, set(), set())
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[-1] == 0  # one input, no draws: everything can be recomputed


def test_random_draws_are_never_recomputed() -> None:
    x = Var(Aval((4,), float32))
    mask = Var(Aval((4,), float32))
    y, z = Var(Aval((4,), float32)), Var(Aval((4,), float32))
    draw = Eqn(Op.RANDOM, (), {}, mask, remat=1)
    eqns = [draw, Eqn(Op.MUL, (x, mask), {}, y, remat=1), Eqn(Op.EXP, (y,), {}, z, remat=1)]
    c = choose(eqns, {z}, {z}, set(), 0.0)
    assert c.saved == {mask}  # the sample, not what the region makes from it
