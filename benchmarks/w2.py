"""W2: one train step (forward, cross-entropy, backward, SGD) of an MLP 784-256-10 with ReLU."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import peers
from .harness import BASELINE, Case, Setup, Step, Workload
from .models import GEMM_FLOORS, Products, gemm_floor, recorded_products

SIZES = {"full": [128, 1024], "quick": [128], "tiny": [8]}
LAYERS = (784, 256, 10)
LR = 0.01

Params = tuple[np.ndarray, ...]  # (W1, b1, W2, b2), PyTorch's (out, in) layout


def init(batch: int) -> tuple[Params, np.ndarray, np.ndarray]:
    """Seeded weights (PyTorch's default uniform bounds), a batch and its class labels."""
    rng = np.random.default_rng(0)
    params = []
    for n_in, n_out in zip(LAYERS[:-1], LAYERS[1:], strict=True):
        bound = 1 / np.sqrt(n_in)
        params.append(rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, n_out).astype(np.float32))
    x = rng.standard_normal((batch, LAYERS[0])).astype(np.float32)
    return tuple(params), x, rng.integers(0, LAYERS[-1], batch)


def numpy_step(params: Params, x: np.ndarray, y: np.ndarray) -> tuple[Any, ...]:
    """Hand-written forward, backward and in-place SGD; returns (loss, *gradients)."""
    w1, b1, w2, b2 = params
    pre = x @ w1.T + b1
    h = np.maximum(pre, 0)
    z = h @ w2.T + b2
    z = z - z.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    rows = np.arange(len(y))
    loss = -logp[rows, y].mean()
    g = np.exp(logp)
    g[rows, y] -= 1
    g /= len(y)
    dh = (g @ w2) * (pre > 0)
    grads = (dh.T @ x, dh.sum(0), g.T @ h, g.sum(0))
    for p, dp in zip(params, grads, strict=True):
        p -= LR * dp
    return (loss, *grads)


def _module_step(lib: Any, params: Params, x: Any, y: Any, compiled: Any = None) -> Step:
    """An nn.Sequential of ``lib`` (adjit or torch) with ``params``, trained by optim.SGD;
    ``compiled`` wraps the loss function (adjit.compile or torch.compile)."""
    nn, f = lib.nn, lib.nn.functional
    model = nn.Sequential(nn.Linear(*LAYERS[:2]), nn.ReLU(), nn.Linear(*LAYERS[1:]))
    with lib.no_grad():
        for p, value in zip(model.parameters(), params, strict=True):
            p.copy_(lib.tensor(value))
    opt = lib.optim.SGD(model.parameters(), lr=LR)

    def loss_fn(xb: Any, yb: Any) -> Any:
        return f.cross_entropy(model(xb), yb)

    run = compiled(loss_fn) if compiled else loss_fn

    def step() -> tuple[Any, ...]:
        opt.zero_grad()
        loss = run(x, y)
        loss.backward()
        opt.step()
        return (loss, *[p.grad for p in model.parameters()])

    return step


def _adjit(params: Params, x: np.ndarray, y: np.ndarray, compiled: bool) -> Setup:
    def setup() -> Step:
        import adjit

        wrap = adjit.compile if compiled else None
        return _module_step(adjit, params, adjit.tensor(x), adjit.tensor(y), wrap)

    return setup


def _torch(params: Params, x: np.ndarray, y: np.ndarray, compiled: bool) -> Setup:
    def setup() -> Step:
        torch = peers.torch()
        wrap = (lambda fn: torch.compile(fn, dynamic=False)) if compiled else None
        return _module_step(torch, params, torch.tensor(x), torch.tensor(y), wrap)

    return setup


def _jax(params: Params, x: np.ndarray, y: np.ndarray) -> Setup:
    """``jax.jit`` of value_and_grad and the SGD update, on a tuple of arrays."""

    def setup() -> Step:
        jax, jnp = peers.jax()

        def loss_fn(p: Any, xb: Any, yb: Any) -> Any:
            w1, b1, w2, b2 = p
            logits = jax.nn.relu(xb @ w1.T + b1) @ w2.T + b2
            logp = jax.nn.log_softmax(logits, axis=1)
            return -jnp.take_along_axis(logp, yb[:, None], axis=1).mean()

        def train(p: Any, xb: Any, yb: Any) -> Any:
            loss, grads = jax.value_and_grad(loss_fn)(p, xb, yb)
            return loss, grads, tuple(w - LR * g for w, g in zip(p, grads, strict=True))

        train_jit = jax.jit(train)
        state = [tuple(jnp.asarray(p) for p in params)]
        xb, yb = jnp.asarray(x), jnp.asarray(y)

        def step() -> tuple[Any, ...]:
            loss, grads, state[0] = jax.block_until_ready(train_jit(state[0], xb, yb))
            return (loss, *grads)

        return step

    return setup


def build(batch: int) -> Case:
    params, x, y = init(batch)
    fresh = lambda: tuple(p.copy() for p in params)  # every contender trains its own copy
    numpy_params = fresh()
    contenders = {
        BASELINE: _adjit(fresh(), x, y, compiled=True),
        "adjit eager": _adjit(fresh(), x, y, compiled=False),
        "numpy": lambda: lambda: numpy_step(numpy_params, x, y),
        "torch eager": _torch(fresh(), x, y, compiled=False),
        "torch.compile": _torch(fresh(), x, y, compiled=True),
        "jax.jit": _jax(fresh(), x, y),
    }
    p64 = tuple(p.astype(np.float64) for p in params)
    reference = lambda: numpy_step(p64, x.astype(np.float64), y)
    recorded: list[Products] = []  # the compiled step's products, recorded once (Note [GEMM floor])

    def products() -> Products:
        if not recorded:
            recorded.append(recorded_products(_adjit(fresh(), x, y, compiled=True)))
        return recorded[0]

    floors = {name: gemm_floor(products, lib) for name, lib in GEMM_FLOORS.items()}
    return Case("W2", f"batch={batch}", {"batch": batch}, contenders, reference, floors=floors)


WORKLOAD = Workload(
    "W2", "train step of an MLP 784-256-10 (ReLU, cross-entropy, SGD)", SIZES, build
)
