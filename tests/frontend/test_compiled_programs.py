"""Issue 15's proof programs (benchmarks/train_steps.py: a tiny GPT with dropout and AdamW, a VAE
with BCE and KL, a WGAN-GP critic, a straight-through MLP), each a whole training step with
zero_grad/backward/step inside: compiled (both backends) against eager adjit, and eager adjit
against PyTorch from the same seed (the same weights, data and random draws)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from adjit.benchmarks.train_steps import PROGRAMS, build

import adjit

STEPS = 4


def _losses(name: str, lib, compiled: bool = False, backend: str = "llvm"):
    prog = build(name, lib)
    start = [p.detach().numpy().copy() for p in prog.model.parameters()]
    step = adjit.compile(prog.step, backend=backend) if compiled else prog.step
    losses = [step(*prog.batch(0)).item()]
    grads = [p.grad.numpy().copy() for p in prog.model.parameters()]
    losses += [step(*prog.batch(i)).item() for i in range(1, STEPS)]
    params = [p.detach().numpy().copy() for p in prog.model.parameters()]
    return losses, grads, (start, params), step


def _same_training(a, b) -> None:
    """The first step's gradients agree to float32 rounding (scaled by the largest of each
    tensor), the losses of every step agree, and the parameters moved the same way: Adam
    divides each gradient by its own magnitude, so an element whose gradient is rounding noise
    moves by up to ``lr`` in a direction that noise decides; the parameters are compared by the
    size of their difference against how far they moved."""
    (la, ga, (start, pa)), (lb, gb, (_, pb)) = a, b
    np.testing.assert_allclose(la, lb, rtol=2e-6)
    for x, y in zip(ga, gb, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5 * max(np.abs(y).max(), 1e-30))
    moved = sum(float(np.sum((p - s) ** 2)) for p, s in zip(pb, start, strict=True))
    apart = sum(float(np.sum((p - q) ** 2)) for p, q in zip(pa, pb, strict=True))
    assert apart <= 1e-6 * moved, (apart, moved)


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_compiled_step_matches_eager(name, backend):
    *eager, _ = _losses(name, adjit)
    *compiled, step = _losses(name, adjit, compiled=True, backend=backend)
    _same_training(compiled, eager)
    assert step.trace_count <= 2  # one program (two when state appears after the first step)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_eager_step_matches_pytorch(name):
    *eager, _ = _losses(name, adjit)
    *ref, _ = _losses(name, torch)
    _same_training(eager, ref)


def test_compiled_step_runs_as_one_program():
    """Every equation of the GPT step (forward, backward, clipping, AdamW) runs compiled: the
    step is one graph whose outputs are the loss and the written-back state."""
    prog = build("gpt", adjit)
    step = adjit.compile(prog.step)
    step(*prog.batch(0))
    (entry,) = step._entries.values()
    assert entry.graph is not None and entry.eager_reason is None
    n_params = len(list(prog.model.parameters()))
    assert len(entry.mutated) >= 3 * n_params  # parameters, exp_avg, exp_avg_sq (and steps)
    assert entry.writes is not None and len(entry.writes.grads) == n_params
