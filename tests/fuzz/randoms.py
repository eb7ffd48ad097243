"""Random ops in programs (Note [random numbers in compiled code]): chains of dropouts, samples
and exactly rounded arithmetic, run eagerly, compiled and by PyTorch from one seed, twice each;
values and the generator's final state bit-identical, gradients to float rounding."""

# Data: inputs standard normal, all of one shape (no broadcasting: no sums whose order could
# differ); the non-random steps are exactly rounded (+, -, *, relu, abs), so a compiled kernel
# computes every element as eager mode does and any difference is in the draws.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

import adjit

from .cases import Case

# one step of the chain: ``h`` is the running value, ``x1`` the second input
STEPS = [
    "h = T.nn.functional.dropout(h, {p})",
    "h = T.nn.functional.dropout(h * 1, {p}, inplace=True)",
    "h = T.nn.functional.alpha_dropout(h, {p}, True)",
    "h = h * T.rand_like(h)",
    "h = h + T.randn_like(h) * {p}",
    "h = h + T.randn({shape})",
    "h = h * T.bernoulli(T.full_like(h, {p}))",
    "h = T.where(T.rand({shape}) < {p}, h, x1)",
    "h = h - T.normal(0.0, 1.0, {shape})",
    "T.rand(3)",  # a draw nothing reads
    "h = h * h.new_empty({shape}).bernoulli_({p})",  # a fill of a tensor made inside
    "T.manual_seed(5)",  # seeding inside acts when the program runs
    "h = h * x1",
    "h = T.relu(h) + x1",
    "h = h.abs() - x1",
]
FEATURE = [  # need a (N, C, ...) value: dims >= 2
    "h = T.nn.functional.dropout1d(h, {p})",
    "h = T.nn.functional.dropout2d(h, {p})",
    "h = T.nn.functional.feature_alpha_dropout(h, {p}, True)",
]


@st.composite
def random_cases(draw: Callable[..., Any]) -> Case:
    dtype = draw(st.sampled_from(["float32", "float64"]))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    seed = draw(st.integers(0, 2**20))
    vocabulary = STEPS + (FEATURE if len(shape) == 3 else [])
    steps = draw(st.lists(st.sampled_from(vocabulary), min_size=1, max_size=5))
    body = ["h = x0"]
    for step in steps:
        p = draw(st.sampled_from([0.0, 0.2, 0.5, 0.9]))
        body.append(step.format(p=p, shape=shape))
    body.append("return h")
    rng = "np.random.default_rng"
    arrays = [
        f"{rng}({seed}).standard_normal({shape}).astype(np.{dtype})",
        f"{rng}({seed + 1}).standard_normal({shape}).astype(np.{dtype})",
    ]
    return Case(f"random {dtype} seed={seed % 1000}", body, arrays, [True, False])


def _runs(T: Any, fn: Callable[..., Any], case: Case, seed: int) -> list[Any]:
    """Two calls from ``seed``: (value, x0's gradient under a ones cotangent) per call, and
    the generator's final state."""
    T.manual_seed(seed)
    out = []
    for _ in range(2):
        xs = case.inputs(T)
        y = fn(*xs)
        if y.requires_grad:
            y.backward(T.ones_like(y))
        grad = xs[0].grad
        out.append((y.detach().numpy(), None if grad is None else grad.numpy()))
    return [*out, T.get_rng_state().numpy()]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def check_randoms(case: Case) -> None:
    import torch

    seed = len(case.body) * 7 + 1
    eager = _runs(adjit, case.bind(adjit), case, seed)
    theirs = _runs(torch, case.bind(torch), case, seed)
    compiled = _runs(adjit, adjit.compile(case.bind(adjit)), case, seed)
    for k, (e, t, c) in enumerate(zip(eager[:2], theirs[:2], compiled[:2], strict=True)):
        assert _same(e[0], t[0]), f"call {k}: eager {e[0]} != torch {t[0]}"
        assert _same(c[0], e[0]), f"call {k}: compiled {c[0]} != eager {e[0]}"
        for grad, what in ((t[1], "torch"), (c[1], "compiled")):
            assert (grad is None) == (e[1] is None), f"call {k}: {what} gradient missing"
            if grad is not None:  # products of the same factors, maybe in another order
                np.testing.assert_allclose(grad, e[1], rtol=1e-6, err_msg=f"{what} gradient")
    assert _same(eager[2], theirs[2]), "eager's generator ended elsewhere than torch's"
    assert _same(compiled[2], eager[2]), "the compiled generator ended elsewhere than eager's"
