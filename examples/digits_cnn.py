"""Fine-tuning on digits: pretrain a CNN on 0-4, save, load, freeze, train a new 10-way head."""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from _common import accuracy, batches, load_digits_split, one_hot_loss, progress

import adjit
from adjit import nn


def features() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 8x8 -> 4x4
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


def train(model: nn.Module, loss_fn, params, x, y, epochs: int, what: str) -> None:  # type: ignore[no-untyped-def]
    opt = adjit.optim.Adam(params, lr=3e-3)
    rng = np.random.default_rng(0)
    for epoch in range(1, epochs + 1):
        losses = []
        for xb, yb in batches(x, y, 64, rng):
            opt.zero_grad()
            loss = loss_fn(xb, yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        progress(epoch, epochs, f"{what} loss {np.mean(losses):.4f}")


def backward_ms(loss_fn, xb, yb, n: int = 10) -> float:  # type: ignore[no-untyped-def]
    """Median time of ``loss.backward()`` alone (the forward runs outside the clock)."""
    times = []
    for _ in range(n + 1):
        loss = loss_fn(xb, yb)
        t = time.perf_counter()
        loss.backward()
        times.append(time.perf_counter() - t)
    return float(np.median(times[1:])) * 1e3


def main() -> None:
    adjit.manual_seed(0)
    xtr, ytr, xte, yte = load_digits_split(image=True)
    low, low_te = ytr < 5, yte < 5

    # 1. pretrain on digits 0-4 (eagerly: batch norm updates its running statistics)
    net = nn.Sequential(features(), nn.Linear(32, 5))
    train(net, lambda xb, yb: one_hot_loss(net(xb), yb[:, :5]), net.parameters(),
          xtr[low], ytr[low], 15, "pretrain 0-4")  # fmt: skip
    net.eval()
    print(f"pretrained accuracy on held-out 0-4: {accuracy(net, xte[low_te], yte[low_te]):.2%}")

    # 2. save, then load into a fresh network
    path = Path(tempfile.mkdtemp()) / "digits_0to4.npz"
    adjit.save(net.state_dict(), path)
    model = nn.Sequential(features(), nn.Linear(32, 5))
    model.load_state_dict(adjit.load(path))
    print(f"saved and reloaded {len(model.state_dict())} tensors via {path.name}")

    # 3. freeze the features, replace the head by a 10-way one, train only the head (compiled)
    model.eval()  # frozen batch norm: use the pretrained running statistics
    model[0].requires_grad_(False)
    model[1] = nn.Linear(32, 10)
    loss_fn = adjit.compile(lambda xb, yb: one_hot_loss(model(xb), yb))
    train(model, loss_fn, model[1].parameters(), xtr, ytr, 40, "head 0-9")
    print(f"fine-tuned head accuracy on all held-out digits: {accuracy(model, xte, yte):.2%}")

    # 4. what the compiler pruned for the frozen part, and what freezing saves in backward
    xb, yb = next(batches(xtr, ytr, 64, np.random.default_rng(1)))
    ex = adjit.explain(loss_fn, xb, yb)
    reasons = Counter(why for _, why in ex.pruned)
    print(f"adjit.explain: {len(ex.pruned)} of {len(ex.graph.eqns)} forward equations get no "
          f"gradient code: {dict(reasons)}")  # fmt: skip
    for eqn, why in ex.pruned[:3]:
        print(f"  {eqn[:90]}   <- {why}")
    frozen_c, frozen_e = backward_ms(loss_fn, xb, yb), backward_ms(loss_fn.fn, xb, yb)
    model[0].requires_grad_(True)
    full_c, full_e = backward_ms(loss_fn, xb, yb), backward_ms(loss_fn.fn, xb, yb)
    print("loss.backward() time, batch 64:")
    print(f"  compiled: frozen {frozen_c:6.2f} ms   unfrozen {full_c:6.2f} ms")
    print(f"  eager:    frozen {frozen_e:6.2f} ms   unfrozen {full_e:6.2f} ms")


if __name__ == "__main__":
    main()
