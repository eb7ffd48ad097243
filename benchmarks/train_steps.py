"""Whole training steps written once for any PyTorch-like library (adjit or torch): a tiny GPT,
a VAE, a WGAN-GP critic and a straight-through quantized MLP. The tests run them eagerly and
compiled side by side; ``python -m adjit.benchmarks.train_steps`` times them against PyTorch
eager and torch.compile at one thread count for every contender."""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Program:
    """A model, its optimizer, a training step ``step(*batch) -> loss`` and a batch maker."""

    model: Any
    step: Callable[..., Any]
    batch: Callable[[int], tuple]  # batch(i) -> the i-th batch, the same for every library


def _data(lib: Any, seed: int, shape: tuple[int, ...], kind: str = "normal") -> Any:
    """Batches from NumPy (never the library's generator), so every library trains on the same
    data and the library's random stream is left to the model (dropout, sampling)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if kind == "normal":
        return lib.tensor(rng.standard_normal(shape), dtype=lib.float32)
    if kind == "unit":
        return lib.tensor(rng.random(shape), dtype=lib.float32)
    return lib.tensor(rng.integers(0, kind, shape), dtype=lib.int64)  # type: ignore[arg-type]


# ---- tiny GPT: embeddings, causal attention, dropout, AdamW, gradient clipping ----------------
def gpt(lib: Any, vocab: int = 64, d: int = 32, heads: int = 4, layers: int = 2,
        block: int = 16, batch: int = 8, p: float = 0.1) -> Program:  # fmt: skip
    nn, F = lib.nn, lib.nn.functional

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
            self.drop = nn.Dropout(p)
            mask = lib.tril(lib.ones(block, block)).view(1, 1, block, block)
            self.register_buffer("mask", mask)

        def forward(self, x: Any) -> Any:
            B, T, C = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
            q = q.view(B, T, heads, C // heads).transpose(1, 2)
            k = k.view(B, T, heads, C // heads).transpose(1, 2)
            v = v.view(B, T, heads, C // heads).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // heads))
            att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
            att = self.drop(F.softmax(att, dim=-1))
            y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
            x = x + self.drop(self.proj(y))
            return x + self.drop(self.out(F.gelu(self.fc(self.ln2(x)))))

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(block, d)
            self.drop = nn.Dropout(p)
            self.blocks = nn.Sequential(*[Block() for _ in range(layers)])
            self.ln = nn.LayerNorm(d)
            self.head = nn.Linear(d, vocab, bias=False)

        def forward(self, idx: Any, targets: Any) -> Any:
            T = idx.shape[1]
            x = self.drop(self.tok(idx) + self.pos(lib.arange(T)))
            logits = self.head(self.ln(self.blocks(x)))
            return F.cross_entropy(logits.view(-1, vocab), targets.view(-1))

    model = GPT()
    opt = lib.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)

    def step(idx: Any, targets: Any) -> Any:
        opt.zero_grad(set_to_none=True)
        loss = model(idx, targets)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    def make(i: int) -> tuple:
        tokens = _data(lib, i, (batch, block + 1), vocab)  # type: ignore[arg-type]
        return tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()

    return Program(model, step, make)


# ---- VAE: binary cross-entropy + KL, the reparameterization draw, Adam -----------------------
def vae(lib: Any, features: int = 64, hidden: int = 32, z: int = 8, batch: int = 16) -> Program:
    nn, F = lib.nn, lib.nn.functional

    class VAE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc = nn.Linear(features, hidden)
            self.mu, self.logvar = nn.Linear(hidden, z), nn.Linear(hidden, z)
            self.dec1, self.dec2 = nn.Linear(z, hidden), nn.Linear(hidden, features)

        def forward(self, x: Any) -> Any:
            h = F.relu(self.enc(x))
            mu, logvar = self.mu(h), self.logvar(h)
            std = lib.exp(0.5 * logvar)
            code = mu + lib.randn_like(std) * std
            recon = lib.sigmoid(self.dec2(F.relu(self.dec1(code))))
            bce = F.binary_cross_entropy(recon, x, reduction="sum")
            kl = -0.5 * lib.sum(1 + logvar - mu.pow(2) - logvar.exp())
            return (bce + kl) / x.shape[0]

    model = VAE()
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)

    def step(x: Any) -> Any:
        opt.zero_grad()
        loss = model(x)
        loss.backward()
        opt.step()
        return loss

    return Program(model, step, lambda i: (_data(lib, i, (batch, features), "unit"),))


# ---- WGAN-GP critic step: a gradient penalty through autograd.grad(create_graph=True) --------
def wgan_gp(lib: Any, features: int = 16, noise: int = 8, batch: int = 16) -> Program:
    nn = lib.nn
    critic = nn.Sequential(nn.Linear(features, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    gen = nn.Sequential(nn.Linear(noise, 32), nn.ReLU(), nn.Linear(32, features))
    opt = lib.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))

    def step(real: Any, z: Any) -> Any:
        opt.zero_grad()
        fake = gen(z).detach()
        alpha = lib.rand(real.shape[0], 1)
        interp = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        out = critic(interp)
        (grads,) = lib.autograd.grad(out, interp, lib.ones_like(out), create_graph=True)
        penalty = ((grads.norm(2, dim=1) - 1) ** 2).mean()
        loss = critic(fake).mean() - critic(real).mean() + 10 * penalty
        loss.backward()
        opt.step()
        return loss

    def make(i: int) -> tuple:
        return _data(lib, 2 * i, (batch, features)), _data(lib, 2 * i + 1, (batch, noise))

    return Program(critic, step, make)


# ---- a straight-through estimator (a custom Function) in a quantized MLP ---------------------
def ste_mlp(lib: Any, features: int = 16, hidden: int = 32, batch: int = 32) -> Program:
    nn, F = lib.nn, lib.nn.functional

    class Quantize(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return lib.round(x * 4) / 4

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return g  # straight through

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(features, hidden), nn.Linear(hidden, 1)

        def forward(self, x: Any) -> Any:
            return self.b(Quantize.apply(lib.tanh(self.a(x))))

    model = Net()
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def step(x: Any, y: Any) -> Any:
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    def make(i: int) -> tuple:
        return _data(lib, 2 * i, (batch, features)), _data(lib, 2 * i + 1, (batch, 1))

    return Program(model, step, make)


PROGRAMS: dict[str, Callable[[Any], Program]] = {
    "gpt": gpt,
    "vae": vae,
    "wgan_gp": wgan_gp,
    "ste_mlp": ste_mlp,
}


def build(name: str, lib: Any, seed: int = 0) -> Program:
    lib.manual_seed(seed)
    return PROGRAMS[name](lib)


# ---- timing ------------------------------------------------------------------------------------
def _time(step: Callable[..., Any], batches: list[tuple], repeats: int) -> list[float]:
    for b in batches[:3]:  # warm-up (and compilation)
        step(*b)
    times = []
    for r in range(repeats):
        b = batches[r % len(batches)]
        t0 = time.perf_counter()
        step(*b)
        times.append(time.perf_counter() - t0)
    return times


def contenders(name: str, threads: int) -> dict[str, Callable[[], tuple[Any, list]]]:
    """name -> a factory giving (step, batches) for one library/mode."""
    import adjit

    adjit.set_num_threads(threads)

    def adjit_mode(compiled: bool) -> tuple[Any, list]:
        prog = build(name, adjit)
        step = adjit.compile(prog.step) if compiled else prog.step
        return step, [prog.batch(i) for i in range(8)]

    found: dict[str, Callable[[], tuple[Any, list]]] = {
        "adjit eager": lambda: adjit_mode(False),
        "adjit.compile": lambda: adjit_mode(True),
    }
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is the benchmark's optional peer
        return found
    torch.set_num_threads(threads)

    def torch_mode(compiled: bool) -> tuple[Any, list]:
        prog = build(name, torch)
        step = torch.compile(prog.step) if compiled else prog.step
        return step, [prog.batch(i) for i in range(8)]

    found["torch eager"] = lambda: torch_mode(False)
    found["torch.compile"] = lambda: torch_mode(True)
    return found


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("programs", nargs="*", default=["gpt", "vae"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    print(f"threads: {args.threads} for every contender; median [min, max] of {args.repeats}")
    for name in args.programs:
        rows = []
        for label, make in contenders(name, args.threads).items():
            try:
                step, batches = make()
                t = _time(step, batches, args.repeats)
            except Exception as e:  # a contender that fails is reported, never hidden
                rows.append((label, None, f"failed: {type(e).__name__}: {e}"[:100]))
                continue
            rows.append((label, t, ""))
        eager = [t for lab, t, _ in rows if lab == "torch eager" and t]
        base = statistics.median(eager[0]) if eager else None
        print(f"\n{name} training step")
        for label, t, note in rows:
            if t is None:
                print(f"  {label:15s} {note}")
                continue
            med = statistics.median(t)
            speed = f"{base / med:5.2f}x torch eager" if base else ""
            print(
                f"  {label:15s} {med * 1e3:8.3f} ms  [{min(t) * 1e3:.3f}, {max(t) * 1e3:.3f}]"
                f"  {speed}"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
