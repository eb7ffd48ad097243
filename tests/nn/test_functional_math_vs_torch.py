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
        Case("elu-inplace", lambda T, F, x: F.elu(x * 1, 0.7, True), ((3, 4),)),
        Case("selu-inplace", lambda T, F, x: F.selu(x * 1, True), ((3, 4),)),
        Case("celu-inplace", lambda T, F, x: F.celu(x * 1, 2.0, True), ((3, 4),)),
        # an alpha float32 cannot hold: PyTorch's gradient takes 1 / float(alpha)
        Case("celu-alpha-1.3", lambda T, F, x: F.celu(x, 1.3), ((3, 4),)),
        Case("celu_-alpha-1.3", lambda T, F, x: F.celu_(x * 1, 1.3), ((3, 4),)),
        Case("leaky_relu-inplace", lambda T, F, x: F.leaky_relu(x * 1, 0.1, True), ((3, 4),)),
        Case("hardtanh-inplace", lambda T, F, x: F.hardtanh(x * 1, inplace=True), ((3, 4),)),
        Case("relu6-inplace", lambda T, F, x: F.relu6(x * 4, inplace=True), ((3, 4),)),
        Case("rrelu-eval-inplace", lambda T, F, x: F.rrelu(x * 1, inplace=True), ((3, 4),)),
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


def _dead_row_mask(T: Any) -> Any:
    m = np.random.default_rng(8).standard_normal((3, 6))
    m[1] = -np.inf  # a row masked out by -inf: zeros, and no NaN in any gradient
    m[2, :3] = -np.inf
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
    Case(
        "sdpa-float-mask-dead-row",
        lambda T, F, q, k, v: F.scaled_dot_product_attention(q, k, v, _dead_row_mask(T)),
        ((2, 3, 5), (2, 6, 5), (2, 6, 2)),
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


# ---- PyTorch's random draws ------------------------------------------------------------------
RANDOM: dict[str, Callable[[Any, Any, Any], Any]] = {
    "rrelu-train": lambda T, F, x: F.rrelu(x, training=True),
    "rrelu-train-bounds": lambda T, F, x: F.rrelu(x, 0.1, 0.9, True),
    "rrelu_-train": lambda T, F, x: F.rrelu_(x * 1, training=True),
    "gumbel_softmax": lambda T, F, x: F.gumbel_softmax(x, 0.5),
    "gumbel_softmax-hard": lambda T, F, x: F.gumbel_softmax(x, hard=True, dim=0),
    "alpha_dropout": lambda T, F, x: F.alpha_dropout(x, 0.3, True),
    "alpha_dropout-p1": lambda T, F, x: F.alpha_dropout(x, 1.0, True),
    "feature_alpha_dropout": lambda T, F, x: F.feature_alpha_dropout(x, 0.4, True),
    "sdpa-dropout": lambda T, F, x: F.scaled_dot_product_attention(x, x * 2, x, dropout_p=0.3),
    "sdpa-dropout-causal": lambda T, F, x: F.scaled_dot_product_attention(
        x, x, x[..., :2], dropout_p=0.5, is_causal=True
    ),
    "dropout1d": lambda T, F, x: F.dropout1d(x, 0.5),
    "dropout1d-2d": lambda T, F, x: F.dropout1d(x[0], 0.5),
    "dropout3d": lambda T, F, x: F.dropout3d(x.reshape(1, 3, 3, 4, 1), 0.5),
    "dropout3d-4d": lambda T, F, x: F.dropout3d(x.reshape(3, 3, 4, 1), 0.5),
    "dropout3d-3d": lambda T, F, x: F.dropout3d(x, 0.5),  # (deprecated: warns)
}


# float16/bfloat16: softmax and matmul (gumbel_softmax, attention) may round differently by
# an ulp or two of the dtype; masks and scales are PyTorch's exactly
RANDOM_TOL = {"float64": 1e-12, "float32": 1e-6, "float16": 4e-3, "bfloat16": 3.2e-2}


@pytest.mark.parametrize("dtype", list(RANDOM_TOL))
@pytest.mark.parametrize("name", list(RANDOM))
def test_random_draws_match_torch(name: str, dtype: str) -> None:
    """After the same seed, the same numbers and gradients as PyTorch (its default generator)."""
    x = np.random.default_rng(3).standard_normal((3, 3, 4))
    results, warned = [], []
    for T in (adjit, torch):
        T.manual_seed(11)
        leaf = T.tensor(x, dtype=getattr(T, dtype), requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                out = RANDOM[name](T, T.nn.functional, leaf)
            except NotImplementedError as e:  # (rrelu's training kernel has no float16)
                results.append(str(e))
                continue
        warned.append([str(w.message) for w in caught])
        ct = T.tensor(np.random.default_rng(1).standard_normal(tuple(out.shape)), dtype=out.dtype)
        (grad,) = T.autograd.grad(out, leaf, ct)
        results.append((out.detach(), grad, type(out.grad_fn).__name__))
    if isinstance(results[1], str):
        assert results[0] == results[1]
        return
    (got, ggot, nget), (want, gwant, nwant) = results
    assert warned[0] == warned[1]  # dropout3d's deprecation of other ranks, word for word
    assert nget == nwant and str(got.dtype) == str(want.dtype)
    tol = RANDOM_TOL[dtype]
    for a, t in ((got, want), (ggot, gwant)):
        np.testing.assert_allclose(a.double().numpy(), t.double().numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("name", list(RANDOM))
def test_random_forms_compile_to_eagers_draws(name: str) -> None:
    """Compiled, each random form draws the numbers eager mode draws from the same seed
    (Note [random numbers in compiled code]), call after call."""
    fn = RANDOM[name]
    x = adjit.randn(3, 3, 4)
    compiled = adjit.compile(lambda v: fn(adjit, adjit.nn.functional, v))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropout3d's deprecation of a 3-D input
        adjit.manual_seed(7)
        eager = [fn(adjit, adjit.nn.functional, x) for _ in range(2)]
        adjit.manual_seed(7)
        got = [compiled(x) for _ in range(2)]
    for g, e in zip(got, eager, strict=True):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("compiled", [False, True])
def test_instance_norm_running_stats_match_torch(compiled: bool) -> None:
    """Two training steps move the running statistics as PyTorch's (also when compiled: the
    buffers are updated in place by the compiled program), then eval mode uses them."""
    x = np.random.default_rng(4).standard_normal((3, 2, 5))
    stats = {}
    for T in (adjit, torch):
        rm, rv = T.zeros(2, dtype=T.float64), T.ones(2, dtype=T.float64)

        def step(a: Any, T: Any = T, rm: Any = rm, rv: Any = rv) -> Any:
            return T.nn.functional.instance_norm(a, rm, rv, momentum=0.3)

        run = adjit.compile(step) if compiled and T is adjit else step
        for _ in range(2):
            run(T.tensor(x))
        y = T.nn.functional.instance_norm(T.tensor(x), rm, rv, use_input_stats=False)
        stats[T.__name__] = (rm.numpy(), rv.numpy(), y.numpy())
    for a, t in zip(stats["adjit"], stats["torch"], strict=True):
        np.testing.assert_allclose(a, t, rtol=1e-12, atol=1e-14)


# ---- dtypes ----------------------------------------------------------------------------------
def _x(T: Any, dtype: str, *shape: int) -> Any:
    return T.linspace(-4, 4, int(np.prod(shape))).reshape(shape).to(getattr(T, dtype))


DTYPES: dict[str, Callable[[Any, Any, str], Any]] = {
    "hardswish": lambda T, F, d: F.hardswish(_x(T, d, 3, 4)),
    "hardsigmoid": lambda T, F, d: F.hardsigmoid(_x(T, d, 3, 4)),
    "softshrink": lambda T, F, d: F.softshrink(_x(T, d, 3, 4)),
    "hardshrink": lambda T, F, d: F.hardshrink(_x(T, d, 3, 4)),
    "softsign": lambda T, F, d: F.softsign(_x(T, d, 3, 4)),
    "glu": lambda T, F, d: F.glu(_x(T, d, 3, 4)),
    "group_norm": lambda T, F, d: F.group_norm(_x(T, d, 2, 4, 3), 2),
    "rms_norm": lambda T, F, d: F.rms_norm(_x(T, d, 2, 4, 3), (3,)),
    "cosine_similarity": lambda T, F, d: F.cosine_similarity(_x(T, d, 3, 4), _x(T, d, 3, 4) + 1),
    "kl_div": lambda T, F, d: F.kl_div(_x(T, d, 3, 4), _x(T, d, 3, 4).abs(), reduction="sum"),
    "soft_margin_loss": lambda T, F, d: F.soft_margin_loss(_x(T, d, 3, 4), _x(T, d, 3, 4).sign()),
    "pixel_shuffle": lambda T, F, d: F.pixel_shuffle(_x(T, d, 1, 4, 2, 3), 2),
}


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("name", list(DTYPES))
def test_dtypes_match_torch(name: str, dtype: str) -> None:
    got, want = (DTYPES[name](T, T.nn.functional, dtype) for T in (adjit, torch))
    assert str(got.dtype) == str(want.dtype) and tuple(got.shape) == tuple(want.shape)
    # float32 rounding at most a few ulp apart; float16/bfloat16 results one rounding apart
    tol = {"float32": 1e-6, "float16": 1e-3, "bfloat16": 8e-3}[dtype]
    np.testing.assert_allclose(got.float().numpy(), want.float().numpy(), rtol=tol, atol=tol)


def test_integer_inputs_match_torch() -> None:
    for fn in (
        lambda T: T.nn.functional.softsign(T.arange(-3, 3)),
        lambda T: T.nn.functional.tanhshrink(T.arange(-3, 3)),
        lambda T: T.nn.functional.threshold(T.arange(-3, 3), 0.5, 2.5),
        lambda T: T.nn.functional.pixel_shuffle(T.arange(8).reshape(1, 4, 1, 2), 2),
        lambda T: T.nn.functional.group_norm(T.ones(0, 4, 3), 2, T.ones(4), T.ones(4)),
        # a bool input with a float target runs in the common (float) dtype
        lambda T: T.nn.functional.mse_loss(T.tensor([True, False]), T.tensor([0.5, 0.25])),
        lambda T: T.nn.functional.smooth_l1_loss(T.tensor([True, False]), T.tensor([0.5, 2.0])),
        # huber writes the input's dtype
        lambda T: T.nn.functional.huber_loss(T.tensor([1.0, 0.0]), T.tensor([0.5, 2.0]).double()),
        # an integer hinge loss keeps the input's dtype (the margin is filled in as an int)
        lambda T: T.nn.functional.hinge_embedding_loss(
            T.tensor([[0, 1, 3], [-2, 5, 1]]),
            T.tensor([[1, -1, -1], [-1, 1, -1]]),
            2.7,
            None,
            None,
            "sum",
        ),
        # soft_margin_loss writes the input's dtype
        lambda T: T.nn.functional.soft_margin_loss(
            T.tensor([1.0, -0.5]), T.tensor([1.0, -1.0]).double()
        ),
        # the loss of binary_cross_entropy_with_logits has the target's dtype
        lambda T: T.nn.functional.binary_cross_entropy_with_logits(
            T.tensor([1.0, 0.0]).double(), T.tensor([0.5, 1.0])
        ),
        lambda T: T.nn.functional.binary_cross_entropy(
            T.tensor([0.5, 0.25]), T.tensor([0.5, 1.0]), weight=T.tensor([2.0, 1.0]).double()
        ),
    ):
        got, want = fn(adjit), fn(torch)
        assert str(got.dtype) == str(want.dtype)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


# ---- errors ----------------------------------------------------------------------------------
def _f(T: Any, *shape: int) -> Any:
    return T.ones(shape, dtype=T.float64)


def _i(T: Any, *shape: int) -> Any:
    return T.ones(shape, dtype=T.int64)


BAD: dict[str, Callable[[Any], Any]] = {
    "hardswish int": lambda T: T.nn.functional.hardswish(_i(T, 3)),
    "hardsigmoid int": lambda T: T.nn.functional.hardsigmoid(_i(T, 3)),
    "hardshrink int": lambda T: T.nn.functional.hardshrink(_i(T, 3)),
    "hardshrink bool": lambda T: T.nn.functional.hardshrink(_i(T, 3) > 0),
    "softshrink int": lambda T: T.nn.functional.softshrink(_i(T, 3)),
    "softshrink negative": lambda T: T.nn.functional.softshrink(_f(T, 3), -1),
    "softshrink negative f32": lambda T: T.nn.functional.softshrink(T.ones(3), -0.5),
    "softsign bool": lambda T: T.nn.functional.softsign(_i(T, 3) > 0),
    "threshold bool": lambda T: T.nn.functional.threshold(_i(T, 3) > 0, 0.5, 1.0),
    "glu int": lambda T: T.nn.functional.glu(_i(T, 4)),
    "glu odd": lambda T: T.nn.functional.glu(_f(T, 3, 3)),
    "glu scalar": lambda T: T.nn.functional.glu(_f(T)),
    "glu dim": lambda T: T.nn.functional.glu(_f(T, 3, 4), 5),
    "prelu channels": lambda T: T.nn.functional.prelu(_f(T, 2, 3), _f(T, 2)),
    "prelu 2d weight": lambda T: T.nn.functional.prelu(_f(T, 2, 3), _f(T, 3, 1)),
    "prelu 0d input": lambda T: T.nn.functional.prelu(_f(T), _f(T, 3)),
    "prelu dtypes": lambda T: T.nn.functional.prelu(T.ones(3), _f(T, 1)),
    "prelu int": lambda T: T.nn.functional.prelu(_i(T, 3), T.ones(1)),
    "rrelu bounds": lambda T: T.nn.functional.rrelu(_f(T, 3), 0.5, 0.1),
    "rrelu train float16": lambda T: T.nn.functional.rrelu(
        T.ones(3, dtype=T.float16), training=True
    ),
    "rrelu int": lambda T: T.nn.functional.rrelu(_i(T, 3)),
    "alpha_dropout p": lambda T: T.nn.functional.alpha_dropout(_f(T, 3), 1.5, True),
    "feature_alpha_dropout 1d": lambda T: T.nn.functional.feature_alpha_dropout(
        _f(T, 3), 0.5, True
    ),
    "dropout1d 4d": lambda T: T.nn.functional.dropout1d(_f(T, 2, 3, 4, 5)),
    "dropout1d p": lambda T: T.nn.functional.dropout1d(_f(T, 2, 3), -0.1),
    "cosine_similarity int": lambda T: T.nn.functional.cosine_similarity(_i(T, 2, 3), _i(T, 2, 3)),
    "cosine_similarity dim": lambda T: T.nn.functional.cosine_similarity(
        _f(T, 2, 3), _f(T, 2, 3), 2
    ),
    "pdist 3d": lambda T: T.nn.functional.pdist(_f(T, 2, 3, 4)),
    "pdist half": lambda T: T.nn.functional.pdist(T.ones(2, 3, dtype=T.float16)),
    "pdist int": lambda T: T.nn.functional.pdist(_i(T, 2, 3)),
    "pdist negative p": lambda T: T.nn.functional.pdist(_f(T, 2, 3), -1),
    "group_norm groups": lambda T: T.nn.functional.group_norm(_f(T, 2, 4, 3), 3),
    "group_norm 1d": lambda T: T.nn.functional.group_norm(_f(T, 4), 2),
    "group_norm one value": lambda T: T.nn.functional.group_norm(_f(T, 1, 2), 2),
    "group_norm weight": lambda T: T.nn.functional.group_norm(_f(T, 2, 4, 3), 2, _f(T, 3)),
    "group_norm negative groups": lambda T: T.nn.functional.group_norm(_f(T, 3, 4), -7),
    "group_norm zero groups": lambda T: T.nn.functional.group_norm(_f(T, 3, 4), 0),
    "instance_norm one element": lambda T: T.nn.functional.instance_norm(_f(T, 2, 3, 1)),
    "local_response_norm 2d": lambda T: T.nn.functional.local_response_norm(_f(T, 2, 3), 2),
    "rms_norm shape": lambda T: T.nn.functional.rms_norm(_f(T, 2, 3), (2,)),
    "rms_norm weight": lambda T: T.nn.functional.rms_norm(_f(T, 2, 3), (3,), _f(T, 2)),
    "rms_norm 0d": lambda T: T.nn.functional.rms_norm(_f(T), (4,)),
    "rms_norm rank": lambda T: T.nn.functional.rms_norm(_f(T, 4), (3, 4)),
    "rms_norm 0d weight": lambda T: T.nn.functional.rms_norm(_f(T), (4,), _f(T, 3)),
    "local_response_norm bool": lambda T: T.nn.functional.local_response_norm(
        _i(T, 1, 3, 4) > 0, 2
    ),
    "local_response_norm bool 4d": lambda T: T.nn.functional.local_response_norm(
        _i(T, 1, 1, 3, 4) > 0, 2
    ),
    "kl_div reduction": lambda T: T.nn.functional.kl_div(_f(T, 3), _f(T, 3), reduction="avg"),
    "poisson reduction": lambda T: T.nn.functional.poisson_nll_loss(
        _f(T, 3), _f(T, 3), reduction="x"
    ),
    "gaussian negative var": lambda T: T.nn.functional.gaussian_nll_loss(
        _f(T, 3), _f(T, 3), -_f(T, 3)
    ),
    "gaussian negative float var": lambda T: T.nn.functional.gaussian_nll_loss(
        _f(T, 3), _f(T, 3), -1.0
    ),
    "gaussian var size": lambda T: T.nn.functional.gaussian_nll_loss(
        _f(T, 2, 3), _f(T, 2, 3), _f(T, 4)
    ),
    "gaussian reduction": lambda T: T.nn.functional.gaussian_nll_loss(
        _f(T, 3), _f(T, 3), _f(T, 3), reduction="x"
    ),
    "margin_ranking dims": lambda T: T.nn.functional.margin_ranking_loss(
        _f(T, 3), _f(T, 3), _f(T, 1, 3)
    ),
    "multi_margin p": lambda T: T.nn.functional.multi_margin_loss(_f(T, 2, 3), _i(T, 2), p=3),
    "multi_margin weight 2d": lambda T: T.nn.functional.multi_margin_loss(
        _f(T, 2, 3), _i(T, 2), weight=_f(T, 3, 1)
    ),
    "multi_margin target size": lambda T: T.nn.functional.multi_margin_loss(_f(T, 2, 3), _i(T, 3)),
    "multi_margin 3d": lambda T: T.nn.functional.multi_margin_loss(_f(T, 2, 3, 1), _i(T, 2)),
    "multilabel_margin target size": lambda T: T.nn.functional.multilabel_margin_loss(
        _f(T, 2, 3), _i(T, 2, 2)
    ),
    "cosine_embedding 2d target": lambda T: T.nn.functional.cosine_embedding_loss(
        _f(T, 2, 3), _f(T, 2, 3), _f(T, 2, 1)
    ),
    "cosine_embedding 1d target": lambda T: T.nn.functional.cosine_embedding_loss(
        _f(T, 3), _f(T, 3), _f(T, 3)
    ),
    "cosine_embedding 0d target": lambda T: T.nn.functional.cosine_embedding_loss(
        _f(T, 2, 3), _f(T, 2, 3), _f(T)
    ),
    "triplet margin": lambda T: T.nn.functional.triplet_margin_loss(
        _f(T, 2, 3), _f(T, 2, 3), _f(T, 2, 3), margin=-1.0
    ),
    "triplet distance reduction first": lambda T: T.nn.functional.triplet_margin_with_distance_loss(
        _f(T, 2, 3), _f(T, 2, 3), _f(T, 2, 3), margin=0, reduction="x"
    ),
    "soft_margin target grad": lambda T: T.nn.functional.soft_margin_loss(
        _f(T, 3), _f(T, 3).requires_grad_()
    ),
    "triplet dims": lambda T: T.nn.functional.triplet_margin_loss(
        _f(T, 2, 3), _f(T, 2, 3), _f(T, 3)
    ),
    "triplet distance margin": lambda T: T.nn.functional.triplet_margin_with_distance_loss(
        _f(T, 2, 3), _f(T, 2, 3), _f(T, 2, 3), margin=0
    ),
    "triplet distance dims": lambda T: T.nn.functional.triplet_margin_with_distance_loss(
        _f(T, 2, 3), _f(T, 3), _f(T, 2, 3)
    ),
    "sdpa causal with mask": lambda T: T.nn.functional.scaled_dot_product_attention(
        _f(T, 2, 3), _f(T, 2, 3), _f(T, 2, 3), _f(T, 2, 2), is_causal=True
    ),
    "sdpa dtypes": lambda T: T.nn.functional.scaled_dot_product_attention(
        T.ones(2, 3), _f(T, 2, 3), _f(T, 2, 3)
    ),
    "sdpa 1d": lambda T: T.nn.functional.scaled_dot_product_attention(_f(T, 4), _f(T, 4), _f(T, 4)),
    "sdpa heads": lambda T: T.nn.functional.scaled_dot_product_attention(
        _f(T, 2, 4, 3, 4), _f(T, 2, 2, 3, 4), _f(T, 2, 2, 3, 4)
    ),
    "sdpa batch rank": lambda T: T.nn.functional.scaled_dot_product_attention(
        _f(T, 5, 2, 4, 3, 4), _f(T, 2, 2, 3, 4), _f(T, 2, 2, 3, 4)
    ),
    "sdpa embedding": lambda T: T.nn.functional.scaled_dot_product_attention(
        _f(T, 2, 4, 3, 4), _f(T, 2, 4, 3, 5), _f(T, 2, 4, 3, 4)
    ),
    "sdpa mask shape": lambda T: T.nn.functional.scaled_dot_product_attention(
        _f(T, 2, 4, 3, 4), _f(T, 2, 4, 3, 4), _f(T, 2, 4, 3, 4), _f(T, 3, 2)
    ),
    "sdpa int mask": lambda T: T.nn.functional.scaled_dot_product_attention(
        T.ones(2, 3, 4), T.ones(2, 3, 4), T.ones(2, 3, 4), _i(T, 3, 3)
    ),
    "sdpa gqa heads": lambda T: T.nn.functional.scaled_dot_product_attention(
        _f(T, 2, 5, 3, 4), _f(T, 2, 2, 3, 4), _f(T, 2, 2, 3, 4), enable_gqa=True
    ),
    "multilabel_margin out of range": lambda T: T.nn.functional.multilabel_margin_loss(
        _f(T, 2, 3), T.tensor([[1, 3, -1], [0, -1, 0]])
    ),
    "multilabel_margin out of range after -1": lambda T: T.nn.functional.multilabel_margin_loss(
        _f(T, 2, 3), T.tensor([[1, -1, 7], [0, -1, 0]])
    ),
    "multilabel_margin float target": lambda T: T.nn.functional.multilabel_margin_loss(
        _f(T, 2, 3), _f(T, 2, 3)
    ),
    "multi_margin out of range": lambda T: T.nn.functional.multi_margin_loss(
        _f(T, 2, 3), T.tensor([1, 3])
    ),
    "multi_margin float target": lambda T: T.nn.functional.multi_margin_loss(_f(T, 2, 3), _f(T, 2)),
    "multi_margin int": lambda T: T.nn.functional.multi_margin_loss(_i(T, 2, 3), _i(T, 2)),
    "multi_margin bool": lambda T: T.nn.functional.multi_margin_loss(_i(T, 2, 3) > 0, _i(T, 2)),
    "multi_margin weight dtype": lambda T: T.nn.functional.multi_margin_loss(
        _f(T, 2, 3), _i(T, 2), weight=_f(T, 3).float()
    ),
    "multi_margin weight size": lambda T: T.nn.functional.multi_margin_loss(
        _i(T, 2, 3), _i(T, 2), weight=_f(T, 2)
    ),
    "multilabel_margin int": lambda T: T.nn.functional.multilabel_margin_loss(
        _i(T, 2, 3), _i(T, 2, 3).int()
    ),
    "multilabel_margin bool": lambda T: T.nn.functional.multilabel_margin_loss(
        _i(T, 2, 3) > 0, _i(T, 2, 3)
    ),
    "instance_norm eval without stats": lambda T: T.nn.functional.instance_norm(
        _f(T, 2, 3, 4), use_input_stats=False
    ),
    "rms_norm empty shape": lambda T: T.nn.functional.rms_norm(_f(T, 2, 3), ()),
    "pixel_shuffle 2d": lambda T: T.nn.functional.pixel_shuffle(_f(T, 4, 4), 2),
    "pixel_shuffle channels": lambda T: T.nn.functional.pixel_shuffle(_f(T, 1, 5, 2, 2), 2),
    "pixel_shuffle factor": lambda T: T.nn.functional.pixel_shuffle(_f(T, 1, 4, 2, 2), 0),
    "pixel_unshuffle height": lambda T: T.nn.functional.pixel_unshuffle(_f(T, 1, 1, 5, 4), 2),
    "pixel_unshuffle width": lambda T: T.nn.functional.pixel_unshuffle(_f(T, 1, 1, 4, 5), 2),
    "channel_shuffle groups": lambda T: T.nn.functional.channel_shuffle(_f(T, 1, 5, 2), 2),
    "channel_shuffle zero groups": lambda T: T.nn.functional.channel_shuffle(_f(T, 1, 4, 2), 0),
    "channel_shuffle 2d": lambda T: T.nn.functional.channel_shuffle(_f(T, 4, 2), 2),
    # the error sweep's mutants (tests/test_error_sweep.py), in PyTorch's check order
    "cross_entropy empty batch": lambda T: T.nn.functional.cross_entropy(_f(T, 0, 4), _f(T, 3, 4)),
    "cross_entropy prob batch": lambda T: T.nn.functional.cross_entropy(_f(T, 3, 4), _f(T, 2, 3)),
    "cross_entropy float class target": lambda T: T.nn.functional.cross_entropy(
        _f(T, 3, 4), _f(T, 3)
    ),
    "cross_entropy int prob target": lambda T: T.nn.functional.cross_entropy(
        _f(T, 3, 4), _i(T, 3, 4)
    ),
    "cross_entropy 3d target size": lambda T: T.nn.functional.cross_entropy(
        _f(T, 3, 4, 5), _i(T, 3, 6)
    ),
    "nll_loss multi-target": lambda T: T.nn.functional.nll_loss(_f(T, 3, 4), _i(T, 3, 2)),
    "nll_loss int32 target": lambda T: T.nn.functional.nll_loss(_f(T, 3, 4), _i(T, 3).int()),
    "nll_loss 4d spatial": lambda T: T.nn.functional.nll_loss(_f(T, 2, 4, 5, 6), _i(T, 2, 5)),
    "nll_loss 4d size": lambda T: T.nn.functional.nll_loss(_f(T, 2, 4, 5, 6), _i(T, 2, 5, 7)),
    "nll_loss 1d target size": lambda T: T.nn.functional.nll_loss(_f(T, 4), _i(T, 3)),
    "nll_loss 0d input": lambda T: T.nn.functional.nll_loss(_f(T), _i(T)),
    "mse_loss int": lambda T: T.nn.functional.mse_loss(_i(T, 3), _i(T, 3)),
    "mse_loss bool": lambda T: T.nn.functional.mse_loss(_i(T, 3) > 0, _i(T, 3) > 0),
    "smooth_l1_loss int": lambda T: T.nn.functional.smooth_l1_loss(_i(T, 3), _i(T, 3)),
    "huber_loss int with float": lambda T: T.nn.functional.huber_loss(_i(T, 3), _f(T, 3)),
    "huber_loss bool with float": lambda T: T.nn.functional.huber_loss(_i(T, 3) > 0, _f(T, 3)),
    "huber_loss int": lambda T: T.nn.functional.huber_loss(_i(T, 3), _i(T, 3)),
    "bilinear dtypes": lambda T: T.nn.functional.bilinear(
        _f(T, 3, 4).float(), _f(T, 3, 4), _f(T, 5, 4, 4).float()
    ),
    "bilinear bias dtype": lambda T: T.nn.functional.bilinear(
        _f(T, 3, 4), _f(T, 3, 4), _f(T, 5, 4, 4), _i(T, 5)
    ),
    "bilinear 0d": lambda T: T.nn.functional.bilinear(_f(T), _f(T, 3, 4), _f(T, 5, 4, 4)),
    "bilinear both 0d": lambda T: T.nn.functional.bilinear(_f(T), _f(T), _f(T, 5, 4, 4)),
    "bilinear batch": lambda T: T.nn.functional.bilinear(_f(T, 3, 4), _f(T, 2, 4), _f(T, 5, 4, 4)),
    "bilinear input1 size": lambda T: T.nn.functional.bilinear(
        _f(T, 3, 4), _f(T, 3, 4), _f(T, 5, 3, 4)
    ),
    "bilinear input2 size": lambda T: T.nn.functional.bilinear(
        _f(T, 3, 4), _f(T, 3, 4), _f(T, 5, 4, 3)
    ),
    "bilinear 2d weight": lambda T: T.nn.functional.bilinear(_f(T, 3, 4), _f(T, 3, 4), _f(T, 5, 4)),
    "bilinear bias size": lambda T: T.nn.functional.bilinear(
        _f(T, 3, 4), _f(T, 3, 4), _f(T, 5, 4, 4), _f(T, 4)
    ),
    "kl_div int input": lambda T: T.nn.functional.kl_div(_i(T, 3), _f(T, 3), reduction="sum"),
    "kl_div bool target": lambda T: T.nn.functional.kl_div(_f(T, 3), _i(T, 3) > 0, reduction="sum"),
    "hinge_embedding int mean": lambda T: T.nn.functional.hinge_embedding_loss(_i(T, 3), _f(T, 3)),
    "hinge_embedding bool": lambda T: T.nn.functional.hinge_embedding_loss(_i(T, 3) > 0, _f(T, 3)),
    "soft_margin int": lambda T: T.nn.functional.soft_margin_loss(_i(T, 3), _f(T, 3)),
    "soft_margin int target int": lambda T: T.nn.functional.soft_margin_loss(_i(T, 3), _i(T, 3)),
    "soft_margin bool": lambda T: T.nn.functional.soft_margin_loss(_i(T, 3) > 0, _f(T, 3)),
    "soft_margin 0d input": lambda T: T.nn.functional.soft_margin_loss(_f(T), _f(T, 3, 4)),
    "soft_margin shapes": lambda T: T.nn.functional.soft_margin_loss(_f(T, 3, 4), _f(T, 2, 3)),
    "mse_loss broadcast": lambda T: T.nn.functional.mse_loss(_f(T, 3, 4), _f(T, 2, 3)),
    "huber_loss empty broadcast": lambda T: T.nn.functional.huber_loss(_f(T, 0, 4), _f(T, 3, 4)),
    "kl_div broadcast": lambda T: T.nn.functional.kl_div(_f(T, 3, 4), _f(T, 2, 3), reduction="sum"),
    "hinge_embedding broadcast": lambda T: T.nn.functional.hinge_embedding_loss(
        _f(T, 3, 4), _f(T, 2, 3)
    ),
    "bce float64 target": lambda T: T.nn.functional.binary_cross_entropy(
        _f(T, 3).float(), _f(T, 3)
    ),
    "bce int": lambda T: T.nn.functional.binary_cross_entropy(_i(T, 3), _i(T, 3)),
    "bce_with_logits int": lambda T: T.nn.functional.binary_cross_entropy_with_logits(
        _i(T, 3), _f(T, 3)
    ),
    "bce_with_logits bool": lambda T: T.nn.functional.binary_cross_entropy_with_logits(
        _i(T, 3) > 0, _f(T, 3)
    ),
    "bce_with_logits int target": lambda T: T.nn.functional.binary_cross_entropy_with_logits(
        _f(T, 3), _i(T, 3)
    ),
    "bce_with_logits bool target": lambda T: T.nn.functional.binary_cross_entropy_with_logits(
        _f(T, 3), _i(T, 3) > 0
    ),
}


@pytest.mark.parametrize("name", list(BAD))
def test_errors_match_torch(name: str) -> None:
    with pytest.raises(Exception) as want:
        BAD[name](torch)
    with pytest.raises(Exception) as got:
        BAD[name](adjit)
    assert type(got.value).__name__ == type(want.value).__name__
    assert str(got.value) == str(want.value)


# ---- kinks and specials: PyTorch's values and gradients bit for bit --------------------------
SPECIALS = [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, np.nan, np.inf, -np.inf, 1e-30, 7.0]

EXACT: dict[str, Callable[[Any, Any], Any]] = {
    "hardswish": lambda F, x: F.hardswish(x),
    "hardsigmoid": lambda F, x: F.hardsigmoid(x),
    "hardshrink": lambda F, x: F.hardshrink(x),
    "hardshrink-1": lambda F, x: F.hardshrink(x, 1.0),
    "softshrink": lambda F, x: F.softshrink(x),
    "softshrink-0": lambda F, x: F.softshrink(x, 0.0),
    "threshold": lambda F, x: F.threshold(x, 0.5, -1.0),
    "threshold-nan-value": lambda F, x: F.threshold(x, 0.5, float("nan")),
    "rrelu-eval": lambda F, x: F.rrelu(x),
    "prelu": lambda F, x: F.prelu(x, x.new_tensor([0.25])),
    "leaky_relu_": lambda F, x: F.leaky_relu_(x * 1, 0.25),
    "hardtanh_": lambda F, x: F.hardtanh_(x * 1, -0.5, 3.0),
    "hardtanh": lambda F, x: F.hardtanh(x, -0.5, 3.0),
    "relu6-inplace": lambda F, x: F.relu6(x * 1, inplace=True),
}


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
@pytest.mark.parametrize("name", list(EXACT))
def test_kinks_and_specials_bitwise(name: str, dtype: str) -> None:
    results = []
    for T in (adjit, torch):
        x = T.tensor(SPECIALS, dtype=getattr(T, dtype), requires_grad=True)
        y = EXACT[name](T.nn.functional, x)
        (g,) = T.autograd.grad(y.sum(), x)
        results.append((y.detach().float().numpy(), g.float().numpy()))
    (got, ggot), (want, gwant) = results
    np.testing.assert_array_equal(got, want)
    if not name.startswith("softshrink"):  # (its zero's sign: PyTorch's vector/scalar accident)
        signed = ~np.isnan(want)
        np.testing.assert_array_equal(np.signbit(got[signed]), np.signbit(want[signed]))
    np.testing.assert_array_equal(ggot, gwant)


@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_soft_margin_gradient_is_pytorchs_formula(dtype: str, reduction: str) -> None:
    """PyTorch's backward (y e^{-yx}) (-norm) / (e^{-yx} + 1) g rounded step by step in the
    dtype: float16 and bfloat16 gradients bit for bit (float32 differs by adjit's exp ulp)."""
    results = []
    for T in (adjit, torch):
        x = T.tensor(SPECIALS, dtype=getattr(T, dtype), requires_grad=True)
        y = T.nn.functional.soft_margin_loss(x, -T.ones_like(x), reduction=reduction)
        (g,) = T.autograd.grad(y.sum(), x)
        results.append((y.detach().float().numpy(), g.float().numpy()))
    (got, ggot), (want, gwant) = results
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(ggot, gwant)


# ---- second derivatives, also when one input depends on another ------------------------------
SECOND: dict[str, Callable[[Any, Any], Any]] = {
    "prelu-weight-of-input": lambda F, x: F.prelu(x, x[0, :1] * 0.1),
    "group_norm-weight-of-input": lambda F, x: F.group_norm(x.reshape(1, 4, 3), 2, x[0].exp()),
    "layer_norm-weight-of-input": lambda F, x: F.layer_norm(x, (4,), x[0].exp()),
    "bilinear-same-input": lambda F, x: F.bilinear(x, x, x.reshape(3, 1, 4).expand(3, 4, 4) * 1),
    "hardswish": lambda F, x: F.hardswish(x),
    "softshrink": lambda F, x: F.softshrink(x),
    "glu": lambda F, x: F.glu(x),
    "soft_margin_loss": lambda F, x: F.soft_margin_loss(x, x.detach().sign()),
    "gaussian_nll_loss": lambda F, x: F.gaussian_nll_loss(x, x.flip(1), x.abs()),
    "cosine_similarity": lambda F, x: F.cosine_similarity(x, x.flip(0)),
    "sdpa": lambda F, x: F.scaled_dot_product_attention(x, x, x),
    "triplet_margin_loss": lambda F, x: F.triplet_margin_loss(x, x.flip(0), x.flip(1)),
}


@pytest.mark.parametrize("name", list(SECOND))
def test_second_derivatives_match_torch(name: str) -> None:
    """d/dx sum(grad^2) through the decompositions (a composite whose inputs depend on each
    other re-runs each input through its own node: Note [composite inputs that depend on each
    other] in runtime/autograd.py)."""
    x0 = np.random.default_rng(0).uniform(-4, 4, (3, 4))
    results = []
    for T in (adjit, torch):
        x = T.tensor(x0, requires_grad=True)
        y = SECOND[name](T.nn.functional, x)
        (g,) = T.autograd.grad((y * y).sum(), x, create_graph=True)
        (h,) = T.autograd.grad((g * g).sum(), x)
        results.append(h.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10, atol=1e-10)


HALF_DRAWS: dict[str, Callable[[Any, Any], Any]] = {
    "dropout": lambda F, x: F.dropout(x, 0.4),
    "dropout1d": lambda F, x: F.dropout1d(x, 0.4),
    "dropout2d": lambda F, x: F.dropout2d(x.unsqueeze(0), 0.3),
    "alpha_dropout": lambda F, x: F.alpha_dropout(x, 0.4, True),
    "sdpa-dropout": lambda F, x: F.scaled_dot_product_attention(x, x * 0.5, x, dropout_p=0.3),
}


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", list(HALF_DRAWS))
def test_half_dropouts_bitwise(name: str, dtype: str) -> None:
    """The scale 1 / (1 - p) is taken in float32 (1 / 0.6 is 1.667 in float16, not the 1.666 of
    dividing by 0.6 rounded first); attention with dropout runs PyTorch's float32 math path."""
    x0 = np.random.default_rng(5).standard_normal((2, 3, 4))
    results = []
    for T in (adjit, torch):
        T.manual_seed(4)
        x = T.tensor(x0, dtype=getattr(T, dtype), requires_grad=True)
        y = HALF_DRAWS[name](T.nn.functional, x)
        (g,) = T.autograd.grad(y.sum(), x)
        results.append((y.detach().double().numpy(), g.double().numpy(), type(y.grad_fn).__name__))
    (got, ggot, nget), (want, gwant, nwant) = results
    assert nget == nwant
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(ggot, gwant)
