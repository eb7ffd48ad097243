"""Training programs a PyTorch user writes, each run for three steps as torch, eager adjit and
adjit.compile of the whole step (graph breaks where the program has them): the step's outputs
and the parameters (and buffers) after it agree within float32 rounding."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from importlib import import_module
from typing import Any

import numpy as np
import pytest
import torch

import adjit

RNG = np.random.default_rng(11)


def gan(L):
    nn = L.nn
    L.manual_seed(0)
    G = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    D = nn.Sequential(nn.Linear(3, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    og = L.optim.Adam(G.parameters(), lr=1e-2, betas=(0.5, 0.999))
    od = L.optim.Adam(D.parameters(), lr=1e-2, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()

    def step(z, real):
        fake = G(z)
        od.zero_grad()
        ld = bce(D(real), L.ones(real.shape[0], 1)) + bce(D(fake.detach()), L.zeros(z.shape[0], 1))
        ld.backward()
        od.step()
        og.zero_grad()
        lg = bce(D(fake), L.ones(z.shape[0], 1))
        lg.backward()
        og.step()
        return ld.detach(), lg.detach()

    data = [RNG.standard_normal((6, 4)), RNG.standard_normal((6, 3))]
    return step, [*G.parameters(), *D.parameters()], data


def vae(L):
    nn, F = L.nn, L.nn.functional

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(6, 8)
            self.mu = nn.Linear(8, 2)
            self.logvar = nn.Linear(8, 2)
            self.dec = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 6))

        def forward(self, x):
            h = F.relu(self.enc(x))
            mu, logvar = self.mu(h), self.logvar(h)
            std = L.exp(0.5 * logvar)
            z = mu + L.randn_like(std) * std
            return self.dec(z), mu, logvar

    L.manual_seed(0)
    m = VAE()
    opt = L.optim.Adam(m.parameters(), lr=1e-2)

    def step(x):
        opt.zero_grad()
        recon, mu, logvar = m(x)
        rec = F.binary_cross_entropy_with_logits(recon, x, reduction="sum")
        kl = -0.5 * L.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = (rec + kl) / x.shape[0]
        loss.backward()
        opt.step()
        return loss.detach()

    data = [(RNG.random((5, 6)) > 0.5).astype(np.float32)]
    return step, list(m.parameters()), data


def lstm_lm(L, cell="LSTM"):
    nn, F = L.nn, L.nn.functional

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(11, 6)
            self.rnn = getattr(nn, cell)(6, 7, batch_first=True)
            self.out = nn.Linear(7, 11)

        def forward(self, tokens):
            h, _ = self.rnn(self.emb(tokens))
            return self.out(h)

    L.manual_seed(0)
    m = LM()
    opt = L.optim.SGD(m.parameters(), lr=0.5)

    def step(tokens, targets):
        opt.zero_grad()
        logits = m(tokens)
        loss = F.cross_entropy(logits.reshape(-1, 11), targets.reshape(-1))
        loss.backward()
        norm = nn.utils.clip_grad_norm_(m.parameters(), 0.5)
        opt.step()
        return loss.detach(), norm

    tok = RNG.integers(0, 11, (3, 5))
    return step, list(m.parameters()), [tok, np.roll(tok, -1, 1)]


def gru_lm(L):
    return lstm_lm(L, "GRU")


def seq2seq_attention(L):
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    emb = nn.Embedding(9, 5)
    enc = nn.GRU(5, 6, batch_first=True)
    dec = nn.GRUCell(5 + 6, 6)
    out = nn.Linear(6, 9)
    params = [*emb.parameters(), *enc.parameters(), *dec.parameters(), *out.parameters()]
    opt = L.optim.Adam(params, lr=1e-2)

    def step(src, src_len, tgt):
        opt.zero_grad()
        keys, h = enc(emb(src))
        h = h[0]
        mask = L.arange(src.shape[1])[None, :] >= src_len[:, None]
        loss = 0
        prev = tgt[:, 0]
        for t in range(1, tgt.shape[1]):
            scores = (keys @ h.unsqueeze(2)).squeeze(2).masked_fill(mask, float("-inf"))
            attn = F.softmax(scores, dim=1)
            ctx = (attn.unsqueeze(2) * keys).sum(1)
            h = dec(L.cat([emb(prev), ctx], 1), h)
            loss = loss + F.cross_entropy(out(h), tgt[:, t])
            prev = tgt[:, t]
        loss.backward()
        opt.step()
        return loss.detach()

    src = RNG.integers(0, 9, (3, 4))
    return step, params, [src, np.array([4, 2, 3]), RNG.integers(0, 9, (3, 4))]


def embedding_bag(L):
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    bag = nn.EmbeddingBag(20, 6, mode="mean")
    fc = nn.Linear(6, 3)
    params = [*bag.parameters(), *fc.parameters()]
    opt = L.optim.SGD(params, lr=0.3, momentum=0.9)

    def step(text, offsets, label):
        opt.zero_grad()
        loss = F.cross_entropy(fc(bag(text, offsets)), label)
        loss.backward()
        opt.step()
        return loss.detach()

    return step, params, [RNG.integers(0, 20, (10,)), np.array([0, 3, 7]), np.array([0, 2, 1])]


def dropout_train_eval(L):
    nn, F = L.nn, L.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(5, 8), nn.Linear(8, 2)

        def forward(self, x):
            return self.b(F.dropout(F.relu(self.a(x)), 0.4, training=self.training))

    L.manual_seed(0)
    m = Net()
    opt = L.optim.SGD(m.parameters(), lr=0.1)

    def step(x, y):
        m.train()
        opt.zero_grad()
        loss = F.mse_loss(m(x), y)
        loss.backward()
        opt.step()
        m.eval()
        with L.no_grad():
            val = F.mse_loss(m(x), y)
        return loss.detach(), val

    return step, list(m.parameters()), [RNG.standard_normal((4, 5)), RNG.standard_normal((4, 2))]


def batchnorm_stats(L):
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1))
    opt = L.optim.SGD(m.parameters(), lr=0.1)

    def step(x, y):
        m.train()
        opt.zero_grad()
        loss = F.mse_loss(m(x), y)
        loss.backward()
        opt.step()
        m.eval()
        with L.no_grad():
            ev = m(x).sum()
        return loss.detach(), ev

    return (
        step,
        [*m.parameters(), *m.buffers()],
        [RNG.standard_normal((6, 3)), RNG.standard_normal((6, 1))],
    )


def gradient_penalty(L):
    nn = L.nn
    L.manual_seed(0)
    D = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = L.optim.Adam(D.parameters(), lr=1e-2, betas=(0.0, 0.9))

    def step(real, fake, alpha):
        opt.zero_grad()
        interp = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        (g,) = L.autograd.grad(D(interp).sum(), interp, create_graph=True)
        gp = ((g.norm(2, dim=1) - 1) ** 2).mean()
        loss = D(fake).mean() - D(real).mean() + 10 * gp
        loss.backward()
        opt.step()
        return loss.detach(), gp.detach()

    return (
        step,
        list(D.parameters()),
        [RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3)), RNG.random((5, 1))],
    )


def custom_function(L):
    nn = L.nn

    class ClampGrad(L.autograd.Function):
        @staticmethod
        def forward(ctx, x, bound):
            ctx.save_for_backward(x)
            ctx.bound = bound
            return x.tanh() * 2

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return (g * 2 * (1 - x.tanh() ** 2)).clamp(-ctx.bound, ctx.bound), None

    L.manual_seed(0)
    lin = nn.Linear(4, 3)
    opt = L.optim.SGD(lin.parameters(), lr=0.2)

    def step(x):
        opt.zero_grad()
        loss = ClampGrad.apply(lin(x), 0.3).pow(2).sum()
        loss.backward()
        opt.step()
        return loss.detach()

    return step, list(lin.parameters()), [RNG.standard_normal((4, 4))]


def checkpointed(L):
    nn = L.nn
    cp = import_module(L.__name__ + ".utils.checkpoint")
    L.manual_seed(0)
    block = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 4))
    head = nn.Linear(4, 1)
    params = [*block.parameters(), *head.parameters()]
    opt = L.optim.SGD(params, lr=0.1)

    def step(x):
        opt.zero_grad()
        h = cp.checkpoint(block, x, use_reentrant=False)
        loss = head(h + x).pow(2).mean()
        loss.backward()
        opt.step()
        return loss.detach()

    return step, params, [RNG.standard_normal((3, 4))]


def weight_tying(L):
    nn, F = L.nn, L.nn.functional

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 6)
            self.proj = nn.Linear(6, 10, bias=False)
            self.proj.weight = self.emb.weight

        def forward(self, t):
            return self.proj(self.emb(t).tanh())

    L.manual_seed(0)
    m = Tied()
    opt = L.optim.Adam(m.parameters(), lr=1e-2)

    def step(t, y):
        opt.zero_grad()
        loss = F.cross_entropy(m(t).reshape(-1, 10), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss.detach()

    return step, list(m.parameters()), [RNG.integers(0, 10, (2, 3)), RNG.integers(0, 10, (2, 3))]


def grad_accumulation(L):
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 6), nn.SiLU(), nn.Linear(6, 1))
    opt = L.optim.SGD(m.parameters(), lr=0.1, momentum=0.5)
    sched = L.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for k in range(2):
            loss = F.mse_loss(m(x[k * 2 : k * 2 + 2]), y[k * 2 : k * 2 + 2]) / 2
            loss.backward()
            total = total + loss.detach()
        opt.step()
        sched.step()
        return total

    return step, list(m.parameters()), [RNG.standard_normal((4, 4)), RNG.standard_normal((4, 1))]


def inplace_activations(L):
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    a, b = nn.Linear(4, 6), nn.Linear(6, 2)
    params = [*a.parameters(), *b.parameters()]
    opt = L.optim.SGD(params, lr=0.1)

    def step(x):
        opt.zero_grad()
        h = a(x)
        h.mul_(2).add_(0.5)
        h = F.relu(h, inplace=True)
        out = b(h)
        out.sigmoid_()
        loss = out.pow(2).sum()
        loss.backward()
        opt.step()
        return loss.detach()

    return step, params, [RNG.standard_normal((3, 4))]


def logging_and_control_flow(L):
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    m = nn.Linear(3, 1)
    opt = L.optim.SGD(m.parameters(), lr=0.1)
    log = []

    def step(x, y):
        opt.zero_grad()
        loss = F.mse_loss(m(x), y)
        log.append(loss.item())
        if loss > 0.5:  # Python control flow on a tensor value
            loss = loss * 2
        loss.backward()
        opt.step()
        with L.no_grad():
            acc = (m(x).sign() == y.sign()).float().mean()
        return loss.detach(), acc

    return step, list(m.parameters()), [RNG.standard_normal((5, 3)), RNG.standard_normal((5, 1))]


def manual_sgd_ema(L):
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 1))
    ema = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 1))
    ema.load_state_dict(m.state_dict())

    def step(x, y):
        m.zero_grad()
        loss = F.smooth_l1_loss(m(x), y)
        loss.backward()
        with L.no_grad():
            for p in m.parameters():
                p.data.add_(p.grad, alpha=-0.1)
            for pe, p in zip(ema.parameters(), m.parameters(), strict=True):
                pe.mul_(0.9).add_(p, alpha=0.1)
        return loss.detach()

    return (
        step,
        [*m.parameters(), *ema.parameters()],
        [RNG.standard_normal((4, 4)), RNG.standard_normal((4, 1))],
    )


def transformer_layer(L):
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
    head = nn.Linear(8, 3)
    params = [*layer.parameters(), *head.parameters()]
    opt = L.optim.SGD(params, lr=0.1)  # (Adam would amplify the float noise of the key
    # bias's zero gradient: softmax ignores it)

    def step(x, pad, y):
        opt.zero_grad()
        h = layer(x, src_key_padding_mask=pad)
        h = h.masked_fill(pad.unsqueeze(-1), 0.0).sum(1) / (~pad).sum(1, keepdim=True)
        loss = F.cross_entropy(head(h), y, label_smoothing=0.1)
        loss.backward()
        opt.step()
        return loss.detach()

    pad = np.array([[False, False, False, True], [False, False, True, True]])
    return step, params, [RNG.standard_normal((2, 4, 8)), pad, np.array([1, 2])]


def hooks_and_retain(L):
    nn = L.nn
    L.manual_seed(0)
    a, b = nn.Linear(3, 4), nn.Linear(4, 2)
    params = [*a.parameters(), *b.parameters()]
    opt = L.optim.SGD(params, lr=0.1)

    def step(x):
        opt.zero_grad()
        h = a(x).tanh()
        h.register_hook(lambda g: g.clamp(-0.05, 0.05))
        loss = b(h).pow(2).sum()
        loss.backward(retain_graph=True)
        (loss * 0.5).backward()
        nn.utils.clip_grad_value_(params, 0.2)
        opt.step()
        return loss.detach()

    return step, params, [RNG.standard_normal((5, 3))]


def cosine_schedule_amsgrad(L):
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    m = nn.Linear(4, 2)
    opt = L.optim.Adam(m.parameters(), lr=0.05, amsgrad=True, weight_decay=0.01)
    sched = L.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5)

    def step(x, y):
        loss = F.nll_loss(F.log_softmax(m(x), 1), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        sched.step()
        return loss.detach()

    return step, list(m.parameters()), [RNG.standard_normal((6, 4)), RNG.integers(0, 2, (6,))]


def multihead_attention(L):
    nn = L.nn
    L.manual_seed(0)
    mha = nn.MultiheadAttention(6, 2, batch_first=True)
    opt = L.optim.SGD(mha.parameters(), lr=0.1)

    def step(q, kv, mask):
        opt.zero_grad()
        out, w = mha(q, kv, kv, key_padding_mask=mask)
        loss = out.pow(2).mean() + w.max()
        loss.backward()
        opt.step()
        return loss.detach()

    mask = np.array([[False, False, True], [False, False, False]])
    return (
        step,
        list(mha.parameters()),
        [RNG.standard_normal((2, 2, 6)), RNG.standard_normal((2, 3, 6)), mask],
    )


def early_exit_nonfinite(L):
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    m = nn.Linear(3, 1)
    opt = L.optim.SGD(m.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = F.mse_loss(m(x), y)
        if not L.isfinite(loss):
            return loss.detach(), L.zeros(())
        loss.backward()
        gn = L.stack([p.grad.norm() for p in m.parameters()]).norm()
        opt.step()
        return loss.detach(), gn

    return step, list(m.parameters()), [RNG.standard_normal((4, 3)), RNG.standard_normal((4, 1))]


def seeded_inside_and_dict(L):
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    m = nn.Linear(4, 4)
    opt = L.optim.SGD(m.parameters(), lr=0.1)

    def step(x):
        L.manual_seed(7)
        opt.zero_grad()
        noisy = x + 0.1 * L.randn_like(x)
        loss = F.mse_loss(m(noisy), x)
        loss.backward()
        opt.step()
        out = {"loss": loss.detach(), "noise": (noisy - x).abs().mean()}
        return out["loss"], out["noise"]

    return step, list(m.parameters()), [RNG.standard_normal((3, 4))]


def conv_classifier(L):
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    m = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.BatchNorm2d(3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(3 * 3 * 3, 4),
    )
    opt = L.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, nesterov=True)

    def step(x, y):
        m.train()
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        return loss.detach()

    return (
        step,
        [*m.parameters(), *m.buffers()],
        [RNG.standard_normal((4, 1, 6, 6)), RNG.integers(0, 4, (4,))],
    )


def zero_grad_keep_zeros(L):
    nn = L.nn
    L.manual_seed(0)
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    params = [*a.parameters(), *b.parameters()]
    opt = L.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.05)

    def step(x):
        opt.zero_grad(set_to_none=False)
        loss = a(x).pow(2).sum() + (b(x).sum() * 0 if x.shape[0] > 100 else 0)
        loss.backward()
        opt.step()
        return loss.detach()

    return step, params, [RNG.standard_normal((4, 3))]


def reinforce_policy(L):
    nn = L.nn
    D = L.distributions
    L.manual_seed(0)
    pi = nn.Linear(3, 2)
    logstd = nn.Parameter(L.zeros(2))
    params = [*pi.parameters(), logstd]
    opt = L.optim.Adam(params, lr=1e-2)

    def step(obs):
        opt.zero_grad()
        dist = D.Normal(pi(obs), logstd.exp())
        act = dist.sample()
        reward = -(act - 0.5).pow(2).sum(1)
        loss = (
            -(dist.log_prob(act).sum(1) * (reward - reward.mean())).mean()
            - 0.01 * dist.entropy().mean()
        )
        loss.backward()
        opt.step()
        return loss.detach(), reward.mean()

    return step, params, [RNG.standard_normal((6, 3))]


def gumbel_and_where(L):
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    m = nn.Linear(4, 3)
    opt = L.optim.SGD(m.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        logits = m(x)
        y = F.gumbel_softmax(logits, tau=0.5, hard=True)
        safe = L.where(x > 0, x.clamp(min=1e-3).log(), L.zeros_like(x))
        loss = (
            (y * logits).sum()
            + L.nan_to_num(safe).sum() * 0.1
            + F.layer_norm(logits, (3,)).pow(2).mean()
        )
        loss.backward()
        opt.step()
        return loss.detach()

    return step, list(m.parameters()), [RNG.standard_normal((5, 4))]


def autocast_bf16(L):
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = L.optim.SGD(m.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        with L.autocast("cpu", dtype=L.bfloat16):
            out = m(x)
        loss = F.mse_loss(out.float(), y)
        loss.backward()
        opt.step()
        return loss.detach()

    return step, list(m.parameters()), [RNG.standard_normal((4, 4)), RNG.standard_normal((4, 2))]


PROGRAMS: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in [
        gan,
        vae,
        lstm_lm,
        gru_lm,
        seq2seq_attention,
        embedding_bag,
        dropout_train_eval,
        batchnorm_stats,
        gradient_penalty,
        custom_function,
        checkpointed,
        weight_tying,
        grad_accumulation,
        inplace_activations,
        logging_and_control_flow,
        manual_sgd_ema,
        transformer_layer,
        hooks_and_retain,
        cosine_schedule_amsgrad,
        multihead_attention,
        early_exit_nonfinite,
        seeded_inside_and_dict,
        conv_classifier,
        zero_grad_keep_zeros,
        reinforce_policy,
        gumbel_and_where,
        autocast_bf16,
    ]
}
SLOW = {"seq2seq_attention", "transformer_layer", "lstm_lm", "gru_lm", "multihead_attention"}


def _tensors(L: Any, data: list[np.ndarray]) -> list[Any]:
    return [L.tensor(a.astype(np.float32) if a.dtype.kind == "f" else a) for a in data]


def _run(L: Any, make: Callable[..., Any], compiled: bool) -> tuple[list[float], list[Any]]:
    global RNG
    RNG = np.random.default_rng(11)  # (the programs draw their data from it)
    step, state, data = make(L)
    if compiled:
        step = adjit.compile(step)
    outs: list[float] = []
    for i in range(3):
        L.manual_seed(100 + i)  # (dropout masks, VAE noise: the same numbers in each library)
        r = step(*_tensors(L, data))
        outs += [float(v) for v in (r if isinstance(r, tuple) else (r,))]
    return outs, [t.detach().numpy().copy() for t in state]


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in PROGRAMS]
)
def test_training_program(name: str) -> None:
    make = PROGRAMS[name]
    want = _run(torch, make, False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (graph breaks)
        for compiled in (False, True):
            outs, state = _run(adjit, make, compiled)
            np.testing.assert_allclose(outs, want[0], rtol=1e-5, atol=1e-6)
            for got, ref in zip(state, want[1], strict=True):
                np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
