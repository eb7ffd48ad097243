"""The fused SGD update (Note [fused updates]) equals PyTorch's in-place ops (emulated, and
torch's own) bit for bit, and refuses (doing nothing) arrays it cannot take."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.codegen.updates import sgd_
from adjit.ir.fp_exact import fma32, fma64

import adjit


def _arrays(dtype, n: int = 1003) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    p, buf, g = (rng.standard_normal(n).astype(dtype) for _ in range(3))
    tiny = np.finfo(dtype).tiny
    specials = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, tiny / 4, -tiny, 1e30], dtype)
    g[: len(specials)] = specials
    buf[3 : 3 + len(specials)] = specials
    p[7 : 7 + len(specials)] = specials
    return p, buf, g


def _numpy(p, buf, g, momentum, dampening, lr):
    """PyTorch's ``buf.mul_(momentum).add_(g, alpha=1 - dampening); p.add_(buf, alpha=-lr)``,
    each add with alpha one fma (Note [add with alpha]), emulated."""
    fma = fma32 if p.dtype == np.float32 else fma64
    t = p.dtype.type
    if buf is not None:
        np.multiply(buf, momentum, out=buf)
        buf[...] = fma(g, t(1 - dampening), buf)
        g = buf
    p[...] = fma(g, t(-lr), p)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("momentum,dampening", [(0.0, 0.0), (0.9, 0.0), (0.9, 0.1)])
def test_fused_step_equals_the_ufunc_passes(dtype, momentum: float, dampening: float) -> None:
    with np.errstate(all="ignore"):
        for shape in [(1003,), (7, 5), (1,)]:
            p, buf, g = (a[: int(np.prod(shape))].reshape(shape) for a in _arrays(dtype))
            buf = None if momentum == 0 else buf
            want = [p.copy(), None if buf is None else buf.copy(), g]
            _numpy(*want, momentum, dampening, 0.1)
            assert sgd_(p, buf, g, momentum, dampening, 0.1)
            np.testing.assert_array_equal(p, want[0])  # NaNs in the same places, same bits
            assert np.array_equal(np.signbit(p), np.signbit(want[0]))
            if buf is not None:
                np.testing.assert_array_equal(buf, want[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("n", [1, 7, 17, 1003, 40001])
def test_fused_step_equals_torch(dtype, n: int) -> None:
    """Three momentum steps of the kernel against torch's own in-place ops, bit for bit."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(n)
    p, buf = (rng.standard_normal(n).astype(dtype) for _ in range(2))
    tp, tbuf = torch.from_numpy(p.copy()), torch.from_numpy(buf.copy())
    for _ in range(3):
        g = rng.standard_normal(n).astype(dtype)
        assert sgd_(p, buf, g, 0.9, 0.1, 0.01)
        tbuf.mul_(0.9).add_(torch.from_numpy(g), alpha=1 - 0.1)
        tp.add_(tbuf, alpha=-0.01)
    raw = f"u{np.dtype(dtype).itemsize}"
    np.testing.assert_array_equal(p.view(raw), tp.numpy().view(raw))
    np.testing.assert_array_equal(buf.view(raw), tbuf.numpy().view(raw))


@pytest.mark.parametrize("case", ["overlap", "strided", "dtypes", "readonly", "shapes", "ints"])
def test_arrays_it_cannot_take_are_left_alone(case: str) -> None:
    p, buf, g = _arrays(np.float32, 24)
    if case == "overlap":
        buf = p[::-1]
    elif case == "strided":
        p = np.ones(48, np.float32)[::2]
    elif case == "dtypes":
        g = g.astype(np.float64)
    elif case == "readonly":
        p.flags.writeable = False
    elif case == "shapes":
        g = g.reshape(4, 6)
    else:
        p, buf, g = (np.arange(24) for _ in range(3))
    before = [a.copy() for a in (p, buf, g)]
    assert not sgd_(p, buf, g, 0.9, 0.0, 0.1)
    for a, b in zip((p, buf, g), before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_sgd_takes_the_fused_step_from_the_second_step_on(monkeypatch) -> None:
    from adjit.codegen import updates

    calls: list[bool] = []
    real = updates.sgd_
    monkeypatch.setattr(updates, "sgd_", lambda *a: calls.append(r := real(*a)) or r)
    w = adjit.nn.Parameter(adjit.ones(4))
    opt = adjit.optim.SGD([w], lr=0.5, momentum=0.5)
    for _ in range(3):
        w.grad = adjit.ones(4)
        opt.step()
    assert calls == [True, True]  # the first step makes the momentum buffer
    # buf: 1, 1.5, 1.75; w: 1 - 0.5 * (1 + 1.5 + 1.75)
    np.testing.assert_array_equal(w.detach().numpy(), np.full(4, 1 - 0.5 * 4.25, np.float32))
