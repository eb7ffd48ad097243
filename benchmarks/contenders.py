"""The contenders for "a scalar loss of arrays and its gradients", one setup each."""

# A loss written with tensor methods (``x.sin()``, ``.sum()``) runs unchanged on adjit and
# PyTorch tensors; JAX gets its own version built from the ``jax`` module. Every step returns
# ``(loss, *gradients)`` and, for JAX, waits for the results (``block_until_ready``).

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import peers
from .harness import BASELINE, Setup, Step

# every contender name a workload may use, in table order (--skip takes these)
NAMES = (
    BASELINE,
    "adjit compile+backward",
    "adjit eager",
    "numpy",
    "torch eager",
    "torch.compile",
    "jax.jit",
)

TensorFn = Callable[..., Any]
JaxFnMaker = Callable[[Any], Callable[..., Any]]  # the jax module -> the loss on jax arrays


def autograd_step(fn: TensorFn, args: Sequence[Any], wrt: tuple[int, ...]) -> Step:
    """``fn(*args).backward()`` with fresh gradients each call (adjit and PyTorch alike)."""
    leaves = [args[i] for i in wrt]

    def step() -> tuple[Any, ...]:
        for t in leaves:
            t.grad = None
        loss = fn(*args)
        loss.backward()
        return (loss, *[t.grad for t in leaves])

    return step


def adjit_compiled(fn: TensorFn, arrays: Sequence[np.ndarray], wrt: tuple[int, ...]) -> Setup:
    """``adjit.value_and_grad(fn, argnums=wrt)``: one compiled forward+backward program."""

    def setup() -> Step:
        import adjit

        vg = adjit.value_and_grad(fn, argnums=wrt)
        args = [adjit.from_numpy(a) for a in arrays]

        def step() -> tuple[Any, ...]:
            value, grads = vg(*args)
            return (value, *grads)

        return step

    return setup


def adjit_eager(fn: TensorFn, arrays: Sequence[np.ndarray], wrt: tuple[int, ...]) -> Setup:
    def setup() -> Step:
        import adjit

        args = [adjit.tensor(a, requires_grad=i in wrt) for i, a in enumerate(arrays)]
        return autograd_step(fn, args, wrt)

    return setup


def torch_autograd(
    fn: TensorFn, arrays: Sequence[np.ndarray], wrt: tuple[int, ...], compiled: bool = False
) -> Setup:
    """PyTorch eager, or ``torch.compile(fn, dynamic=False)`` (one static kernel per size)."""

    def setup() -> Step:
        torch = peers.torch()
        args = [torch.from_numpy(a).requires_grad_(i in wrt) for i, a in enumerate(arrays)]
        return autograd_step(torch.compile(fn, dynamic=False) if compiled else fn, args, wrt)

    return setup


def jax_jit(make: JaxFnMaker, arrays: Sequence[np.ndarray], wrt: tuple[int, ...]) -> Setup:
    """``jax.jit(jax.value_and_grad(f, argnums=wrt))``."""

    def setup() -> Step:
        jax, jnp = peers.jax()
        f = jax.jit(jax.value_and_grad(make(jax), argnums=wrt))
        args = [jnp.asarray(a) for a in arrays]

        def step() -> tuple[Any, ...]:
            value, grads = jax.block_until_ready(f(*args))
            return (value, *grads)

        return step

    return setup


def standard(
    fn: TensorFn,
    jax_fn: JaxFnMaker,
    numpy_step: Step,
    arrays: Sequence[np.ndarray],
    wrt: tuple[int, ...],
) -> dict[str, Setup]:
    """adjit compiled and eager, hand-written NumPy, PyTorch eager and compiled, JAX jit."""
    return {
        BASELINE: adjit_compiled(fn, arrays, wrt),
        "adjit eager": adjit_eager(fn, arrays, wrt),
        "numpy": lambda: numpy_step,
        "torch eager": torch_autograd(fn, arrays, wrt),
        "torch.compile": torch_autograd(fn, arrays, wrt, compiled=True),
        "jax.jit": jax_jit(jax_fn, arrays, wrt),
    }
