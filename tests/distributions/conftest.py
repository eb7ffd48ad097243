"""PyTorch's distributions validate their arguments in every test here, as by default."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _torch_validates() -> Iterator[None]:
    """torch._dynamo turns PyTorch's distribution validation off for the whole process the
    first time torch.compile runs (eval_frame.py: ``set_default_validate_args(False)``), which
    earlier tests in the suite do; the side-by-side tests compare against the default."""
    torch = pytest.importorskip("torch")
    before = torch.distributions.Distribution._validate_args
    torch.distributions.Distribution.set_default_validate_args(True)
    yield
    torch.distributions.Distribution.set_default_validate_args(before)
