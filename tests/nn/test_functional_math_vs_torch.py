"""The math of nn.functional added for issue 13 (activations, distances, normalizations, losses,
attention, channel rearrangements) against PyTorch: values, dtypes, grad_fn names, gradients
(vs PyTorch and float64 finite differences), compiled on both backends, PyTorch's random draws
and PyTorch's errors."""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import adjit
from adjit.testing import assert_grads_match

torch = pytest.importorskip("torch")


@dataclass(frozen=True)
class Case:
    """``fn(T, F, *xs)`` with T = adjit or torch, F its nn.functional, xs float64 leaves."""

    name: str
    fn: Callable[..., Any]
    shapes: tuple[tuple[int, ...], ...]
    kind: str = "real"  # real: N(0, 1); pos: U(0.5, 2); wide: U(-4, 4) (hard kinks at +-3)
    fd: bool = True  # smooth at the sampled points: difference it

    def arrays(self) -> list[np.ndarray]:
        rng = np.random.default_rng(zlib.crc32(self.name.encode()))
        draw = {
            "real": lambda s: rng.standard_normal(s),
            "pos": lambda s: rng.uniform(0.5, 2.0, s),
            "wide": lambda s: rng.uniform(-4.0, 4.0, s),
        }[self.kind]
        return [draw(s) for s in self.shapes]


def _t(T: Any, value: Any, **kw: Any) -> Any:
    return T.tensor(value, **kw)


SIGNS = [[1.0, -1.0, 1.0, -1.0], [-1.0, -1.0, 1.0, 1.0], [1.0, 1.0, -1.0, 1.0]]
LABELS = [[3, 0, -1, 1], [1, 2, 3, 0], [-1, 0, 1, 2]]


def _activations() -> list[Case]:
    rows = [
        Case(n, lambda T, F, x, n=n: getattr(F, n)(x), ((3, 4),), "wide")
        for n in ("softsign", "hardswish", "hardsigmoid", "hardshrink", "softshrink", "tanhshrink")
    ]
    return rows + [
        Case("softshrink-lambd", lambda T, F, x: F.softshrink(x, 1.5), ((3, 4),), "wide"),
        Case("hardshrink-lambd", lambda T, F, x: F.hardshrink(x, 0.1), ((3, 4),), "wide"),
        Case("threshold", lambda T, F, x: F.threshold(x, 0.3, -2.0), ((3, 4),)),
        Case("threshold-inplace", lambda T, F, x: F.threshold(x * 1, 0.3, -2.0, True), ((3, 4),)),
        Case("threshold_", lambda T, F, x: F.threshold_(x * 1, 0.3, -2.0), ((3, 4),)),
        Case("glu", lambda T, F, x: F.glu(x), ((3, 4),)),
        Case("glu-dim0", lambda T, F, x: F.glu(x, 0), ((4, 3),)),
        Case("prelu-one", lambda T, F, x, w: F.prelu(x, w), ((2, 3, 4), (1,))),
        Case("prelu-channels", lambda T, F, x, w: F.prelu(x, w), ((2, 3, 4), (3,))),
        Case("prelu-1d", lambda T, F, x, w: F.prelu(x, w), ((4,), (1,))),
        Case("rrelu-eval", lambda T, F, x: F.rrelu(x), ((3, 4),)),
        Case("rrelu-eval-bounds", lambda T, F, x: F.rrelu(x, 0.2, 0.6), ((3, 4),)),
        Case("rrelu_-eval", lambda T, F, x: F.rrelu_(x * 1), ((3, 4),)),
        Case("relu_", lambda T, F, x: F.relu_(x * 1), ((3, 4),)),
        Case("elu_", lambda T, F, x: F.elu_(x * 1, 0.7), ((3, 4),)),
        Case("selu_", lambda T, F, x: F.selu_(x * 1), ((3, 4),)),
        Case("celu_", lambda T, F, x: F.celu_(x * 1, 0.5), ((3, 4),)),
        Case("leaky_relu_", lambda T, F, x: F.leaky_relu_(x * 1, 0.2), ((3, 4),)),
        Case("hardtanh_", lambda T, F, x: F.hardtanh_(x * 1, -0.5, 0.5), ((3, 4),)),
        Case("hardswish-inplace", lambda T, F, x: F.hardswish(x * 1, True), ((3, 4),), "wide"),
        Case("hardsigmoid-inplace", lambda T, F, x: F.hardsigmoid(x * 1, True), ((3, 4),), "wide"),
    ]


def _distances_and_norms() -> list[Case]:
    return [
        Case("cosine_similarity", lambda T, F, a, b: F.cosine_similarity(a, b), ((3, 4), (3, 4))),
        Case(
            "cosine_similarity-bcast",
            lambda T, F, a, b: F.cosine_similarity(a, b, -1),
            ((3, 4), (4,)),
        ),
        Case("pairwise_distance", lambda T, F, a, b: F.pairwise_distance(a, b), ((3, 4), (3, 4))),
        Case(
            "pairwise_distance-p1-keep",
            lambda T, F, a, b: F.pairwise_distance(a, b, 1.5, keepdim=True),
            ((3, 4), (3, 4)),
        ),
        Case("pdist", lambda T, F, x: F.pdist(x), ((4, 3),)),
        Case("pdist-p1.5", lambda T, F, x: F.pdist(x, 1.5), ((4, 3),)),
        Case("pdist-inf", lambda T, F, x: F.pdist(x, float("inf")), ((4, 3),)),
        Case("group_norm", lambda T, F, x, w, b: F.group_norm(x, 2, w, b), ((2, 4, 3), (4,), (4,))),
        Case("group_norm-plain", lambda T, F, x: F.group_norm(x, 4), ((2, 4, 3, 2),)),
        Case(
            "instance_norm",
            lambda T, F, x, w, b: F.instance_norm(x, weight=w, bias=b),
            ((2, 4, 3), (4,), (4,)),
        ),
        Case("instance_norm-plain", lambda T, F, x: F.instance_norm(x), ((2, 3, 2, 2),)),
        Case("local_response_norm", lambda T, F, x: F.local_response_norm(x, 2), ((2, 5, 3),)),
        Case(
            "local_response_norm-4d",
            lambda T, F, x: F.local_response_norm(x, 3, 0.1, 0.5, 2.0),
            ((2, 5, 3, 2),),
        ),
        Case("rms_norm", lambda T, F, x: F.rms_norm(x, (3,)), ((2, 4, 3),)),
        Case(
            "rms_norm-weight-eps",
            lambda T, F, x, w: F.rms_norm(x, (4, 3), w, 0.1),
            ((2, 4, 3), (4, 3)),
        ),
    ]


def _losses() -> list[Case]:
    rows: list[Case] = []
    for r in ("mean", "sum", "none"):
        rows += [
            Case(
                f"kl_div-{r}",
                lambda T, F, a, b, r=r: F.kl_div(a, b.exp() / 3, reduction=r),
                ((3, 4),) * 2,
            ),
            Case(
                f"kl_div-log_target-{r}",
                lambda T, F, a, b, r=r: F.kl_div(a, b, reduction=r, log_target=True),
                ((3, 4),) * 2,
            ),
            Case(
                f"poisson_nll_loss-{r}",
                lambda T, F, a, b, r=r: F.poisson_nll_loss(a, b, reduction=r),
                ((3, 4),) * 2,
                "pos",
            ),
            Case(
                f"poisson_nll_loss-full-{r}",
                lambda T, F, a, b, r=r: F.poisson_nll_loss(a, b * 2, False, True, reduction=r),
                ((3, 4),) * 2,
                "pos",
            ),
            Case(
                f"gaussian_nll_loss-{r}",
                lambda T, F, a, b, v, r=r: F.gaussian_nll_loss(a, b, v, reduction=r),
                ((3, 4),) * 3,
                "pos",
            ),
            Case(
                f"gaussian_nll_loss-full-{r}",
                lambda T, F, a, b, v, r=r: F.gaussian_nll_loss(a, b, v, True, reduction=r),
                ((3, 4), (3, 4), (3,)),
                "pos",
            ),
            Case(
                f"hinge_embedding_loss-{r}",
                lambda T, F, a, r=r: F.hinge_embedding_loss(a, _t(T, SIGNS), 0.5, reduction=r),
                ((3, 4),),
            ),
            Case(
                f"margin_ranking_loss-{r}",
                lambda T, F, a, b, r=r: F.margin_ranking_loss(a, b, _t(T, SIGNS), 0.3, reduction=r),
                ((3, 4),) * 2,
            ),
            Case(
                f"soft_margin_loss-{r}",
                lambda T, F, a, r=r: F.soft_margin_loss(a, _t(T, SIGNS), reduction=r),
                ((3, 4),),
            ),
            Case(
                f"multilabel_soft_margin_loss-{r}",
                lambda T, F, a, w, r=r: F.multilabel_soft_margin_loss(
                    a, _t(T, SIGNS).relu(), w, reduction=r
                ),
                ((3, 4), (4,)),
            ),
            Case(
                f"multilabel_margin_loss-{r}",
                lambda T, F, a, r=r: F.multilabel_margin_loss(a, _t(T, LABELS), reduction=r),
                ((3, 4),),
            ),
            Case(
                f"multilabel_margin_loss-1d-{r}",
                lambda T, F, a, r=r: F.multilabel_margin_loss(a, _t(T, LABELS[0]), reduction=r),
                ((4,),),
            ),
            Case(
                f"multi_margin_loss-{r}",
                lambda T, F, a, r=r: F.multi_margin_loss(a, _t(T, [3, 0, 1]), reduction=r),
                ((3, 4),),
            ),
            Case(
                f"multi_margin_loss-p2-weight-{r}",
                lambda T, F, a, r=r: F.multi_margin_loss(
                    a, _t(T, [3, 0, 1]), 2, 0.7, _t(T, [1.0, 2.0, 0.5, 3.0]).double(), reduction=r
                ),
                ((3, 4),),
            ),
            Case(
                f"multi_margin_loss-1d-{r}",
                lambda T, F, a, r=r: F.multi_margin_loss(a, _t(T, [2]), reduction=r),
                ((4,),),
            ),
            Case(
                f"cosine_embedding_loss-{r}",
                lambda T, F, a, b, r=r: F.cosine_embedding_loss(
                    a, b, _t(T, [1, -1, 1]), -0.2, reduction=r
                ),
                ((3, 4),) * 2,
            ),
            Case(
                f"triplet_margin_loss-{r}",
                lambda T, F, a, p, n, r=r: F.triplet_margin_loss(a, p, n, 2.0, reduction=r),
                ((3, 4),) * 3,
            ),
            Case(
                f"triplet_margin_loss-swap-p1-{r}",
                lambda T, F, a, p, n, r=r: F.triplet_margin_loss(
                    a, p, n, 2.0, 1, swap=True, reduction=r
                ),
                ((3, 4),) * 3,
            ),
            Case(
                f"triplet_margin_with_distance_loss-{r}",
                lambda T, F, a, p, n, r=r: F.triplet_margin_with_distance_loss(
                    a, p, n, margin=2.0, reduction=r
                ),
                ((3, 4),) * 3,
            ),
        ]
    return rows + [
        Case(
            "kl_div-batchmean",
            lambda T, F, a, b: F.kl_div(a, b.exp() / 3, reduction="batchmean"),
            ((3, 4),) * 2,
        ),
        Case(
            "gaussian_nll_loss-float-var",
            lambda T, F, a, b: F.gaussian_nll_loss(a, b, 0.5),
            ((3, 4),) * 2,
        ),
    ]


def _bool_mask(T: Any) -> Any:
    m = np.random.default_rng(7).random((3, 6)) > 0.3
    m[1] = False  # a fully masked row: zeros, as PyTorch's math attention
    return T.tensor(m)


ATTENTION = [
    Case(
        "sdpa",
        lambda T, F, q, k, v: F.scaled_dot_product_attention(q, k, v),
        ((2, 2, 3, 5), (2, 2, 6, 5), (2, 2, 6, 2)),
    ),
    Case(
        "sdpa-causal-scale",
        lambda T, F, q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3),
        ((2, 3, 5), (2, 6, 5), (2, 6, 2)),
    ),
    Case(
        "sdpa-float-mask",
        lambda T, F, q, k, v, m: F.scaled_dot_product_attention(q, k, v, m),
        ((2, 3, 5), (2, 6, 5), (2, 6, 2), (3, 6)),
    ),
    Case(
        "sdpa-bool-mask",
        lambda T, F, q, k, v: F.scaled_dot_product_attention(q, k, v, _bool_mask(T)),
        ((2, 3, 5), (2, 6, 5), (2, 6, 2)),
    ),
    Case(
        "sdpa-gqa",
        lambda T, F, q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True),
        ((2, 4, 3, 5), (2, 2, 6, 5), (2, 2, 6, 2)),
    ),
    Case("pixel_shuffle", lambda T, F, x: F.pixel_shuffle(x, 2), ((2, 8, 2, 3),)),
    Case("pixel_shuffle-3d", lambda T, F, x: F.pixel_shuffle(x, 3), ((9, 1, 2),)),
    Case("pixel_unshuffle", lambda T, F, x: F.pixel_unshuffle(x, 2), ((2, 2, 4, 6),)),
    Case("channel_shuffle", lambda T, F, x: F.channel_shuffle(x, 2), ((2, 6, 3),)),
]

CASES = _activations() + _distances_and_norms() + _losses() + ATTENTION


def _run(T: Any, case: Case, arrays: list[np.ndarray]) -> tuple[list[Any], Any]:
    F = T.nn.functional
    xs = [T.tensor(a, requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's 'mean' warning
        return xs, case.fn(T, F, *xs)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_eager_matches_torch(case: Case) -> None:
    arrays = case.arrays()
    axs, got = _run(adjit, case, arrays)
    txs, want = _run(torch, case, arrays)
    assert tuple(got.shape) == tuple(want.shape) and str(got.dtype) == str(want.dtype)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-13)
    assert type(got.grad_fn).__name__ == type(want.grad_fn).__name__
    ct = np.random.default_rng(1).standard_normal(tuple(want.shape))
    tg = torch.autograd.grad(want, txs, torch.tensor(ct), allow_unused=True)
    ag = adjit.autograd.grad(got, axs, adjit.tensor(ct), allow_unused=True)
    for a, t, x in zip(ag, tg, arrays, strict=True):
        a = np.zeros_like(x) if a is None else a.numpy()
        t = np.zeros_like(x) if t is None else t.numpy()
        np.testing.assert_allclose(a, t, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", [c for c in CASES if c.fd], ids=lambda c: c.name)
def test_gradients_against_finite_differences(case: Case) -> None:
    xs = [adjit.tensor(a) for a in case.arrays()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_grads_match(lambda *v: case.fn(adjit, adjit.nn.functional, *v), *xs)


# the in-place forms write into a non-leaf the compiled function owns; random ones refuse
COMPILED = [c for c in CASES]


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
@pytest.mark.parametrize("case", COMPILED, ids=lambda c: c.name)
def test_compiled_matches_eager(case: Case, backend: str) -> None:
    F = adjit.nn.functional
    xs = [adjit.tensor(a) for a in case.arrays()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = case.fn(adjit, F, *xs)
        got = adjit.compile(lambda *v: case.fn(adjit, F, *v), backend=backend)(*xs)
        assert tuple(got.shape) == tuple(want.shape) and got.dtype is want.dtype
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
        ct = adjit.tensor(np.random.default_rng(1).standard_normal(tuple(want.shape)))

        def loss(*v: Any) -> Any:
            return (case.fn(adjit, F, *v) * ct).sum()

        compiled = adjit.grad(loss, argnums=tuple(range(len(xs))), backend=backend)(*xs)
        leaves = [x.detach().requires_grad_() for x in xs]
        eager = adjit.autograd.grad(loss(*leaves), leaves, allow_unused=True)
    for c, e in zip(compiled, eager, strict=True):
        e_np = np.zeros(c.shape) if e is None else e.numpy()
        np.testing.assert_allclose(c.numpy(), e_np, rtol=1e-10, atol=1e-12)
