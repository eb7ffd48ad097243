"""Train an MLP on sklearn's digits (eager), then time one step eager vs ``adjit.compile``."""

from __future__ import annotations

import numpy as np
from _common import accuracy, batches, load_digits_split, one_hot_loss, progress, time_steps

import adjit
from adjit import nn

EPOCHS, BATCH = 30, 64


def main() -> None:
    adjit.manual_seed(0)
    xtr, ytr, xte, yte = load_digits_split()
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())
    model.append(nn.Linear(64, 10))
    opt = adjit.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = lambda xb, yb: one_hot_loss(model(xb), yb)
    compiled_loss = adjit.compile(loss_fn)

    def step(fn, xb, yb) -> float:  # type: ignore[no-untyped-def]
        opt.zero_grad()
        loss = fn(xb, yb)
        loss.backward()
        opt.step()
        return loss.item()

    rng = np.random.default_rng(0)
    for epoch in range(1, EPOCHS + 1):
        losses = [step(compiled_loss, xb, yb) for xb, yb in batches(xtr, ytr, BATCH, rng)]
        progress(epoch, EPOCHS, f"loss {np.mean(losses):.4f}")
    acc = accuracy(model, xte, yte)
    print(f"test accuracy: {acc:.2%} ({len(yte)} held-out digits)")

    xb, yb = next(batches(xtr, ytr, BATCH, rng))
    eager = time_steps(lambda: step(loss_fn, xb, yb))
    compiled = time_steps(lambda: step(compiled_loss, xb, yb))
    print(f"one training step (batch {BATCH}, forward+backward+Adam):")
    print(f"  eager    {eager * 1e3:7.2f} ms")
    print(f"  compiled {compiled * 1e3:7.2f} ms  ({eager / compiled:.1f}x)")


if __name__ == "__main__":
    main()
