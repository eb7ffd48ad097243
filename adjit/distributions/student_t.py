"""``Chi2(df)`` and ``StudentT(df, loc, scale)``: a Gamma(df / 2, 1 / 2), and a normal over the
square root of a chi-squared draw."""

from __future__ import annotations

import math
from typing import Any

import adjit
from adjit.runtime.tensor import Tensor

from . import constraints
from .distribution import Distribution
from .gamma import Gamma
from .utils import EMPTY_SHAPE, _standard_normal, broadcast_all

__all__ = ["Chi2", "StudentT"]


class Chi2(Gamma):
    """Chi-squared distribution with ``df`` degrees of freedom (``Gamma(0.5 * df, 0.5)``)."""

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df: Any, validate_args: bool | None = None) -> None:
        super().__init__(0.5 * df, 0.5, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Chi2:
        new = self._get_checked_instance(Chi2, _instance)
        return super().expand(batch_shape, new)  # type: ignore[return-value]

    @property
    def df(self) -> Tensor:
        return self.concentration * 2


class StudentT(Distribution):
    """Student's t-distribution with ``df`` degrees of freedom, location and scale."""

    arg_constraints = {
        "df": constraints.positive,
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    support = constraints.real
    has_rsample = True

    def __init__(
        self, df: Any, loc: Any = 0.0, scale: Any = 1.0, validate_args: bool | None = None
    ) -> None:
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df)
        super().__init__(self.df.size(), validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> StudentT:
        return self._expand_attrs(StudentT, batch_shape, _instance, "df", "loc", "scale", "_chi2")

    @property
    def mean(self) -> Tensor:
        return adjit.where(self.df <= 1, math.nan, self.loc)

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        finite = self.scale.pow(2) * self.df / (self.df - 2)
        m = adjit.where(self.df > 2, finite, self.df)
        m = adjit.where((self.df <= 2) & (self.df > 1), math.inf, m)
        return adjit.where(self.df <= 1, math.nan, m)

    def rsample(self, sample_shape: Any = EMPTY_SHAPE) -> Tensor:
        shape = self._extended_shape(sample_shape)
        X = _standard_normal(shape, dtype=self.df.dtype, device=self.df.device)
        Z = self._chi2.rsample(sample_shape)
        Y = X * adjit.rsqrt(Z / self.df)
        return self.loc + self.scale * Y

    def log_prob(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        y = (value - self.loc) / self.scale
        Z = (
            self.scale.log()
            + 0.5 * self.df.log()
            + 0.5 * math.log(math.pi)
            + adjit.lgamma(0.5 * self.df)
            - adjit.lgamma(0.5 * (self.df + 1.0))
        )
        return -0.5 * (self.df + 1.0) * adjit.log1p(y**2.0 / self.df) - Z

    def entropy(self) -> Tensor:
        lbeta = adjit.lgamma(0.5 * self.df) + math.lgamma(0.5) - adjit.lgamma(0.5 * (self.df + 1))
        return (
            self.scale.log()
            + 0.5
            * (self.df + 1)
            * (adjit.digamma(0.5 * (self.df + 1)) - adjit.digamma(0.5 * self.df))
            + 0.5 * self.df.log()
            + lbeta
        )
