"""``GeneralizedPareto(loc, scale, concentration)``: the peaks-over-threshold distribution,
sampled by inverting its cdf."""

from __future__ import annotations

import math
from typing import Any

import adjit
from adjit.runtime.tensor import Tensor

from . import constraints
from .distribution import Distribution
from .utils import EMPTY_SHAPE, broadcast_all

__all__ = ["GeneralizedPareto"]


class GeneralizedPareto(Distribution):
    """Generalized Pareto distribution (concentration 0: the exponential tail)."""

    arg_constraints = {
        "loc": constraints.real,
        "scale": constraints.positive,
        "concentration": constraints.real,
    }
    has_rsample = True

    def __init__(
        self, loc: Any, scale: Any, concentration: Any, validate_args: bool | None = None
    ) -> None:
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        super().__init__(self.loc.size(), validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> GeneralizedPareto:
        return self._expand_attrs(
            GeneralizedPareto, batch_shape, _instance, "loc", "scale", "concentration"
        )

    def rsample(self, sample_shape: Any = EMPTY_SHAPE) -> Tensor:
        shape = self._extended_shape(sample_shape)
        u = adjit.rand(shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.icdf(u)

    def _safe_concentration(self) -> tuple[Tensor, Tensor]:
        eq_zero = adjit.isclose(self.concentration, adjit.tensor(0.0))
        safe = adjit.where(eq_zero, adjit.ones_like(self.concentration), self.concentration)
        return eq_zero, safe

    def log_prob(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._safe_concentration()
        y = 1 / safe_conc + adjit.ones_like(z)
        where_nonzero = adjit.where(y == 0, y, y * adjit.log1p(safe_conc * z))
        return -self.scale.log() - adjit.where(eq_zero, z, where_nonzero)

    def log_survival_function(self, value: Any) -> Tensor:
        """``log(1 - cdf(value))``."""
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._safe_concentration()
        where_nonzero = -adjit.log1p(safe_conc * z) / safe_conc
        return adjit.where(eq_zero, -z, where_nonzero)

    def log_cdf(self, value: Any) -> Tensor:
        """``log(cdf(value))``."""
        return adjit.log1p(-adjit.exp(self.log_survival_function(value)))

    def cdf(self, value: Any) -> Tensor:
        return adjit.exp(self.log_cdf(value))

    def icdf(self, value: Any) -> Tensor:
        loc, scale, concentration = self.loc, self.scale, self.concentration
        eq_zero = adjit.isclose(concentration, adjit.zeros_like(concentration))
        safe_conc = adjit.where(eq_zero, adjit.ones_like(concentration), concentration)
        logu = adjit.log1p(-value)
        where_nonzero = loc + scale / safe_conc * adjit.expm1(-safe_conc * logu)
        where_zero = loc - scale * logu
        return adjit.where(eq_zero, where_zero, where_nonzero)

    def _z(self, x: Any) -> Any:
        return (x - self.loc) / self.scale

    @property
    def mean(self) -> Tensor:
        valid = self.concentration < 1
        safe_conc = adjit.where(valid, self.concentration, 0.5)
        result = self.loc + self.scale / (1 - safe_conc)
        return adjit.where(valid, result, math.nan)

    @property
    def variance(self) -> Tensor:
        valid = self.concentration < 0.5
        safe_conc = adjit.where(valid, self.concentration, 0.25)
        result = self.scale**2 / ((1 - safe_conc) ** 2 * (1 - 2 * safe_conc))
        return adjit.where(valid, result, math.nan)

    def entropy(self) -> Tensor:
        ans = adjit.log(self.scale) + self.concentration + 1
        return adjit.broadcast_to(ans, self._batch_shape)

    @property
    def mode(self) -> Tensor:
        return self.loc

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> constraints.Constraint:
        lower = self.loc
        upper = adjit.where(
            self.concentration < 0, lower - self.scale / self.concentration, math.inf
        )
        return constraints.interval(lower, upper)
