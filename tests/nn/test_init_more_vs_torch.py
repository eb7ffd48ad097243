"""nn.init dirac_, eye_, orthogonal_, sparse_ side by side with PyTorch: same seed, same values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import adjit

# (name, build(lib) -> initialized tensor, max abs difference allowed)
# orthogonal_ goes through LAPACK QR in both libraries; the float32 Householder arithmetic may
# round differently in the last bit, so it is compared to a few float32 ulps of 1.
CASES: list[tuple[str, Callable[[Any], Any], float]] = [
    ("dirac_3d", lambda L: L.nn.init.dirac_(L.empty(4, 3, 5)), 0.0),
    ("dirac_4d_groups", lambda L: L.nn.init.dirac_(L.empty(6, 2, 3, 3), groups=2), 0.0),
    ("dirac_5d", lambda L: L.nn.init.dirac_(L.empty(2, 3, 2, 3, 4)), 0.0),
    ("eye_wide", lambda L: L.nn.init.eye_(L.empty(3, 5)), 0.0),
    ("eye_tall", lambda L: L.nn.init.eye_(L.empty(5, 2)), 0.0),
    ("orthogonal_wide", lambda L: L.nn.init.orthogonal_(L.empty(4, 6)), 5e-7),
    ("orthogonal_tall_gain", lambda L: L.nn.init.orthogonal_(L.empty(6, 3), gain=2.0), 1e-6),
    ("orthogonal_4d", lambda L: L.nn.init.orthogonal_(L.empty(3, 2, 2, 2)), 5e-7),
    ("orthogonal_f64", lambda L: L.nn.init.orthogonal_(L.empty(5, 5, dtype=L.float64)), 1e-15),
    ("sparse", lambda L: L.nn.init.sparse_(L.empty(10, 4), 0.3), 0.0),
    ("sparse_std", lambda L: L.nn.init.sparse_(L.empty(7, 3), 0.5, std=1.0), 0.0),
]


@pytest.mark.parametrize("name,build,atol", CASES, ids=[c[0] for c in CASES])
def test_same_seed_same_values(name: str, build: Callable[[Any], Any], atol: float) -> None:
    adjit.manual_seed(0)
    ours = build(adjit)
    torch.manual_seed(0)
    theirs = build(torch)
    assert str(ours.dtype) == str(theirs.dtype)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=0, atol=atol)
    # the next draw continues from the same generator state
    np.testing.assert_array_equal(adjit.rand(3).numpy(), torch.rand(3).numpy())


def test_initializers_keep_identity_and_grad_flag() -> None:
    p = adjit.nn.Parameter(adjit.empty(3, 2, 3))
    assert adjit.nn.init.dirac_(p) is p
    assert p.requires_grad and p.grad_fn is None


ERRORS: list[tuple[str, Callable[[Any], Any]]] = [
    ("dirac_2d", lambda L: L.nn.init.dirac_(L.empty(3, 3))),
    ("dirac_groups", lambda L: L.nn.init.dirac_(L.empty(5, 3, 3), groups=2)),
    ("eye_3d", lambda L: L.nn.init.eye_(L.empty(3, 3, 3))),
    ("orthogonal_1d", lambda L: L.nn.init.orthogonal_(L.empty(3))),
    ("sparse_3d", lambda L: L.nn.init.sparse_(L.empty(3, 3, 3), 0.1)),
]


@pytest.mark.parametrize("name,build", ERRORS, ids=[c[0] for c in ERRORS])
def test_error_texts(name: str, build: Callable[[Any], Any]) -> None:
    with pytest.raises(Exception) as theirs:
        build(torch)
    with pytest.raises(type(theirs.value)) as ours:
        build(adjit)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize(
    "name, args",
    [
        ("uniform", ()),
        ("normal", ()),
        ("constant", (0.5,)),
        ("xavier_uniform", ()),
        ("xavier_normal", ()),
        ("kaiming_uniform", ()),
        ("kaiming_normal", ()),
        ("eye", ()),
        ("dirac", ()),
        ("orthogonal", ()),
        ("sparse", (0.5,)),
    ],
)
def test_deprecated_spellings_warn_and_draw_as_torch(name: str, args: tuple) -> None:
    results = []
    for T in (adjit, torch):
        T.manual_seed(0)
        shape = (3, 4, 1) if name == "dirac" else (3, 4)
        with pytest.warns(FutureWarning) as caught:
            out = getattr(T.nn.init, name)(T.empty(shape), *args)
        results.append((str(caught[0].message), out.numpy()))
    assert results[0][0] == results[1][0]
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-6, atol=1e-7)
