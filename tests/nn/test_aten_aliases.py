"""torch.dropout, torch.layer_norm, torch.relu_, torch.fill & co. (ATen's spellings in torch,
Note [ATen spellings in torch]) side by side with PyTorch: values, gradients, errors."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)
X = RNG.standard_normal((4, 3, 5)).astype(np.float32)
Y = RNG.standard_normal((4, 3, 5)).astype(np.float32)
W5 = RNG.standard_normal(5).astype(np.float32)
W3 = RNG.standard_normal(3).astype(np.float32)
P = (RNG.random((4, 3, 5)) * 0.8 + 0.1).astype(np.float32)
SIGN = np.sign(RNG.standard_normal((4, 3, 5))).astype(np.float32)
IDS = np.array([[0, 2], [5, 1]])
TABLE = RNG.standard_normal((6, 4)).astype(np.float32)
BIL = RNG.standard_normal((2, 5, 5)).astype(np.float32)

# name -> fn(lib, x, y): x and y require grad (float32 (4, 3, 5))
CASES: dict[str, Callable[[Any, Any, Any], Any]] = {
    "dropout_eval": lambda m, x, y: m.dropout(x, 0.3, False),
    "dropout_train": lambda m, x, y: m.dropout(x, 0.3, True),
    "feature_dropout": lambda m, x, y: m.feature_dropout(x, 0.5, True),
    "alpha_dropout": lambda m, x, y: m.alpha_dropout(x, 0.2, True),
    "feature_alpha_dropout": lambda m, x, y: m.feature_alpha_dropout(x, 0.2, True),
    "dropout_clone_": lambda m, x, y: m.dropout_(x * 1, 0.4, True),
    "layer_norm": lambda m, x, y: m.layer_norm(x, [5], m.tensor(W5), None, 1e-5),
    "rms_norm": lambda m, x, y: m.rms_norm(x, [5], m.tensor(W5)),
    "group_norm": lambda m, x, y: m.group_norm(x, 3, m.tensor(W3), m.tensor(W3)),
    "batch_norm": lambda m, x, y: m.batch_norm(x, None, None, None, None, True, 0.1, 1e-5, True),
    "batch_norm_running": lambda m, x, y: m.batch_norm(
        x, m.tensor(W3), None, m.zeros(3), m.ones(3), False, 0.1, 1e-5, False
    ),
    "instance_norm": lambda m, x, y: m.instance_norm(
        x, None, None, None, None, True, 0.1, 1e-5, True
    ),
    "embedding": lambda m, x, y: m.embedding(x.reshape(6, 10), m.tensor(IDS)),
    "embedding_padding": lambda m, x, y: m.embedding(x.reshape(6, 10), m.tensor(IDS), 2),
    "cosine_similarity": lambda m, x, y: m.cosine_similarity(x, y),
    "pairwise_distance": lambda m, x, y: m.pairwise_distance(x[0], y[0], 3.0, keepdim=True),
    "pdist": lambda m, x, y: m.pdist(x[0], 1.5),
    "pixel_shuffle": lambda m, x, y: m.pixel_shuffle(x.reshape(1, 4, 3, 5), 2),
    "pixel_unshuffle": lambda m, x, y: m.pixel_unshuffle(x.reshape(1, 1, 6, 10), 2),
    "channel_shuffle": lambda m, x, y: m.channel_shuffle(x.reshape(2, 6, 5), 3),
    "prelu": lambda m, x, y: m.prelu(x, m.tensor(W3)),
    "selu": lambda m, x, y: m.selu(x),
    "celu": lambda m, x, y: m.celu(x, 0.7),
    "selu_": lambda m, x, y: m.selu_(x * 1),
    "celu_": lambda m, x, y: m.celu_(x * 1, 1.3),
    "rrelu_eval": lambda m, x, y: m.rrelu(x),
    "rrelu_train": lambda m, x, y: m.rrelu(x, 0.1, 0.3, True),
    "threshold": lambda m, x, y: m.threshold(x, 0.1, -2.0),
    "threshold_": lambda m, x, y: m.threshold_(x * 1, 0.1, -2.0),
    "bilinear": lambda m, x, y: m.bilinear(x, y, m.tensor(BIL)),
    "constant_pad_nd": lambda m, x, y: m.constant_pad_nd(x, [1, 2, 0, 1], 0.5),
    "kl_div_mean": lambda m, x, y: m.kl_div(x, m.tensor(P)),
    "kl_div_none": lambda m, x, y: m.kl_div(x, m.tensor(P), 0, log_target=False),
    "kl_div_sum_log": lambda m, x, y: m.kl_div(x, y, 2, log_target=True),
    "kl_div_other_int": lambda m, x, y: m.kl_div(x, m.tensor(P), 5),
    "margin_ranking": lambda m, x, y: m.margin_ranking_loss(x, y, m.tensor(SIGN), 0.2),
    "hinge_embedding": lambda m, x, y: m.hinge_embedding_loss(x, m.tensor(SIGN), 0.5, 2),
    "cosine_embedding": lambda m, x, y: m.cosine_embedding_loss(
        x[0], y[0], m.tensor(SIGN[0, :, 0]), 0.1
    ),
    "triplet_margin": lambda m, x, y: m.triplet_margin_loss(x[0], y[0], x[1], 0.5, 2.0, 1e-6),
    "poisson_nll": lambda m, x, y: m.poisson_nll_loss(x, m.tensor(P), True, True, 1e-8, 1),
    "bce_with_logits": lambda m, x, y: m.binary_cross_entropy_with_logits(
        x, m.tensor(P), None, m.tensor(W5).abs(), 2
    ),
    "ctc_loss": lambda m, x, y: m.ctc_loss(
        x.reshape(4, 3, 5).log_softmax(2), m.tensor([[1, 2], [3, 1], [2, 2]]), [4, 4, 3], [2, 2, 1]
    ),
    "margin_ranking_broadcast": lambda m, x, y: m.margin_ranking_loss(x[0, 0, 0], y, y, 0.1, 1),
    "group_norm_one_per_group": lambda m, x, y: m.group_norm(x[:, :, 0], 3, None, m.tensor(W3)),
    "relu_": lambda m, x, y: m.relu_(x * 1),
    "sigmoid_": lambda m, x, y: m.sigmoid_(x * 1),
    "clamp_": lambda m, x, y: m.clamp_(x * 1, -0.5, 0.5),
    "xlogy_": lambda m, x, y: m.xlogy_(x.abs() * 1, y.abs()),
    "fill": lambda m, x, y: m.fill(x, 2.5) * x,
    "detach": lambda m, x, y: m.detach(x) * y,
}


def _run(lib: Any, name: str) -> tuple[Any, list[Any]]:
    lib.manual_seed(3)
    x = lib.tensor(X, requires_grad=True)
    y = lib.tensor(Y, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = CASES[name](lib, x, y)
    (out * lib.tensor(np.float32(1.5)) if out.ndim == 0 else out.sum()).backward()
    grads = [None if t.grad is None else t.grad.numpy() for t in (x, y)]
    return out.detach().numpy(), grads


@pytest.mark.parametrize("name", CASES)
def test_values_and_gradients_match_torch(name: str) -> None:
    (ours, our_grads), (theirs, their_grads) = _run(adjit, name), _run(torch, name)
    np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=2e-6)
    for g, h in zip(our_grads, their_grads, strict=True):
        assert (g is None) == (h is None)
        if g is not None:
            np.testing.assert_allclose(g, h, rtol=2e-5, atol=2e-6)


ERRORS: dict[str, Callable[[Any], Any]] = {
    "dropout_p": lambda m: m.dropout(m.ones(3), 1.5, True),
    "dropout_missing_train": lambda m: m.dropout(m.ones(3), 0.5),
    "feature_dropout_1d": lambda m: m.feature_dropout(m.ones(3), 0.5, True),
    "alpha_dropout_p": lambda m: m.alpha_dropout(m.ones(3), -1, True),
    "fill_vector": lambda m: m.fill(m.zeros(3), m.ones(2)),
    "bce_smaller_target": lambda m: m.binary_cross_entropy_with_logits(
        m.ones(4, 3), m.ones(4, 1), None, None, 1
    ),
    "set_default_device_cuda": lambda m: m.set_default_device("cuda") or m.zeros(1),
}


@pytest.mark.parametrize("name", ERRORS)
def test_errors_match_torch(name: str) -> None:
    def outcome(lib: Any) -> str:
        try:
            ERRORS[name](lib)
        except Exception as e:  # the error's type and first line are compared
            return f"{type(e).__name__}: {str(e).splitlines()[0]}"
        finally:
            if hasattr(lib, "set_default_device"):
                lib.set_default_device(None)  # (PyTorch: "cpu" would keep a device mode on)
        return "no error"

    ours, theirs = outcome(adjit), outcome(torch)
    if name == "dropout_missing_train":  # (Python's text names the missing argument)
        assert ours.startswith("TypeError") and theirs.startswith("TypeError")
        return
    assert ours == theirs


PLAIN: dict[str, Callable[[Any], Any]] = {
    "scalar_tensor_int": lambda m: m.scalar_tensor(3),
    "scalar_tensor_bool": lambda m: m.scalar_tensor(True),
    "scalar_tensor_dtype": lambda m: m.scalar_tensor(3, dtype=m.int64),
    "fill_int": lambda m: m.fill(m.zeros(3, dtype=m.int32), 2.7),
    "fill_tensor": lambda m: m.fill(m.zeros(3, dtype=m.int32), m.tensor(3)),
    "is_signed": lambda m: [m.is_signed(m.zeros(1, dtype=d)) for d in (m.uint8, m.int8, m.bool)],
    "is_same_size": lambda m: [
        m.is_same_size(m.zeros(2, 3), m.ones(2, 3)),
        m.is_same_size(m.zeros(2, 3), m.ones(3, 2)),
    ],  # fmt: skip
    "is_neg": lambda m: m.is_neg(m.zeros(2)),
    "put": lambda m: m.put(m.zeros(4), m.tensor([1, -1]), m.tensor([5.0, 6.0])),
    "abs_": lambda m: (lambda t: (m.abs_(t), t))(m.tensor([-1.5, 2.0])),
    "zero_": lambda m: m.zero_(m.ones(2)),
    "typename": lambda m: [m.typename(m.zeros(1, dtype=m.int64)), m.typename(3)],
    "default_device": lambda m: str(m.get_default_device()),
    "bce_broadcast_input": lambda m: round(  # (forward only: PyTorch's backward refuses a
        # broadcast input; float32 sums: 4 places)
        m.binary_cross_entropy_with_logits(
            m.tensor(X)[0, :1], m.tensor(P)[0], None, None, 2
        ).item(),
        4,
    ),
}


def _plain(value: Any, lib: Any) -> Any:
    if isinstance(value, lib.Tensor):
        return (str(value.dtype), value.tolist())
    if isinstance(value, list | tuple):
        return [_plain(v, lib) for v in value]
    return value


@pytest.mark.parametrize("name", PLAIN)
def test_plain_functions_match_torch(name: str) -> None:
    assert _plain(PLAIN[name](adjit), adjit) == _plain(PLAIN[name](torch), torch)
