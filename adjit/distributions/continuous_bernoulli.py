"""``ContinuousBernoulli(probs=None, logits=None)``: the normalized ``p**x (1-p)**(1-x)`` on
[0, 1], with Taylor expansions near ``p = 1/2`` (inside ``lims``) where the closed forms are
unstable."""

from __future__ import annotations

import math
from typing import Any

import adjit
from adjit.runtime.tensor import Tensor

from . import constraints
from ._probs_logits import ProbsOrLogits
from .exp_family import ExponentialFamily
from .utils import (
    EMPTY_SHAPE,
    broadcast_all,
    clamp_probs,
    lazy_property,
    logits_to_probs,
)

__all__ = ["ContinuousBernoulli"]


class ContinuousBernoulli(ProbsOrLogits, ExponentialFamily):
    """Continuous Bernoulli distribution (Loaiza-Ganem and Cunningham, 2019)."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    _mean_carrier_measure = 0
    has_rsample = True

    def __init__(
        self,
        probs: Any = None,
        logits: Any = None,
        lims: tuple[float, float] = (0.499, 0.501),
        validate_args: bool | None = None,
    ) -> None:
        self._set_probs_or_logits(probs, logits)
        if probs is not None:
            # validate 'probs' here if necessary as it is later clamped for numerical stability
            # close to 0 and 1, later on; otherwise the clamped 'probs' would always pass
            invalid = validate_args is not None and not bool(
                self.arg_constraints["probs"].check(self.probs).all()
            )
            if invalid:
                raise ValueError("The parameter probs has invalid values")
            self.probs = self._param = clamp_probs(self.probs)
        self._lims = lims
        super().__init__(self._param.size(), validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> ContinuousBernoulli:
        new = self._expand_attrs(ContinuousBernoulli, batch_shape, _instance)
        new._lims = self._lims
        return self._expand_probs_or_logits(new)

    def _outside_unstable_region(self) -> Tensor:
        return adjit.max(adjit.le(self.probs, self._lims[0]), adjit.gt(self.probs, self._lims[1]))

    def _cut_probs(self) -> Tensor:
        return adjit.where(
            self._outside_unstable_region(),
            self.probs,
            self._lims[0] * adjit.ones_like(self.probs),
        )

    def _cont_bern_log_norm(self) -> Tensor:
        """The log normalizing constant, with a Taylor expansion around 0.5."""
        cut_probs = self._cut_probs()
        below = adjit.where(adjit.le(cut_probs, 0.5), cut_probs, adjit.zeros_like(cut_probs))
        above = adjit.where(adjit.ge(cut_probs, 0.5), cut_probs, adjit.ones_like(cut_probs))
        log_norm = adjit.log(
            adjit.abs(adjit.log1p(-cut_probs) - adjit.log(cut_probs))
        ) - adjit.where(
            adjit.le(cut_probs, 0.5), adjit.log1p(-2.0 * below), adjit.log(2.0 * above - 1.0)
        )
        x = adjit.pow(self.probs - 0.5, 2)
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
        return adjit.where(self._outside_unstable_region(), log_norm, taylor)

    @property
    def mean(self) -> Tensor:
        cut_probs = self._cut_probs()
        mus = cut_probs / (2.0 * cut_probs - 1.0) + 1.0 / (
            adjit.log1p(-cut_probs) - adjit.log(cut_probs)
        )
        x = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * adjit.pow(x, 2)) * x
        return adjit.where(self._outside_unstable_region(), mus, taylor)

    @property
    def stddev(self) -> Tensor:
        return adjit.sqrt(self.variance)

    @property
    def variance(self) -> Tensor:
        cut_probs = self._cut_probs()
        vars = cut_probs * (cut_probs - 1.0) / adjit.pow(
            1.0 - 2.0 * cut_probs, 2
        ) + 1.0 / adjit.pow(adjit.log1p(-cut_probs) - adjit.log(cut_probs), 2)
        x = adjit.pow(self.probs - 0.5, 2)
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * x) * x
        return adjit.where(self._outside_unstable_region(), vars, taylor)

    @lazy_property
    def probs(self) -> Tensor:
        return clamp_probs(logits_to_probs(self.logits, is_binary=True))

    def sample(self, sample_shape: Any = EMPTY_SHAPE) -> Tensor:
        shape = self._extended_shape(sample_shape)
        u = adjit.rand(shape, dtype=self.probs.dtype, device=self.probs.device)
        with adjit.no_grad():
            return self.icdf(u)

    def rsample(self, sample_shape: Any = EMPTY_SHAPE) -> Tensor:
        shape = self._extended_shape(sample_shape)
        u = adjit.rand(shape, dtype=self.probs.dtype, device=self.probs.device)
        return self.icdf(u)

    def log_prob(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        bce = adjit.nn.functional.binary_cross_entropy_with_logits
        return -bce(logits, value, reduction="none") + self._cont_bern_log_norm()

    def cdf(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        cut_probs = self._cut_probs()
        cdfs = (
            adjit.pow(cut_probs, value) * adjit.pow(1.0 - cut_probs, 1.0 - value) + cut_probs - 1.0
        ) / (2.0 * cut_probs - 1.0)
        unbounded_cdfs = adjit.where(self._outside_unstable_region(), cdfs, value)
        return adjit.where(
            adjit.le(value, 0.0),
            adjit.zeros_like(value),
            adjit.where(adjit.ge(value, 1.0), adjit.ones_like(value), unbounded_cdfs),
        )

    def icdf(self, value: Any) -> Tensor:
        cut_probs = self._cut_probs()
        return adjit.where(
            self._outside_unstable_region(),
            (adjit.log1p(-cut_probs + value * (2.0 * cut_probs - 1.0)) - adjit.log1p(-cut_probs))
            / (adjit.log(cut_probs) - adjit.log1p(-cut_probs)),
            value,
        )

    def entropy(self) -> Tensor:
        log_probs0 = adjit.log1p(-self.probs)
        log_probs1 = adjit.log(self.probs)
        return self.mean * (log_probs0 - log_probs1) - self._cont_bern_log_norm() - log_probs0

    @property
    def _natural_params(self) -> tuple[Tensor]:
        return (self.logits,)

    def _log_normalizer(self, x: Any) -> Tensor:
        """The log normalizer as a function of the natural parameter (Taylor near 0)."""
        out_unst_reg = adjit.max(adjit.le(x, self._lims[0] - 0.5), adjit.gt(x, self._lims[1] - 0.5))
        cut_nat_params = adjit.where(out_unst_reg, x, (self._lims[0] - 0.5) * adjit.ones_like(x))
        log_norm = adjit.log(adjit.abs(adjit.special.expm1(cut_nat_params))) - adjit.log(
            adjit.abs(cut_nat_params)
        )
        taylor = 0.5 * x + adjit.pow(x, 2) / 24.0 - adjit.pow(x, 4) / 2880.0
        return adjit.where(out_unst_reg, log_norm, taylor)
