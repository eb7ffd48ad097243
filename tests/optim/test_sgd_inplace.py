"""SGD's in-place array update (Note [in-place updates]) equals its eager-op form bit for bit,
bumps version counters, and leaves momentum buffers and parameters as eager ops would."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import adjit
from adjit.optim.sgd import SGD

OPTIONS = [
    dict(momentum=m, dampening=d, nesterov=n, weight_decay=w, maximize=x)
    for m, d, n, w, x in itertools.product(
        (0, 0.9), (0, 0.1), (False, True), (0, 1e-2), (False, True)
    )
    if not (n and (m == 0 or d != 0))
]


def _run(opts: dict, eager: bool, dtype) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    p = adjit.tensor(rng.standard_normal((7, 5)).astype(dtype), requires_grad=True)
    opt = SGD([p], lr=0.1, **opts)
    if eager:
        opt._update_arrays = opt._update_eager  # type: ignore[method-assign]
    for _ in range(3):
        p.grad = adjit.tensor(rng.standard_normal((7, 5)).astype(dtype))
        opt.step()
    buf = opt.state[p].get("momentum_buffer") if p in opt.state else None
    return [p.detach().numpy().copy()] + ([buf.numpy().copy()] if buf is not None else [])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("opts", OPTIONS, ids=str)
def test_inplace_update_equals_eager_ops(opts: dict, dtype) -> None:
    for a, b in zip(_run(opts, False, dtype), _run(opts, True, dtype), strict=True):
        np.testing.assert_array_equal(a, b)


def test_update_bumps_the_version_and_keeps_the_array() -> None:
    p = adjit.tensor(np.ones(3, np.float32), requires_grad=True)
    data, version = p._data, p._version
    p.grad = adjit.tensor(np.ones(3, np.float32))
    SGD([p], lr=0.5).step()
    assert p._data is data and p._version == version + 1  # views of p see the update
    np.testing.assert_array_equal(p.detach().numpy(), np.full(3, 0.5, np.float32))
