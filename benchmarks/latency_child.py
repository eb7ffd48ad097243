"""A fresh process's first W1 fwd+bwd: run by path (``python latency_child.py LIB N DIR``)."""

# Prints one JSON line: the library's import time, the time from the first call to the loss and
# both gradients (tracing and compiling included), and those outputs for the parent to check.
# It imports nothing of adjit's before timing ``import adjit``; DIR is the compile cache folder.

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import numpy as np


def w1(x: Any, y: Any) -> Any:
    return (x.sin() * y.exp() + x**2 * y - (x * y).tanh()).sum()


def first_adjit(x: np.ndarray, y: np.ndarray, cache: str) -> tuple[float, float, Any]:
    os.environ["ADJIT_CACHE_DIR"] = cache
    t0 = time.perf_counter()
    import adjit

    t1 = time.perf_counter()
    value, grads = adjit.value_and_grad(w1, argnums=(0, 1))(adjit.tensor(x), adjit.tensor(y))
    out = [value.numpy(), *(g.numpy() for g in grads)]
    return t1 - t0, time.perf_counter() - t1, out


def first_torch(x: np.ndarray, y: np.ndarray, cache: str) -> tuple[float, float, Any]:
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
    t0 = time.perf_counter()
    import torch

    t1 = time.perf_counter()
    threads = int(os.environ.get("ADJIT_BENCH_TORCH_THREADS", "0"))
    if threads:
        torch.set_num_threads(threads)
    tx, ty = (torch.from_numpy(a).requires_grad_() for a in (x, y))
    value = torch.compile(w1, dynamic=False)(tx, ty)
    value.backward()
    out = [value.detach().numpy(), tx.grad.numpy(), ty.grad.numpy()]
    return t1 - t0, time.perf_counter() - t1, out


def first_jax(x: np.ndarray, y: np.ndarray, cache: str) -> tuple[float, float, Any]:
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    t0 = time.perf_counter()
    import jax
    import jax.numpy as jnp

    t1 = time.perf_counter()
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    f = lambda a, b: jnp.sum(jnp.sin(a) * jnp.exp(b) + a**2 * b - jnp.tanh(a * b))
    value, grads = jax.block_until_ready(jax.jit(jax.value_and_grad(f, (0, 1)))(x, y))
    out = [np.asarray(value), *(np.asarray(g) for g in grads)]
    return t1 - t0, time.perf_counter() - t1, out


FIRST = {"adjit": first_adjit, "torch": first_torch, "jax": first_jax}


def main(lib: str, n: int, cache: str) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    import_s, first_s, out = FIRST[lib](x, y, cache)
    outputs = [np.asarray(o, np.float64).tolist() for o in out]
    print(json.dumps({"import_ms": import_s * 1e3, "first_ms": first_s * 1e3, "outputs": outputs}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
