"""nn.utils parametrizations vs PyTorch on random shapes: orthogonal's maps (matrix_exp, cayley,
householder) without trivialization, and torch._weight_norm over every dim; values and the
gradients of the original tensors, eager and compiled."""

# Data: the unconstrained original X is standard normal times a scale (0.3 keeps exp(A) and
# the Cayley solve well conditioned; 1.5 exercises larger rotations); weight_norm's g is
# uniform(0.5, 2) with v standard normal (||v|| bounded away from 0). The result is the
# parametrized matrix times a fixed random input, weighted by a cosine ramp.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from . import cases
from .cases import Case

HEADER = [
    "_MODULES = {}",
    "",
    "",
    "def orth(T, kind, shape, dtype):",
    "    key = (T.__name__, kind, shape, str(dtype))",
    "    if key not in _MODULES:  # built by the eager run, reused when compiled",
    "        m = T.nn.Linear(shape[-1], shape[-2], dtype=dtype)",
    "        T.nn.utils.parametrizations.orthogonal(",
    "            m, orthogonal_map=kind, use_trivialization=False",
    "        )",
    "        _MODULES[key] = m.parametrizations.weight[0]",
    "    return _MODULES[key]",
    "",
    "",
]


@st.composite
def parametrization_cases(draw: Callable[..., Any]) -> Case:
    dtype = draw(st.sampled_from(["float64", "float32"]))
    seed = draw(st.integers(0, 2**20))
    rng = "np.random.default_rng"
    kind = draw(st.sampled_from(["matrix_exp", "cayley", "householder", "weight_norm"]))
    n, k = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    if kind in ("matrix_exp", "cayley", "householder"):
        scale = draw(st.sampled_from([0.3, 1.5]))
        arrays = [f"{rng}({seed}).standard_normal(({n}, {k})) * {scale}"]
        body = [f"W = orth(T, {kind!r}, ({n}, {k}), x0.dtype)(x0)"]
    else:
        shape = (n, k, draw(st.integers(1, 3)))
        dim = draw(st.sampled_from([0, 1, 2, -1]))
        g_shape = tuple(s if d == dim else 1 for d, s in enumerate(shape)) if dim != -1 else ()
        arrays = [
            f"{rng}({seed}).standard_normal({shape})",
            f"{rng}({seed + 1}).uniform(0.5, 2.0, {g_shape})",
        ]
        body = [f"W = T._weight_norm(x0, x1, {dim}).flatten(1)"]
        k = shape[1] * shape[2]
    arrays.append(f"{rng}({seed + 2}).standard_normal(({k}, 2))")
    x = f"x{len(arrays) - 1}"
    body += [
        f"flat = (W @ {x}).flatten()",
        "return flat * T.cos(T.arange(flat.numel(), dtype=flat.dtype) * 0.7)",
    ]
    arrays = [f"({a}).astype(np.{dtype})" for a in arrays]
    grads = [True] * (len(arrays) - 1) + [False]
    header = HEADER if kind != "weight_norm" else []
    return Case(f"parametrizations {kind} {dtype}", body, arrays, grads, header=header)


def check_parametrizations(case: Case) -> None:
    # float64: LAPACK/expm in another order than PyTorch's kernels, ~1e-14 relative;
    # float32: a 5x5 matrix exponential or solve, a few ulps per step
    dtype = case.kind.split()[2]
    rtol = {"float64": 1e-10, "float32": 2e-4}[dtype]
    cases.check_eager_then_compiled(case, rtol)
