"""A training step's gradients made in its arena (Note [gradients in the step's arena]): never
written over by a later step while the user, a view or a hook still holds them."""

from __future__ import annotations

import argparse

import numpy as np
from adjit.benchmarks import checkpoint_memory as cm
from adjit.runtime.buffer_plan import nbytes

import adjit


def _block() -> tuple[argparse.Namespace, dict[str, adjit.Tensor], list[adjit.Tensor]]:
    a = argparse.Namespace(threads=1, batch=2, seq=16, dim=32, heads=2, layers=2)
    data = cm._data(a)
    p = {k: adjit.tensor(data[k], requires_grad=True) for k in cm.NAMES}
    rng = np.random.default_rng(5)
    xs = [adjit.tensor(data["x"])]
    xs += [adjit.tensor(rng.standard_normal(data["x"].shape).astype(np.float32)) for _ in range(3)]
    return a, p, xs


def _pair(loss, x):
    fwd, bwd = sorted(
        (ex for _, ex in adjit.explain(loss, x)._executables()), key=lambda ex: ex.donor is not None
    )
    return fwd.joint, bwd


def _step(loss, params, x, set_to_none: bool = True) -> None:
    for t in params:
        if set_to_none:
            t.grad = None
    loss(x).backward()


def test_the_step_plans_its_gradients_in_its_arena_and_reuses_it_once_they_are_dropped() -> None:
    a, p, xs = _block()
    loss = adjit.compile(cm._loss(adjit, p, a, False))
    params = list(p.values())
    for x in xs:
        _step(loss, params, x)
    joint, bwd = _pair(loss, xs[0])
    plan = bwd.donor.plan
    assert plan.held and joint.plan.held  # every gradient here: no buffer of its own
    assert sum(map(nbytes, plan.held)) == sum(t.numel() * 4 for t in params)
    assert len(joint.arenas) == 1  # the gradients were dropped before each step
    owner = joint.owners[id(joint.arenas[0])]
    for t in params:
        assert t.grad.numpy().base is owner
    # a held value lives past the last step, and nothing live with it shares its bytes
    end = max(hi for _, hi in joint.plan.live.values())
    spans = {v: (o, o + nbytes(v)) for v, o in joint.plan.offset_of.items()}
    for h in joint.plan.held:
        assert joint.plan.live[h][1] == end
        for u in spans:
            if u is h or joint.plan.live[u][1] < joint.plan.live[h][0]:
                continue
            written_over = joint.plan.shared.get(h) is u or joint.plan.shared.get(u) is h
            assert written_over or spans[u][1] <= spans[h][0] or spans[h][1] <= spans[u][0]


def test_gradients_and_views_kept_across_steps_are_never_written_over() -> None:
    a, p, xs = _block()
    loss = adjit.compile(cm._loss(adjit, p, a, False))
    params = list(p.values())
    _step(loss, params, xs[0])
    kept = [t.grad for t in params]
    views = [g.view(-1)[1:] for g in kept]
    rows = [g.numpy()[0] for g in kept]  # a NumPy view of the array itself
    want = [g.numpy().copy() for g in kept]
    eager_p = {k: adjit.tensor(t.detach().numpy(), requires_grad=True) for k, t in p.items()}
    for x in xs[1:]:
        _step(loss, params, x)  # other inputs: other gradients, in another arena
        for t, g in zip(params, kept, strict=True):
            assert not np.shares_memory(t.grad.numpy(), g.numpy())
    for g, v, r, w in zip(kept, views, rows, want, strict=True):
        np.testing.assert_array_equal(g.numpy(), w)
        np.testing.assert_array_equal(v.numpy(), w.reshape(-1)[1:])
        np.testing.assert_array_equal(r, w[0])
    for t in eager_p.values():
        t.grad = None
    cm._loss(adjit, eager_p, a, False)(xs[-1]).backward()
    for t, e in zip(params, eager_p.values(), strict=True):
        np.testing.assert_allclose(t.grad.numpy(), e.grad.numpy(), rtol=2e-4, atol=2e-5)
    joint, _ = _pair(loss, xs[0])
    assert len(joint.arenas) == 2  # the kept gradients' arena, and one the later steps shared
    del kept, views, rows
    _step(loss, params, xs[0])  # dropped: their arena is free again, no third one
    assert len(joint.arenas) == 2


def test_gradients_accumulated_across_steps_sum_each_steps_own() -> None:
    a, p, xs = _block()
    loss = adjit.compile(cm._loss(adjit, p, a, False))
    params = list(p.values())
    each = []
    for x in xs:
        _step(loss, params, x)
        each.append([t.grad.numpy().copy() for t in params])
    for t in params:
        t.grad = None
    for x in xs:  # no zero_grad: .grad is the first step's, the others added into it
        _step(loss, params, x, set_to_none=False)
    for k, t in enumerate(params):
        want = each[0][k]
        for grads in each[1:]:
            want = want + grads[k]
        np.testing.assert_array_equal(t.grad.numpy(), want)


def test_gradients_a_post_accumulate_hook_keeps_are_never_written_over() -> None:
    # the streamed, donating backward (Note [gradients as they are made]) hands each gradient
    # out as it is made; the hook keeps the tensor, as an optimizer-in-backward might
    a, p, xs = _block()
    loss = adjit.compile(cm._loss(adjit, p, a, False))
    params = list(p.values())
    seen: list[list[np.ndarray]] = []
    kept: list[adjit.Tensor] = []

    def hook(t: adjit.Tensor) -> None:
        kept.append(t.grad)
        seen[-1].append(t.grad.numpy().copy())

    for t in params:
        t.register_post_accumulate_grad_hook(hook)
    for x in xs:
        seen.append([])
        _step(loss, params, x)
    _, bwd = _pair(loss, xs[0])
    assert bwd.donor.plan.held
    assert len(kept) == len(xs) * len(params)
    copies = [c for step in seen for c in step]
    for g, c in zip(kept, copies, strict=True):
        np.testing.assert_array_equal(g.numpy(), c)
    assert not np.array_equal(copies[0], copies[len(params)])  # the steps' gradients differ
