"""3x3 stride-1 convolutions and their input gradients by Winograd F(2x2, 3x3) (Note [Winograd
convolutions]), their input and weight gradients: within a rounding bound of float64, and
compiled gradients as eager's and PyTorch's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from adjit.runtime import winograd

import adjit
import adjit.nn.functional as F

STEPS = {"WinogradConv", "WinogradFold", "WinogradWeight"}
_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)
_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])


def _winograd64(x: np.ndarray, w: np.ndarray, bt: np.ndarray, g: np.ndarray, at: np.ndarray
                ) -> np.ndarray:  # fmt: skip
    """F(2x2, 3x3) in float64 with the given transforms: (N, O, H, W)."""
    n, c, h, wd = x.shape
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    tiles = np.lib.stride_tricks.sliding_window_view(p, (4, 4), axis=(2, 3))[:, :, ::2, ::2]
    v = np.einsum("ai,nctsij,bj->nctsab", bt, tiles, bt)
    u = np.einsum("ai,ocij,bj->ocab", g, w, g)
    m = np.einsum("ocab,nctsab->notsab", u, v)
    y = np.einsum("ia,notsab,jb->notsij", at, m, at)
    return y.transpose(0, 1, 2, 4, 3, 5).reshape(n, w.shape[0], h, wd)


def _bound(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """|float32 Winograd - exact| <= gamma_k times the algorithm run on absolute values:
    every output is a sum of products of transformed values, each rounded along a path of at
    most 2 (input transform) + 9 (weight transform) + 1 + C (products, summed in any order)
    + 4 (output transform) operations (Higham's gamma_k = k u / (1 - k u), u = 2^-24)."""
    k = 2 + 9 + 1 + x.shape[1] + 4
    u = 2.0**-24
    gamma = k * u / (1 - k * u)
    return gamma * _winograd64(np.abs(x), np.abs(w), np.abs(_BT), np.abs(_G), np.abs(_AT))


@pytest.mark.parametrize(("n", "c", "o", "h", "w"), [(2, 3, 5, 6, 8), (3, 64, 32, 8, 8)])
def test_convolution_within_the_rounding_bound(n: int, c: int, o: int, h: int, w: int) -> None:
    rng = np.random.default_rng(c)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    k = (rng.standard_normal((o, c, 3, 3)) / 3).astype(np.float32)
    exact = torch.nn.functional.conv2d(
        torch.from_numpy(x).double(), torch.from_numpy(k).double(), padding=1
    ).numpy()
    assert np.allclose(_winograd64(x.astype(float), k.astype(float), _BT, _G, _AT), exact)
    got = _run(x, k)
    bound = _bound(x.astype(float), k.astype(float))
    assert np.all(np.abs(got - exact) <= bound)
    # and the bound is a few ulps of the outputs' scale, not a vacuous one
    assert bound.max() < 2e-4 * np.abs(exact).max()


def _run(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """runtime.winograd.convolve into (N, O, H, W)."""
    n, c, h, w = x.shape
    o = k.shape[0]
    u = winograd.weight_transform(k.reshape(o, -1), o, c, False, np.empty((16, o * c), "f4"))
    out = np.empty((n, o, h, w), np.float32)
    bufs = tuple(np.empty(v.aval.shape, np.float32) for v in _scratch(n, c, o, h, w))
    winograd.convolve(x, u, out.transpose(1, 0, 2, 3), bufs[1:])
    return out


def _scratch(n: int, c: int, o: int, h: int, w: int) -> tuple[adjit.Tensor, ...]:
    return winograd._scratch(n, c, o, h, w, adjit.float32)  # type: ignore[return-value]


def _kinds(cf: object, *args: object) -> set[str]:
    runs = adjit.explain(cf, *args)._executables()
    return {type(s).__name__ for _, ex in runs for s in ex.steps}


def _nets() -> tuple[torch.nn.Module, adjit.nn.Module]:
    torch.manual_seed(0)
    layers = [torch.nn.Conv2d(6, 16, 3, padding=1), torch.nn.ReLU(),
              torch.nn.Conv2d(16, 12, 3, padding=1), torch.nn.Tanh()]  # fmt: skip
    tm = torch.nn.Sequential(*layers)
    am = adjit.nn.Sequential(
        adjit.nn.Conv2d(6, 16, 3, padding=1), adjit.nn.ReLU(),
        adjit.nn.Conv2d(16, 12, 3, padding=1), adjit.nn.Tanh(),
    )  # fmt: skip
    am.load_state_dict({k: adjit.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, am


@pytest.mark.parametrize(("mode", "chunk_bytes"), [("all", 1 << 22), ("all", 1), ("off", 0)])
def test_compiled_gradients_match_eager_and_torch(monkeypatch: pytest.MonkeyPatch, mode: str,
                                                  chunk_bytes: int) -> None:  # fmt: skip
    # chunk_bytes 1: chunks of 2 images and 1 (Note [Winograd chunks])
    monkeypatch.setenv("ADJIT_WINOGRAD", mode)
    monkeypatch.setattr(winograd, "CHUNK_BYTES", chunk_bytes)
    tm, am = _nets()
    xn = np.random.default_rng(1).standard_normal((3, 6, 8, 10)).astype(np.float32)
    tx = torch.tensor(xn, requires_grad=True)
    (tm(tx) ** 2).sum().backward()
    ax = adjit.tensor(xn, requires_grad=True)
    (am(ax) ** 2).sum().backward()
    eager = [ax.grad.numpy().copy(), *(p.grad.numpy().copy() for p in am.parameters())]

    def loss(x: adjit.Tensor) -> adjit.Tensor:
        return (am(x) ** 2).sum()

    cf = adjit.compile(loss)
    for _ in range(2):  # the second call reuses the planned buffers
        ax.grad = None
        am.zero_grad()
        cf(ax).backward()
        got = [ax.grad.numpy(), *(p.grad.numpy() for p in am.parameters())]
        want = [tx.grad.numpy(), *(p.grad.numpy() for p in tm.parameters())]
        for a, b, e in zip(got, want, eager, strict=True):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5 * np.abs(b).max())
            np.testing.assert_allclose(a, e, rtol=2e-5, atol=2e-5 * np.abs(e).max())
    kinds = _kinds(cf, ax)
    assert (kinds >= STEPS) == (mode == "all")
    assert not kinds & STEPS or mode == "all"


def test_float64_and_other_windows_keep_the_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADJIT_WINOGRAD", "all")
    rng = np.random.default_rng(2)
    for dtype, stride, padding, size in [
        (np.float64, 1, 1, 8), (np.float32, 2, 1, 8), (np.float32, 1, 0, 8),
        (np.float32, 1, 1, 7),
    ]:  # fmt: skip
        x = adjit.tensor(rng.standard_normal((2, 4, size, size)).astype(dtype), requires_grad=True)
        w = adjit.tensor(rng.standard_normal((5, 4, 3, 3)).astype(dtype), requires_grad=True)

        def f(x: adjit.Tensor, w: adjit.Tensor, s: int = stride, p: int = padding) -> adjit.Tensor:
            return F.conv2d(x, w, stride=s, padding=p).sum()

        cf = adjit.compile(f)
        cf(x, w).backward()
        assert not _kinds(cf, x, w) & STEPS


def test_auto_takes_the_large_shapes() -> None:
    # VGG-11 b8 at 64x64: its 32x32 to 8x8 layers; not its 4x4 ones, nor resnet18's 3x3 layers
    # (Note [Winograd convolutions]); odd maps never
    vgg = [(64, 128, 32), (128, 256, 16), (256, 256, 16), (256, 512, 8), (512, 512, 8)]
    assert all(winograd.takes(8, c, o, s, s, "auto") for c, o, s in vgg)
    assert all(winograd.takes(8, o, c, s, s, "auto") for c, o, s in vgg)  # input gradients
    small = [(512, 512, 4), (64, 64, 16), (128, 128, 8), (256, 256, 4), (512, 512, 2), (3, 64, 64)]
    assert not any(winograd.takes(8, c, o, s, s, "auto") for c, o, s in small)
    assert winograd.takes(1, 1, 1, 2, 4, "all") and not winograd.takes(1, 1, 1, 3, 4, "all")
    assert not winograd.takes(8, 64, 128, 32, 32, "off")


@pytest.mark.parametrize("threads", [1, 2])
def test_auto_at_any_thread_count(monkeypatch: pytest.MonkeyPatch, threads: int) -> None:
    # Note [Winograd at several threads]: compiled for one thread or for two
    monkeypatch.setenv("ADJIT_WINOGRAD", "auto")
    rng = np.random.default_rng(3)
    x = adjit.tensor(rng.standard_normal((8, 64, 32, 32)).astype(np.float32), requires_grad=True)
    w = adjit.tensor(rng.standard_normal((128, 64, 3, 3)).astype(np.float32), requires_grad=True)

    def f(x: adjit.Tensor, w: adjit.Tensor) -> adjit.Tensor:
        return F.conv2d(x, w, padding=1).square().sum()

    before = adjit.get_num_threads()
    adjit.set_num_threads(threads)
    try:
        cf = adjit.compile(f)
        cf(x, w).backward()
        kinds = _kinds(cf, x, w)
    finally:
        adjit.set_num_threads(before)
    assert kinds >= STEPS


def test_bad_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADJIT_WINOGRAD", "always")
    with pytest.raises(RuntimeError, match="ADJIT_WINOGRAD must be one of auto, all, off"):
        winograd.mode()


def test_blocks_of_output_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    # blocks of 5 output channels (Note [Winograd blocks]): 64 -> 32 in 7 blocks, the last of 2,
    # within the rounding bound; the input gradient's weight planes of a block as the whole
    # weight's; compiled gradients through blocks and chunks as unblocked, eager and PyTorch
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 64, 8, 8)).astype(np.float32)
    k = (rng.standard_normal((32, 64, 3, 3)) / 3).astype(np.float32)
    whole = _run(x, k)
    monkeypatch.setattr(winograd, "BLOCK_BYTES", 1)
    monkeypatch.setattr(winograd, "BLOCK_ROWS", 5)
    assert winograd.block(32, 64) == 5 and _scratch(3, 64, 32, 8, 8)[2].aval.shape[1] < 16 * 3 * 32
    got = _run(x, k)
    exact = torch.nn.functional.conv2d(
        torch.from_numpy(x).double(), torch.from_numpy(k).double(), padding=1
    ).numpy()
    assert np.all(np.abs(got - exact) <= _bound(x.astype(float), k.astype(float)))
    np.testing.assert_allclose(got, whole, rtol=1e-6, atol=1e-6 * np.abs(whole).max())
    w2 = k.reshape(32, -1)
    full = winograd.weight_transform(w2, 32, 64, True, np.empty((16, 32 * 64), "f4"))
    for threads in (1, 2, 3):  # a block's columns read in place, rows cut across threads
        part = winograd.flipped_block(w2, 10, 15, np.empty((16, 5 * 32), "f4"), threads)
        np.testing.assert_array_equal(part, full.transpose(0, 2, 1)[:, 10:15])
    grads = {}
    for rows, chunk_bytes in [(1 << 20, 1 << 30), (5, 1), (3, 1 << 30)]:
        monkeypatch.setattr(winograd, "BLOCK_ROWS", rows)
        monkeypatch.setattr(winograd, "CHUNK_BYTES", chunk_bytes)
        grads[rows, chunk_bytes] = _compiled_grads(monkeypatch)
    for got_grads in list(grads.values())[1:]:
        for a, b in zip(got_grads, grads[1 << 20, 1 << 30], strict=True):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5 * np.abs(b).max())


def _compiled_grads(monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """The compiled input and parameter gradients of ``_nets``'s loss, checked against
    PyTorch's and eager's; they went by Winograd."""
    monkeypatch.setenv("ADJIT_WINOGRAD", "all")
    tm, am = _nets()
    xn = np.random.default_rng(1).standard_normal((3, 6, 8, 10)).astype(np.float32)
    tx = torch.tensor(xn, requires_grad=True)
    (tm(tx) ** 2).sum().backward()
    ax = adjit.tensor(xn, requires_grad=True)

    def loss(x: adjit.Tensor) -> adjit.Tensor:
        return (am(x) ** 2).sum()

    cf = adjit.compile(loss)
    cf(ax).backward()
    got = [ax.grad.numpy().copy(), *(p.grad.numpy().copy() for p in am.parameters())]
    want = [tx.grad.numpy(), *(p.grad.numpy() for p in tm.parameters())]
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5 * np.abs(b).max())
    assert _kinds(cf, ax) >= STEPS
    return got


@pytest.mark.parametrize(("rows", "chunk_bytes"), [(1 << 20, 1 << 30), (5, 1 << 30), (5, 1)])
@pytest.mark.parametrize("count", [1, 2, 3])
def test_steps_on_threads_match_torch_and_repeat(monkeypatch: pytest.MonkeyPatch, count: int,
                                                 rows: int, chunk_bytes: int) -> None:  # fmt: skip
    # Note [Winograd steps on threads]: at 2 and 3 threads each input transform (by images),
    # output and gradient transform (by channels) and the products (by planes) are cut into
    # that many pieces: one chunk of 5 images and one block, blocks of 5 channels (the last of
    # 1), chunks of 2 images and 1 (a weight gradient's later chunk added); PyTorch's values,
    # the same bits each call and as one thread's
    monkeypatch.setenv("ADJIT_WINOGRAD", "all")
    monkeypatch.setenv("ADJIT_BLAS", "mkl")  # one library at every thread count (Note [BLAS
    # by measurement]: the timed choice is made at one thread only)
    monkeypatch.setattr(winograd, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(winograd, "BLOCK_ROWS", rows)
    monkeypatch.setattr(winograd, "BLOCK_BYTES", 1)
    cut: list[int] = []
    real = winograd.run_split
    monkeypatch.setattr(
        winograd, "run_split", lambda fn, calls, t: cut.append(len(calls)) or real(fn, calls, t)
    )
    before = adjit.get_num_threads()
    adjit.set_num_threads(count)
    try:
        tm, am = _nets()
        xn = np.random.default_rng(2).standard_normal((5, 6, 8, 10)).astype(np.float32)
        tx = torch.tensor(xn, requires_grad=True)
        (tm(tx) ** 2).sum().backward()
        want = [tx.grad.numpy(), *(p.grad.numpy() for p in tm.parameters())]
        ax = adjit.tensor(xn, requires_grad=True)
        cf = adjit.compile(lambda x: (am(x) ** 2).sum())
        first = None
        for _ in range(3):
            ax.grad = None
            am.zero_grad()
            cf(ax).backward()
            got = [ax.grad.numpy().copy(), *(p.grad.numpy().copy() for p in am.parameters())]
            for a, b in zip(got, want, strict=True):
                np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5 * np.abs(b).max())
            first = first or got
            assert all(np.array_equal(a, b) for a, b in zip(got, first, strict=True))
        assert _kinds(cf, ax) >= STEPS
        adjit.set_num_threads(1)
        ax.grad = None
        am.zero_grad()
        cf(ax).backward()
        alone = [ax.grad.numpy(), *(p.grad.numpy() for p in am.parameters())]
        # One thread's values, to rounding (the bound against PyTorch's order): on the Xeon
        # these were the same bits, on a Zen 4 they differ in the last bits, and not through
        # the Winograd steps' pieces (run in turn on one thread they give the threads' bits;
        # unsplit they still differ), column slots or the BLAS library. Bits across thread
        # counts are not promised (PyTorch's differ too); call to call at one count they are.
        for a, b in zip(alone, first, strict=True):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5 * np.abs(b).max())
    finally:
        adjit.set_num_threads(before)
    assert max(cut) == count if count > 1 else not cut
