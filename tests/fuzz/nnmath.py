"""nn.functional's math added for issue 13 (shrinks, hard activations, threshold, glu, prelu,
rrelu in eval, distances, group/rms/local-response norms, the margin and likelihood losses)
vs PyTorch: values and gradients, eager and compiled."""

# Data: normal floats at a random scale, or values on a grid that holds the activations' kinks
# (0, +-0.5, +-1, +-3: hardswish's and hardsigmoid's ends, the shrinks' default lambda), so a
# gradient taken on the wrong side of a kink shows; shapes (N, C, L) with an even C (glu, group
# norm), sometimes without L. Targets derive from a second input (its sign, its magnitude).
# The output is weighted by a random tensor. Activations compute PyTorch's formula elementwise
# (a few ulp: float32 ops evaluated in another order); norms and losses sum a few terms.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import cases
from .cases import Case

F = "T.nn.functional"

# name -> (return expression over x0, x1 (same shape) and x2 (a 0-d weight), needs a 3-D input)
PROGRAMS: dict[str, tuple[str, bool]] = {
    "softsign": (f"{F}.softsign(x0) * x2", False),
    "hardswish": (f"{F}.hardswish(x0) * x2", False),
    "hardsigmoid": (f"{F}.hardsigmoid(x0) * x2", False),
    "hardshrink": (f"{F}.hardshrink(x0, {{lam}}) * x2", False),
    "softshrink": (f"{F}.softshrink(x0, {{lam}}) * x2", False),
    "tanhshrink": (f"{F}.tanhshrink(x0) * x2", False),
    "threshold": (f"{F}.threshold(x0, {{th}}, {{v}}) * x2", False),
    "glu": (f"{F}.glu(x0, 1) * x2", False),
    "prelu": (f"{F}.prelu(x0, x1[0, :, 0] if x0.ndim == 3 else x1[0]) * x2", False),
    "rrelu": (f"{F}.rrelu(x0, {{lo}}, {{hi}}) * x2", False),
    "leaky_relu_": (f"{F}.leaky_relu_(x0 * 1, {{lo}}) * x2", False),
    "cosine_similarity": (f"{F}.cosine_similarity(x0, x1, {{d}}).sum()", False),
    "pairwise_distance": (f"{F}.pairwise_distance(x0, x1, {{p}}).sum()", False),
    "pdist": (f"{F}.pdist(x0.flatten(1), {{p}}).sum()", False),
    # (weighted elementwise: the gradient of a plain sum of normalized values is 0, all noise)
    "group_norm": (f"{F}.group_norm(x0, {{g}}, x1[0, :, 0], x1[-1, :, 0]) * (x1 + 5)", True),
    "rms_norm": (f"{F}.rms_norm(x0, (x0.shape[-1],), eps={{eps}}) * x2", False),
    "local_response_norm": (f"{F}.local_response_norm(x0, {{size}}, 0.1, 0.75, 1.0) * x2", True),
    "kl_div": (f"{F}.kl_div(x0, x1.abs(), reduction='{{rk}}', log_target=False) * 1", False),
    "kl_div-log": (f"{F}.kl_div(x0, x1, reduction='{{rk}}', log_target=True) * 1", False),
    "poisson_nll_loss": (f"{F}.poisson_nll_loss(x0, x1.abs(), reduction='{{r}}') * 1", False),
    "gaussian_nll_loss": (
        f"{F}.gaussian_nll_loss(x0, x1, (x1 * x0).abs(), reduction='{{r}}') * 1",
        False,
    ),
    "hinge_embedding_loss": (
        f"{F}.hinge_embedding_loss(x0, x1.sign(), {{m}}, reduction='{{r}}') * 1",
        False,
    ),
    "margin_ranking_loss": (
        f"{F}.margin_ranking_loss(x0, x1, (x0 * x1).sign(), {{m}}, reduction='{{r}}') * 1",
        False,
    ),
    "soft_margin_loss": (f"{F}.soft_margin_loss(x0, x1.sign(), reduction='{{r}}') * 1", False),
    "multilabel_soft_margin_loss": (
        f"{F}.multilabel_soft_margin_loss(x0, (x1 > 0).to(x0.dtype), reduction='{{r}}') * 1",
        False,
    ),
    "triplet_margin_loss": (
        f"{F}.triplet_margin_loss(x0, x1, x0 * x1, {{m}}, {{p}}, reduction='{{r}}') * 1",
        False,
    ),
    "cosine_embedding_loss": (
        f"{F}.cosine_embedding_loss(x0.flatten(1), x1.flatten(1), "
        f"x1.flatten(1)[:, 0].sign(), {{m}}, reduction='{{r}}') * 1",
        False,
    ),
}
GRID = "np.array([0.0, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 0.25, -2.0])"


def _data(draw: Callable[..., Any], shape: tuple[int, ...], seed: int) -> str:
    if draw(st.booleans()):
        scale = draw(st.sampled_from([0.5, 1.0, 4.0]))
        return f"np.random.default_rng({seed}).standard_normal({shape}) * {scale}"
    return f"{GRID}[np.random.default_rng({seed}).integers(0, 9, {shape})]"


@st.composite
def nnmath_cases(draw: Callable[..., Any]) -> Case:
    name = draw(st.sampled_from(sorted(PROGRAMS)))
    template, three_d = PROGRAMS[name]
    dtype = draw(st.sampled_from(["float64", "float32"]))
    n, c = draw(st.integers(1, 3)), 2 * draw(st.integers(1, 3))
    shape: tuple[int, ...] = (n, c, draw(st.integers(2, 4)))
    if not three_d and draw(st.booleans()):
        shape = shape[:2]
    seed = draw(st.integers(0, 2**20))
    fields = {
        "lam": draw(st.sampled_from([0.5, 0.0, 1.0, 0.25])),
        "th": draw(st.sampled_from([0.0, 0.5, -1.0])),
        "v": draw(st.sampled_from([0.0, -2.0, 7.5])),
        "lo": draw(st.sampled_from([0.125, 0.0, 0.2])),
        "hi": draw(st.sampled_from([1.0 / 3, 0.5])),
        "d": draw(st.integers(-len(shape), len(shape) - 1)),
        "p": draw(st.sampled_from([2.0, 1.0, 3.0])),
        "g": draw(st.sampled_from([g for g in (1, 2, c) if c % g == 0])),
        "eps": draw(st.sampled_from([1e-6, 0.1])),
        "size": draw(st.integers(1, 4)),
        "r": draw(st.sampled_from(["mean", "sum", "none"])),
        "rk": draw(st.sampled_from(["batchmean", "sum", "none"])),  # (kl_div's 'mean' warns)
        "m": draw(st.sampled_from([0.0, 0.5, 1.0])),
    }
    # a constant group: PyTorch's x * rstd - mean * rstd leaves float32 rounding residue times
    # rstd = 1/sqrt(eps) ~ 316 where the exact 0 is; normal data has no such groups
    x0 = f"np.random.default_rng({seed}).standard_normal({shape})"
    arrays = [
        x0 if name == "group_norm" else _data(draw, shape, seed),
        _data(draw, shape, seed + 1),
        f"np.array(np.random.default_rng({seed + 2}).standard_normal())",
    ]
    arrays = [f"({a}).astype(np.{dtype})" for a in arrays]
    grads = [True, draw(st.booleans()), False]
    body = [f"return {template.format(**fields)}"]
    return Case(f"nnmath {name} {dtype}", body, arrays, grads)


# float32 results and gradients: each a short formula or a short sum, a few ulp apart; group
# norm's gradient rstd * (g - mean(g) - xhat * mean(g * xhat)) cancels terms rstd times larger
# than the result (rstd reaches ~100 for a group of two close values), each rounded its own way
ULPS = {"group_norm": 1024}


def check_nnmath(case: Case) -> None:

    name, dtype = case.kind.split()[1:3]
    rtol = ULPS.get(name, 64) * float(np.finfo(dtype).eps)
    cases.check_eager_then_compiled(case, rtol)
