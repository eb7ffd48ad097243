"""Eager ``erf`` of large float tensors by the compiled kernel (Note [eager erf])."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.aval import Aval
from ..ir.graph import Eqn, Graph, Var
from ..ir.ops import Op

# Note [eager erf]
# NumPy has no erf: the reference rule calls ``math.erf`` per element (np.frompyfunc), ~100 ns
# an element. A GELU on the transformer block's (16, 128, 1024) activations took 172 ms of its
# eager train step's ~400 (PyTorch's whole step: ~120). From LEAST elements, eager ``erf`` of a
# float32 / float64 tensor runs the compiled kernel (codegen/vecmath_erf.py, the one compiled
# programs use) over blocks of BLOCK elements (the last one padded): a 2^16 block in 0.34 ms
# against 6.5 ms. Its results are within 2 units in the last place of ``math.erf``'s rounded
# ones (PyTorch's within 1; compiled and eager code now agree on large tensors), so an element's
# bits may depend on whether its tensor is large, as PyTorch's vectorized loops and scalar tails
# differ. Smaller tensors keep ``math.erf``: the kernel's first compile in a process (~0.5 s
# with LLVM's start, ~40 ms after, or a disk cache hit) pays only where it saves more.
BLOCK = 1 << 16
LEAST = 1 << 15
_KINDS = {np.dtype(np.float32): D.float32, np.dtype(np.float64): D.float64}
_EXECUTABLES: dict[np.dtype, Any] = {}
_LOCK = threading.Lock()


def _executable(dtype: np.dtype) -> Any:
    ex = _EXECUTABLES.get(dtype)
    if ex is None:
        from .executor import compile_program  # (it imports llvmlite: only when used)

        with _LOCK:
            ex = _EXECUTABLES.get(dtype)
            if ex is None:
                x, out = Var(Aval((BLOCK,), _KINDS[dtype])), Var(Aval((BLOCK,), _KINDS[dtype]))
                graph = Graph((x,), (Eqn(Op.ERF, (x,), {}, out),), (out,))
                ex = _EXECUTABLES[dtype] = compile_program(graph)
    return ex


def erf(a: np.ndarray) -> np.ndarray | None:
    """``erf(a)`` by the compiled kernel, or None where the reference rule serves (another
    dtype, fewer than LEAST elements)."""
    if a.dtype not in _KINDS or a.size < LEAST:
        return None
    ex = _executable(a.dtype)
    flat = np.ascontiguousarray(a).reshape(-1)
    n = flat.size
    out = np.empty(n, a.dtype)
    whole = n - n % BLOCK
    for i in range(0, whole, BLOCK):
        out[i : i + BLOCK] = ex([flat[i : i + BLOCK]])[0]
    if whole < n:
        tail = np.zeros(BLOCK, a.dtype)
        tail[: n - whole] = flat[whole:]
        out[whole:] = ex([tail])[0][: n - whole]
    return out.reshape(a.shape)
