"""``Laplace(loc, scale)``: the double exponential, reparameterized through a uniform draw."""

from __future__ import annotations

from typing import Any

import adjit
from adjit.runtime.tensor import Tensor

from ._loc_scale import LocScale
from .distribution import Distribution
from .utils import EMPTY_SHAPE

__all__ = ["Laplace"]


class Laplace(LocScale, Distribution):
    """Laplace distribution with location ``loc`` and scale ``scale``."""

    def expand(self, batch_shape: Any, _instance: Any = None) -> Laplace:
        return self._expand_attrs(Laplace, batch_shape, _instance, "loc", "scale")

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        return 2 * self.scale.pow(2)

    @property
    def stddev(self) -> Tensor:
        return (2**0.5) * self.scale

    def rsample(self, sample_shape: Any = EMPTY_SHAPE) -> Tensor:
        shape = self._extended_shape(sample_shape)
        eps = adjit.finfo(self.loc.dtype).eps
        u = adjit.empty(shape, dtype=self.loc.dtype, device=self.loc.device).uniform_(eps - 1, 1)
        return self.loc - self.scale * u.sign() * adjit.log1p(-u.abs())

    def log_prob(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return -adjit.log(2 * self.scale) - adjit.abs(value - self.loc) / self.scale

    def cdf(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 - 0.5 * (value - self.loc).sign() * adjit.expm1(
            -(value - self.loc).abs() / self.scale
        )

    def icdf(self, value: Any) -> Tensor:
        term = value - 0.5
        return self.loc - self.scale * term.sign() * adjit.log1p(-2 * term.abs())

    def entropy(self) -> Tensor:
        return 1 + adjit.log(2 * self.scale)
