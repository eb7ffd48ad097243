"""The compiled one-pass Adam/AdamW step (Note [one-pass Adam]) gives the NumPy passes' bits."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.codegen import adam_update

import adjit
from adjit.optim import adam

GRADS = [
    [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, 1e-40, 2.0],
    [1.0, -1.0, 0.5, 3.0, -0.0, 1e-3, 4.0, -2.0],
    [0.0] * 8,
]
SETTINGS = [
    dict(cls="AdamW", lr=1e-3),
    dict(cls="AdamW", lr=0.1, betas=(0.3, 0.5), weight_decay=0.5),  # lerp's other formula
    dict(cls="Adam", lr=1e-2),
    dict(cls="Adam", lr=1e-2, betas=(0.6, 0.9), eps=1e-3),
    dict(cls="AdamW", lr=1e-3, weight_decay=0.0),
]


def _run(settings: dict, one_pass: bool, dtype, monkeypatch) -> tuple[list[bytes], list[int]]:
    taken: list[bool] = []
    real = adam._one_pass

    def counted(*args):
        if not one_pass:
            return False
        taken.append(real(*args))
        return taken[-1]

    monkeypatch.setattr(adam, "_one_pass", counted)
    kw = dict(settings)
    rng = np.random.default_rng(0)
    start = np.array([1.0, -2.0, 0.0, -0.0, 3.0, 1e-30, 5.0, 7.0])
    ps = [adjit.tensor(start.astype(dtype), requires_grad=True)]
    ps.append(adjit.tensor(rng.standard_normal((33, 17)).astype(dtype), requires_grad=True))
    opt = getattr(adjit.optim, kw.pop("cls"))(ps, **kw)
    with np.errstate(all="ignore"):
        for g in GRADS:
            ps[0].grad = adjit.tensor(np.array(g, dtype))
            ps[1].grad = adjit.tensor(rng.standard_normal((33, 17)).astype(dtype))
            opt.step()
    monkeypatch.setattr(adam, "_one_pass", real)
    assert taken == ([True] * 2 * len(GRADS) if one_pass else [])
    out = [p.detach().numpy().tobytes() for p in ps]
    out += [opt.state[p][k].numpy().tobytes() for p in ps for k in ("exp_avg", "exp_avg_sq")]
    return out, [p._version for p in ps]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_one_pass_equals_numpy_passes(settings: dict, dtype, monkeypatch) -> None:
    fast, fast_versions = _run(settings, True, dtype, monkeypatch)
    slow, slow_versions = _run(settings, False, dtype, monkeypatch)
    assert fast == slow  # every bit, NaNs included
    assert fast_versions == slow_versions


def test_not_taken_for_overlapping_or_strided_arrays() -> None:
    a = np.zeros(16, np.float32)
    assert adam_update.supported(a, a.copy(), a.copy(), a.copy())
    assert not adam_update.supported(a, a, a.copy(), a.copy())  # grad is the param
    assert not adam_update.supported(a[::2], a[1::2].copy(), a[::2].copy(), a[::2].copy())
    assert not adam_update.supported(a, a.copy(), a.astype(np.float64), a.copy())
    assert not adam_update.supported(a.astype(np.int32), *(a.astype(np.int32) for _ in range(3)))
