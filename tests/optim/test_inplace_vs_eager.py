"""Each optimizer's in-place array step (Note [in-place updates] in sgd.py) equals its eager-op
step bit for bit, over its options, in float32 and float64."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit

ROWS: list[tuple[str, dict[str, Any]]] = [
    ("Adadelta", {}),
    ("Adadelta", {"rho": 0.5, "weight_decay": 0.1, "maximize": True}),
    ("Adamax", {}),
    ("Adamax", {"betas": (0.3, 0.9), "weight_decay": 0.1, "maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"weight_decay": 0.1, "momentum_decay": 0.1, "maximize": True}),
    ("NAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {}),
    ("RAdam", {"betas": (0.5, 0.8), "weight_decay": 0.1}),
    ("RAdam", {"betas": (0.5, 0.8), "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("ASGD", {}),
    ("ASGD", {"t0": 2, "lambd": 0.1, "weight_decay": 0.1, "maximize": True}),
    ("Rprop", {}),
    ("RMSprop", {}),
    ("RMSprop", {"centered": True, "momentum": 0.9, "weight_decay": 0.1, "maximize": True}),
    ("RMSprop", {"alpha": 0.3, "momentum": 0.5}),
    ("Adagrad", {}),
    (
        "Adagrad",
        {"lr_decay": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.2, "maximize": True},
    ),
    ("Rprop", {"etas": (0.3, 1.5), "step_sizes": (1e-3, 0.05), "maximize": True}),
]


def _run(name: str, kwargs: dict[str, Any], eager: bool, dtype: Any) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    p = adjit.tensor(rng.standard_normal((7, 5)).astype(dtype), requires_grad=True)
    opt = getattr(adjit.optim, name)([p], lr=0.05, **kwargs)
    if eager:
        opt._update_arrays = opt._update_eager  # type: ignore[method-assign]
    for k in range(6):
        p.grad = adjit.tensor((rng.standard_normal((7, 5)) + (k % 2)).astype(dtype))
        opt.step()
    state = opt.state[p]
    return [p.detach().numpy().copy()] + [
        v.numpy().copy() for v in state.values() if isinstance(v, adjit.Tensor)
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize(("name", "kwargs"), ROWS, ids=str)
def test_array_step_equals_eager_step(name: str, kwargs: dict[str, Any], dtype: Any) -> None:
    got = _run(name, kwargs, False, dtype)
    want = _run(name, kwargs, True, dtype)
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
