"""``NegativeBinomial(total_count, probs=None, logits=None)``: successes before
``total_count`` failures, sampled as a gamma-Poisson mixture."""

from __future__ import annotations

from typing import Any

import adjit
from adjit.runtime.tensor import Tensor

from . import constraints
from ._probs_logits import ProbsOrLogits
from .distribution import Distribution
from .gamma import Gamma
from .utils import EMPTY_SHAPE, lazy_property

__all__ = ["NegativeBinomial"]


class NegativeBinomial(ProbsOrLogits, Distribution):
    """Negative binomial with ``total_count`` failures and success probability ``probs``."""

    arg_constraints = {
        "total_count": constraints.greater_than_eq(0),
        "probs": constraints.half_open_interval(0.0, 1.0),
        "logits": constraints.real,
    }
    support = constraints.nonnegative_integer

    def __init__(
        self,
        total_count: Any,
        probs: Any = None,
        logits: Any = None,
        validate_args: bool | None = None,
    ) -> None:
        batch_shape = self._set_total_count(total_count, probs, logits)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> NegativeBinomial:
        new = self._expand_attrs(NegativeBinomial, batch_shape, _instance, "total_count")
        return self._expand_probs_or_logits(new)

    @property
    def mean(self) -> Tensor:
        return self.total_count * adjit.exp(self.logits)

    @property
    def mode(self) -> Tensor:
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self) -> Tensor:
        return self.mean / adjit.sigmoid(-self.logits)

    @lazy_property
    def _gamma(self) -> Gamma:
        # Note we avoid validating because self.total_count can be zero.
        return Gamma(
            concentration=self.total_count, rate=adjit.exp(-self.logits), validate_args=False
        )

    def sample(self, sample_shape: Any = EMPTY_SHAPE) -> Tensor:
        with adjit.no_grad():
            rate = self._gamma.sample(sample_shape=sample_shape)
            return adjit.poisson(rate)

    def log_prob(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logsigmoid = adjit.nn.functional.logsigmoid
        log_unnormalized_prob = self.total_count * logsigmoid(-self.logits) + value * logsigmoid(
            self.logits
        )
        log_normalization = (
            -adjit.lgamma(self.total_count + value)
            + adjit.lgamma(1.0 + value)
            + adjit.lgamma(self.total_count)
        )
        # The case self.total_count == 0 and value == 0 has probability 1 but
        # lgamma(0) is infinite. Handle this case separately using a function
        # that does not modify tensors in place to allow Jit compilation.
        log_normalization = log_normalization.masked_fill(self.total_count + value == 0.0, 0.0)
        return log_unnormalized_prob - log_normalization
