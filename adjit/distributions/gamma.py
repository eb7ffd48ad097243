"""``Gamma(concentration, rate)``: the gamma distribution (shape/rate parameterization)."""

from __future__ import annotations

from typing import Any

import adjit
from adjit.runtime.tensor import Tensor

from . import constraints
from .exp_family import ExponentialFamily
from .utils import EMPTY_SHAPE, broadcast_all

__all__ = ["Gamma"]


class Gamma(ExponentialFamily):
    """Gamma distribution with shape ``concentration`` and ``rate``."""

    arg_constraints = {
        "concentration": constraints.positive,
        "rate": constraints.positive,
    }
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, concentration: Any, rate: Any, validate_args: bool | None = None) -> None:
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.size(), validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Gamma:
        return self._expand_attrs(Gamma, batch_shape, _instance, "concentration", "rate")

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.rate

    @property
    def mode(self) -> Tensor:
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self) -> Tensor:
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape: Any = EMPTY_SHAPE) -> Tensor:
        shape = self._extended_shape(sample_shape)
        value = adjit._standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)
        # PyTorch clamps the values in place, outside autograd: the gradient passes unchanged
        tiny, values = adjit.finfo(value.dtype).tiny, value.detach()
        return adjit.where(values < tiny, value + (tiny - values), value)

    def log_prob(self, value: Any) -> Tensor:
        value = adjit.as_tensor(value, dtype=self.rate.dtype, device=self.rate.device)
        if self._validate_args:
            self._validate_sample(value)
        return (
            adjit.xlogy(self.concentration, self.rate)
            + adjit.xlogy(self.concentration - 1, value)
            - self.rate * value
            - adjit.lgamma(self.concentration)
        )

    def entropy(self) -> Tensor:
        return (
            self.concentration
            - adjit.log(self.rate)
            + adjit.lgamma(self.concentration)
            + (1.0 - self.concentration) * adjit.digamma(self.concentration)
        )

    @property
    def _natural_params(self) -> tuple[Tensor, Tensor]:
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x: Any, y: Any) -> Tensor:
        return adjit.lgamma(x + 1) + (x + 1) * adjit.log(-y.reciprocal())

    def cdf(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return adjit.special.gammainc(self.concentration, self.rate * value)
