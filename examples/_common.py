"""Shared helpers for the examples: the digits data set, a text progress bar, timing."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import adjit


def load_digits_split(
    image: bool = False, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """sklearn's 8x8 digits, scaled to [0, 1], 80/20 train/test (image=True: N x 1 x 8 x 8)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        sys.exit("this example needs scikit-learn: pip install 'adjit[examples]'")
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    if image:
        x = x.reshape(-1, 1, 8, 8)
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def batches(x: np.ndarray, y: np.ndarray, size: int, rng: np.random.Generator) -> Any:
    """Shuffled full batches with one-hot targets (a fixed shape: a compiled step traces once)."""
    order = rng.permutation(len(x))
    for i in range(0, len(x) - size + 1, size):
        idx = order[i : i + size]
        yield adjit.tensor(x[idx]), adjit.tensor(np.eye(10, dtype=np.float32)[y[idx]])


def one_hot_loss(logits: adjit.Tensor, target: adjit.Tensor) -> adjit.Tensor:
    """Cross-entropy against one-hot float targets (class-index targets do not trace yet)."""
    return -(adjit.nn.functional.log_softmax(logits, 1) * target).sum(1).mean()


def progress(done: int, total: int, text: str = "", width: int = 30) -> None:
    filled = int(width * done / total)
    bar = "#" * filled + "-" * (width - filled)
    end = "\n" if done == total else ""
    print(f"\r[{bar}] {done}/{total} {text}", end=end, flush=True)


def accuracy(model: Callable[[adjit.Tensor], adjit.Tensor], x: np.ndarray, y: np.ndarray) -> float:
    with adjit.no_grad():
        pred = model(adjit.tensor(x)).argmax(1).numpy()
    return float((pred == y).mean())


def time_steps(step: Callable[[], Any], n: int = 20) -> float:
    """Median seconds of ``n`` calls of ``step`` (after one warm-up call)."""
    step()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return float(np.median(times))
