"""The distributed benchmark's models (examples/digits_mlp.py's MLP, a small CNN) and their
data: sklearn's digits when scikit-learn is installed, synthetic digits of the same shape
otherwise; built in adjit or PyTorch from the same seed."""

# Note [distributed benchmark models]
# The MLP is examples/digits_mlp.py's (64-128-64-10, ReLU, 17,226 parameters); the CNN is
# examples/digits_cnn.py's feature stack without its BatchNorm2d and with a 10-way head (conv
# 1->16 3x3, ReLU, max-pool 2, conv 16->32 3x3, ReLU, global average pool, linear 32->10; 5,130
# parameters): batch norm's statistics are per process under DDP (PyTorch's too, without
# SyncBatchNorm), so with it two processes would not compute the one-process step on the
# concatenated batch, which is what the benchmark checks before timing. The loss is the
# examples' cross-entropy against one-hot targets, mean over the batch. Both libraries draw
# the weights from their own seeded init; the runs compared with each other are always of one
# library.

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

N_DIGITS = 1797  # sklearn's digits: 1797 8x8 images with 17 grey levels, 10 classes


def dataset(model: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples for ``model``: its inputs (float32) and integer labels."""
    spec = MODELS[model]
    if not spec.digits:  # resnet18: random images
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((n, *spec.shape)).astype(np.float32)
        return x, rng.integers(0, spec.classes, size=n)
    x, y = digits(n, seed)
    return x.reshape(n, *spec.shape), y


def digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` digits: sklearn's (scaled to [0, 1]) if it is installed and ``n`` fits, else
    ten random 8x8 prototypes plus noise on sklearn's 17 grey levels; N x 64 float32 and
    int64 labels."""
    x, y = _sklearn_digits()
    rng = np.random.default_rng(seed)
    if x is None or n > len(x):
        protos = rng.integers(0, 17, size=(10, 64))
        y = rng.integers(0, 10, size=n)
        x = np.clip(protos[y] + rng.normal(0.0, 3.0, size=(n, 64)).round(), 0, 16) / 16.0
    else:
        pick = rng.permutation(len(x))[:n]
        x, y = x[pick], y[pick]
    return x.astype(np.float32), y.astype(np.int64)


def data_source() -> str:
    return "sklearn digits" if _sklearn_digits()[0] is not None else "synthetic digits"


def _sklearn_digits() -> tuple[Any, Any]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return None, None
    d = load_digits()
    return d.data / 16.0, d.target


def one_hot(y: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes, dtype=np.float32)[y]


def batches(lib: Any, model: str, x: np.ndarray, y: np.ndarray, size: int, seed: int) -> Any:
    """Shuffled full batches as ``lib`` tensors, one-hot float targets."""
    order = np.random.default_rng(seed).permutation(len(x))
    for i in range(0, len(x) - size + 1, size):
        idx = order[i : i + size]
        yield lib.tensor(x[idx]), lib.tensor(one_hot(y[idx], MODELS[model].classes))


def _loss(lib: Any) -> Callable[[Any, Any], Any]:
    F = lib.nn.functional
    return lambda logits, target: -(F.log_softmax(logits, 1) * target).sum(1).mean()


def mlp(lib: Any) -> tuple[Any, Callable[[Any, Any], Any]]:
    nn = lib.nn
    net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())
    net.append(nn.Linear(64, 10))
    return net, _loss(lib)


def cnn(lib: Any) -> tuple[Any, Callable[[Any, Any], Any]]:
    nn = lib.nn
    net = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 8x8 -> 4x4
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 10),
    )
    return net, _loss(lib)


def resnet18(lib: Any) -> tuple[Any, Callable[[Any, Any], Any]]:
    return lib.models.resnet18(), _loss(lib)


@dataclass(frozen=True)
class Spec:
    build: Callable[[Any], tuple[Any, Callable[[Any, Any], Any]]]
    shape: tuple[int, ...]  # one sample's
    classes: int
    digits: bool = True  # the digits data set, else random images


MODELS = {
    "mlp": Spec(mlp, (64,), 10),
    "cnn": Spec(cnn, (1, 8, 8), 10),
    # only for the gradients' ready times (Note [simulated link]): 11.7M parameters
    "resnet18": Spec(resnet18, (3, 64, 64), 1000, digits=False),
}
