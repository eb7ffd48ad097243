"""torch.signal.windows side by side with torch: every window, length, symmetry and dtype,
the keyword variants, requires_grad, and the errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

# window -> (extra keywords, the largest argument its transcendental sees for M <= 17)
# Note [window tolerance]: the positions come from linspace, whose second half PyTorch's
# vectorized kernel computes from either end depending on the CPU's vector width, and the
# waveforms from vectorized exp/cos/sin/i0: values agree to a few ulps of that argument.
WINDOWS: dict[str, tuple[dict[str, Any], float]] = {
    "bartlett": ({}, 1.0),
    "blackman": ({}, 4 * math.pi),
    "cosine": ({}, math.pi),
    "exponential": ({"tau": 3.0}, 17 / 2 / 3.0),
    "gaussian": ({"std": 2.0}, 17 / 2 / (2.0 * math.sqrt(2))),
    "general_cosine": ({"a": [0.46, 0.3, 0.24]}, 4 * math.pi),
    "general_hamming": ({"alpha": 0.6}, 2 * math.pi),
    "hamming": ({}, 2 * math.pi),
    "hann": ({}, 2 * math.pi),
    "kaiser": ({"beta": 8.0}, 8.0),
    "nuttall": ({}, 6 * math.pi),
}


def _window(L: Any, name: str, M: int, sym: bool, dtype: str, **kwargs: Any) -> Any:
    extra = dict(WINDOWS[name][0], **kwargs)
    return getattr(L.signal.windows, name)(M, sym=sym, dtype=getattr(L, dtype), **extra)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(WINDOWS))
def test_window_matches_torch(name: str, dtype: str) -> None:
    eps = np.finfo(dtype).eps
    for M in (0, 1, 2, 5, 10, 17):
        for sym in (True, False):
            ours, theirs = _window(adjit, name, M, sym, dtype), _window(torch, name, M, sym, dtype)
            assert tuple(ours.shape) == tuple(theirs.shape) and str(ours.dtype) == str(theirs.dtype)
            atol = 4 * eps * WINDOWS[name][1]  # Note [window tolerance]
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=4 * eps, atol=atol)


def test_defaults_center_and_requires_grad() -> None:
    for L in (adjit, torch):
        assert str(L.signal.windows.hann(4).dtype) == "torch.float32"
    cases = [
        lambda L: L.signal.windows.exponential(7, sym=False, center=2.5, tau=0.5),
        lambda L: L.signal.windows.kaiser(6),
        lambda L: L.signal.windows.gaussian(6),
        lambda L: L.signal.windows.hann(6, requires_grad=True),
    ]
    for case in cases:
        ours, theirs = case(adjit), case(torch)
        assert ours.requires_grad == theirs.requires_grad
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), atol=1e-6)
    assert list(adjit.signal.windows.__all__) == list(torch.signal.windows.__all__)


@pytest.mark.parametrize(
    "program",
    [
        lambda L: L.signal.windows.hann(-1),
        lambda L: L.signal.windows.hann(4, dtype=L.int64),
        lambda L: L.signal.windows.blackman(4, dtype=L.float16),
        lambda L: L.signal.windows.kaiser(4, layout=L.sparse_coo),
        lambda L: L.signal.windows.exponential(4, tau=0.0),
        lambda L: L.signal.windows.exponential(4, center=1.0),
        lambda L: L.signal.windows.gaussian(4, std=-1.0),
        lambda L: L.signal.windows.kaiser(4, beta=-1.0),
        lambda L: L.signal.windows.general_cosine(4, a=[]),
        lambda L: L.signal.windows.general_cosine(4, a=3),
    ],
)
def test_errors_match_torch(program: Any) -> None:
    with pytest.raises(Exception) as expected:
        program(torch)
    with pytest.raises(type(expected.value)) as got:
        program(adjit)
    assert str(got.value) == str(expected.value)
