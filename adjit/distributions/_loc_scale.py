"""What the real-line ``loc``/``scale`` families (Normal, Laplace, Cauchy) share."""

from __future__ import annotations

from typing import Any

from adjit.runtime.tensor import Tensor

from . import constraints
from .utils import broadcast_all

__all__ = ["LocScale"]


class LocScale:
    """Mixin (before the Distribution base): ``loc`` and ``scale`` broadcast together, their
    shape the batch shape; real support, reparameterized, mode at ``loc``."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True
    loc: Tensor
    scale: Tensor

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.size(), validate_args=validate_args)  # type: ignore[call-arg]

    @property
    def mode(self) -> Tensor:
        return self.loc
