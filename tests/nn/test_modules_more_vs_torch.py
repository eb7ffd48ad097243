"""Activation, loss, dropout and normalization modules side by side with PyTorch: constructor
defaults, repr, state_dict keys, outputs and gradients (input and parameters), compiled forward
and backward against eager."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import adjit

RNG = np.random.default_rng(0)


def _data(*shape: int, low: float = -2.0, high: float = 2.0) -> np.ndarray:
    return RNG.uniform(low, high, shape)


class Target(np.ndarray):
    """A float input that does not require grad (a loss's target)."""


def _target(a: np.ndarray) -> Target:
    return np.asarray(a, np.float64).view(Target)


X4 = _data(2, 4, 3, 5)
X3 = _data(2, 4, 6)
X5 = _data(2, 4, 3, 2, 3)
P = _data(4, 5, low=0.05, high=0.95)  # probabilities
LOGP = np.log(_data(3, 5, low=0.05, high=1.0))
SIGNS = _target(np.where(_data(4) > 0, 1.0, -1.0))

CLASSES = np.array([1, 0, 4, 2])
MULTI = np.array([[3, 0, -1, 1, 2], [1, 2, 4, -1, 0], [0, -1, 2, 2, 2], [4, 3, 2, 1, 0]])


# (name, constructor, the inputs' arrays (float ones get gradients), integer inputs as long)
Row = tuple[str, Callable[[Any], Any], tuple[Any, ...]]
ROWS: list[Row] = [
    # ---- activations
    ("Hardshrink", lambda nn: nn.Hardshrink(), (X3,)),
    ("Hardshrink-lambd", lambda nn: nn.Hardshrink(1.2), (X3,)),
    ("Softshrink", lambda nn: nn.Softshrink(0.7), (X3,)),
    ("Hardsigmoid", lambda nn: nn.Hardsigmoid(), (X3 * 2,)),
    ("Hardswish", lambda nn: nn.Hardswish(), (X3 * 2,)),
    ("Softsign", lambda nn: nn.Softsign(), (X3,)),
    ("Tanhshrink", lambda nn: nn.Tanhshrink(), (X3,)),
    ("Threshold", lambda nn: nn.Threshold(0.1, 20.0), (X3,)),
    ("GLU", lambda nn: nn.GLU(), (X3,)),
    ("GLU-dim", lambda nn: nn.GLU(1), (X3,)),
    ("RReLU-eval", lambda nn: nn.RReLU(0.1, 0.3).eval(), (X3,)),
    ("Softmax2d", lambda nn: nn.Softmax2d(), (X4,)),
    ("Softmax2d-3d", lambda nn: nn.Softmax2d(), (X3,)),
    ("CosineSimilarity", lambda nn: nn.CosineSimilarity(), (X3, X3[::-1].copy())),
    ("CosineSimilarity-dim", lambda nn: nn.CosineSimilarity(2, 1e-3), (X3, X3 * 0.5)),
    ("PairwiseDistance", lambda nn: nn.PairwiseDistance(), (X3[0], X3[1])),
    ("PairwiseDistance-p", lambda nn: nn.PairwiseDistance(1.0, keepdim=True), (X3[0], X3[1])),
    ("PReLU", lambda nn: nn.PReLU(), (X3,)),
    ("PReLU-channels", lambda nn: nn.PReLU(4, 0.1), (X4,)),
    # ---- losses
    ("KLDivLoss", lambda nn: nn.KLDivLoss(reduction="batchmean"), (LOGP, np.exp(LOGP[::-1]))),
    ("KLDivLoss-log", lambda nn: nn.KLDivLoss(log_target=True), (LOGP, LOGP[::-1].copy())),
    ("PoissonNLLLoss", lambda nn: nn.PoissonNLLLoss(), (X3, np.abs(X3[::-1]))),
    ("PoissonNLLLoss-full", lambda nn: nn.PoissonNLLLoss(False, True), (P * 3, P * 4)),
    ("GaussianNLLLoss", lambda nn: nn.GaussianNLLLoss(), (X3, X3[::-1].copy(), np.abs(X3) + 0.1)),
    ("MarginRankingLoss", lambda nn: nn.MarginRankingLoss(0.3), (X3[0, 0, :4], P[0, :4], SIGNS)),
    ("HingeEmbeddingLoss", lambda nn: nn.HingeEmbeddingLoss(), (P[0, :4], SIGNS)),
    (
        "HingeEmbeddingLoss-sum",
        lambda nn: nn.HingeEmbeddingLoss(0.5, reduction="sum"),
        (P[0, :4], SIGNS),
    ),
    ("CosineEmbeddingLoss", lambda nn: nn.CosineEmbeddingLoss(0.2), (P, P[::-1].copy(), SIGNS)),
    ("SoftMarginLoss", lambda nn: nn.SoftMarginLoss(), (P[0, :4], SIGNS)),
    ("MultiLabelMarginLoss", lambda nn: nn.MultiLabelMarginLoss(), (P, MULTI)),
    (
        "MultiLabelSoftMarginLoss",
        lambda nn: nn.MultiLabelSoftMarginLoss(),
        (P, _target((P > 0.5)[:4, :5] * 1.0)),
    ),
    ("MultiMarginLoss", lambda nn: nn.MultiMarginLoss(), (P, CLASSES)),
    ("MultiMarginLoss-p2", lambda nn: nn.MultiMarginLoss(2, 0.5, reduction="none"), (P, CLASSES)),
    ("TripletMarginLoss", lambda nn: nn.TripletMarginLoss(), (X3[0], X3[1], X3[0] * 0.5)),
    (
        "TripletMarginLoss-swap",
        lambda nn: nn.TripletMarginLoss(0.5, 1.0, swap=True),
        (X3[0], X3[1], X3[0] * 0.5),
    ),
    (
        "TripletMarginWithDistanceLoss",
        lambda nn: nn.TripletMarginWithDistanceLoss(),
        (X3[0], X3[1], X3[0] * 0.5),
    ),
    (
        "NLLLoss2d",
        lambda nn: nn.NLLLoss2d(),
        (np.log(P[None, :, :2, None] + 0.0), CLASSES[None, :2, None] % 4),
    ),
    # ---- normalization
    ("BatchNorm3d", lambda nn: nn.BatchNorm3d(4), (X5,)),
    ("BatchNorm3d-eval", lambda nn: nn.BatchNorm3d(4, affine=False).eval(), (X5,)),
    ("InstanceNorm1d", lambda nn: nn.InstanceNorm1d(4), (X3,)),
    ("InstanceNorm1d-unbatched", lambda nn: nn.InstanceNorm1d(2, affine=True), (X3[0, :2],)),
    ("InstanceNorm2d-affine", lambda nn: nn.InstanceNorm2d(4, affine=True), (X4,)),
    ("InstanceNorm2d-stats", lambda nn: nn.InstanceNorm2d(4, track_running_stats=True), (X4,)),
    ("InstanceNorm3d", lambda nn: nn.InstanceNorm3d(4, eps=1e-3), (X5,)),
    ("GroupNorm", lambda nn: nn.GroupNorm(2, 4), (X4,)),
    ("GroupNorm-no-affine", lambda nn: nn.GroupNorm(4, 4, affine=False), (X3,)),
    ("RMSNorm", lambda nn: nn.RMSNorm(6), (X3,)),
    ("RMSNorm-eps", lambda nn: nn.RMSNorm([3, 5], eps=1e-3), (X4,)),
    ("LocalResponseNorm", lambda nn: nn.LocalResponseNorm(3), (X4,)),
    ("LocalResponseNorm-args", lambda nn: nn.LocalResponseNorm(2, 1e-2, 0.5, 2.0), (X3,)),
    # ---- dropout (in eval mode: the identity; training draws are compared below)
    ("Dropout1d-eval", lambda nn: nn.Dropout1d(0.3).eval(), (X3,)),
    ("AlphaDropout-eval", lambda nn: nn.AlphaDropout().eval(), (X3,)),
]


def _inputs(arrays: tuple[Any, ...], lib: Any) -> list[Any]:
    out = []
    for a in arrays:
        if isinstance(a, Target):
            out.append(lib.tensor(np.asarray(a), dtype=lib.float64))
            continue
        a = np.asarray(a)
        if a.dtype.kind == "f":
            out.append(lib.tensor(a, dtype=lib.float64, requires_grad=True))
        else:
            out.append(lib.tensor(a, dtype=lib.int64))
    return out


def _run(row: Row, lib: Any) -> tuple[Any, list[Any], Any]:
    _, make, arrays = row
    module = make(lib.nn).double()
    xs = _inputs(arrays, lib)
    y = module(*xs)
    (y * lib.arange(1, y.numel() + 1, dtype=lib.float64).reshape(y.shape)).sum().backward()
    return module, xs, y


def _np(t: Any) -> np.ndarray:
    return t.detach().numpy()


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_module_as_torch(row: Row) -> None:
    a, axs, ay = _run(row, adjit)
    t, txs, ty = _run(row, torch)
    assert repr(a) == repr(t)
    assert list(a.state_dict()) == list(t.state_dict())
    np.testing.assert_allclose(_np(ay), _np(ty), rtol=1e-12, atol=1e-13)
    for ax, tx in zip(axs, txs, strict=True):
        if tx.grad is not None:
            np.testing.assert_allclose(_np(ax.grad), _np(tx.grad), rtol=1e-10, atol=1e-12)
    for (name, ap), (_, tp) in zip(a.named_parameters(), t.named_parameters(), strict=True):
        np.testing.assert_allclose(_np(ap.grad), _np(tp.grad), rtol=1e-10, atol=1e-12, err_msg=name)
    for (name, ab), (_, tb) in zip(a.named_buffers(), t.named_buffers(), strict=True):
        np.testing.assert_allclose(_np(ab), _np(tb), rtol=1e-12, atol=1e-13, err_msg=name)


DEFAULT_REPRS = [
    "Hardshrink Softshrink Hardsigmoid Hardswish Softsign Tanhshrink GLU RReLU Softmax2d",
    "CosineSimilarity PairwiseDistance PReLU KLDivLoss PoissonNLLLoss GaussianNLLLoss",
    "MarginRankingLoss HingeEmbeddingLoss CosineEmbeddingLoss SoftMarginLoss MultiMarginLoss",
    "MultiLabelMarginLoss MultiLabelSoftMarginLoss TripletMarginLoss NLLLoss2d",
    "TripletMarginWithDistanceLoss Dropout1d Dropout3d AlphaDropout FeatureAlphaDropout",
]


@pytest.mark.parametrize("name", " ".join(DEFAULT_REPRS).split())
def test_default_construction_as_torch(name: str) -> None:
    a, t = getattr(adjit.nn, name)(), getattr(torch.nn, name)()
    assert repr(a) == repr(t)
    assert {k: v for k, v in vars(a).items() if not k.startswith("_") and k != "training"} == {
        k: v for k, v in vars(t).items() if not k.startswith("_") and k != "training"
    }


@pytest.mark.parametrize(
    "name, args",
    [
        ("Threshold", (0.5, 2.0, True)),
        ("Hardswish", (True,)),
        ("RReLU", (0.2, 0.4, True)),
        ("GroupNorm", (3, 6, 1e-3, False)),
        ("InstanceNorm3d", (5, 1e-3, None, True, True)),
        ("BatchNorm3d", (5,)),
        ("RMSNorm", ((2, 3), 1e-5, False)),
        ("LocalResponseNorm", (4,)),
        ("Dropout3d", (0.2, True)),
    ],
)
def test_constructed_repr_as_torch(name: str, args: tuple[Any, ...]) -> None:
    assert repr(getattr(adjit.nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))


@pytest.mark.parametrize(
    "make, x",
    [
        (lambda nn: nn.Softmax2d(), np.ones(3)),
        (lambda nn: nn.GroupNorm(3, 4), None),
        (lambda nn: nn.InstanceNorm1d(3), np.ones((2, 3, 4, 5))),
        (lambda nn: nn.InstanceNorm2d(3, affine=True), np.ones((2, 4, 5, 5))),
        (lambda nn: nn.BatchNorm3d(3), np.ones((2, 3, 4))),
        (lambda nn: nn.MultiMarginLoss(p=3), None),
        (lambda nn: nn.TripletMarginLoss(margin=0.0), None),
        (lambda nn: nn.TripletMarginWithDistanceLoss(margin=-1.0), None),
        (lambda nn: nn.Threshold(), None),
    ],
)
def test_errors_as_torch(make: Callable[[Any], Any], x: Any) -> None:
    def outcome(lib: Any) -> tuple[str, str]:
        try:
            m = make(lib.nn)
            m(lib.tensor(x))
        except Exception as e:  # noqa: BLE001 - the error is the outcome compared
            return type(e).__name__, str(e)
        return "no error", ""

    got, want = outcome(adjit), outcome(torch)
    assert want[0] != "no error"
    assert got == want


def test_instance_norm_num_features_warning_as_torch() -> None:
    for lib in (adjit, torch):
        with pytest.warns(UserWarning, match="does not match num_features"):
            lib.nn.InstanceNorm1d(3)(lib.ones(2, 4, 5))


@pytest.mark.parametrize(
    "name, shape",
    [("Dropout1d", (3, 5, 7)), ("Dropout3d", (2, 5, 2, 3, 2)), ("AlphaDropout", (4, 9))]
    + [("FeatureAlphaDropout", (3, 6, 4)), ("RReLU", (4, 9))],
)
def test_training_draws_as_torch(name: str, shape: tuple[int, ...]) -> None:
    outs = []
    for lib in (adjit, torch):
        lib.manual_seed(7)
        x = lib.linspace(-2, 2, int(np.prod(shape)), dtype=lib.float64).reshape(shape)
        x.requires_grad_()
        y = getattr(lib.nn, name)(0.4) if name != "RReLU" else lib.nn.RReLU()
        out = y(x)
        out.sum().backward()
        outs.append((_np(out), _np(x.grad)))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-12, atol=1e-14)


COMPILED = [r for r in ROWS if r[0] in {"GroupNorm", "InstanceNorm2d-affine", "RMSNorm-eps"}]
COMPILED += [r for r in ROWS if r[0] in {"LocalResponseNorm", "PReLU-channels", "GLU", "Softmax2d"}]
COMPILED += [r for r in ROWS if r[0] in {"KLDivLoss", "TripletMarginLoss", "CosineEmbeddingLoss"}]
COMPILED += [r for r in ROWS if r[0] in {"BatchNorm3d-eval", "Hardswish", "PoissonNLLLoss"}]


@pytest.mark.parametrize("row", COMPILED, ids=[r[0] for r in COMPILED])
def test_compiled_forward_backward_as_eager(row: Row) -> None:
    _, make, arrays = row
    module = make(adjit.nn).double()
    params = list(module.parameters())

    def step(*xs: Any) -> Any:
        y = module(*xs)
        return (y * y).sum()

    results = []
    for f in (step, adjit.compile(step)):
        xs = _inputs(arrays, adjit)
        for p in params:
            p.grad = None
        loss = f(*xs)
        loss.backward()
        grads = [x.grad for x in xs if x.grad is not None] + [p.grad for p in params]
        results.append([loss.item()] + [_np(g) for g in grads])
    assert len(results[0]) == len(results[1])
    for e, c in zip(*results, strict=True):
        np.testing.assert_allclose(c, e, rtol=1e-12, atol=1e-12)
