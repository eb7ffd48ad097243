"""Adam's in-place array update (Note [in-place updates]) equals its eager-op form bit for bit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import adjit
from adjit.optim.adam import Adam

OPTIONS = [
    dict(weight_decay=w, amsgrad=a, maximize=m, decoupled_weight_decay=d)
    for w, a, m, d in itertools.product((0, 1e-2), (False, True), (False, True), (False, True))
]


def _run(opts: dict, eager: bool, dtype, lr: float) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    p = adjit.tensor(rng.standard_normal((7, 5)).astype(dtype), requires_grad=True)
    opt = Adam([p], lr=lr, betas=(0.3, 0.999), **opts)  # beta1 = 0.3: lerp's other formula
    if eager:
        opt._update_arrays = opt._update_eager  # type: ignore[method-assign]
    for _ in range(4):
        p.grad = adjit.tensor(rng.standard_normal((7, 5)).astype(dtype))
        opt.step()
    state = opt.state[p]
    return [p.detach().numpy().copy()] + [
        state[k].numpy().copy()
        for k in ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
        if k in state
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("lr", [1e-3, 0.2])
@pytest.mark.parametrize("opts", OPTIONS, ids=str)
def test_inplace_update_equals_eager_ops(opts: dict, dtype, lr: float) -> None:
    for a, b in zip(_run(opts, False, dtype, lr), _run(opts, True, dtype, lr), strict=True):
        np.testing.assert_array_equal(a, b)
