"""``Bernoulli(probs=None, logits=None)``: 1 with probability ``probs``, else 0."""

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
)

__all__ = ["Bernoulli"]


def _bce_with_logits(logits: Tensor, target: Tensor) -> Tensor:
    return adjit.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")


class Bernoulli(ProbsOrLogits, ExponentialFamily):
    """Bernoulli distribution parameterized by ``probs`` or ``logits`` (but not both)."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True
    _mean_carrier_measure = 0

    def __init__(
        self, probs: Any = None, logits: Any = None, validate_args: bool | None = None
    ) -> None:
        self._set_probs_or_logits(probs, logits)
        super().__init__(self._param.size(), validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Bernoulli:
        new = self._expand_attrs(Bernoulli, batch_shape, _instance)
        return self._expand_probs_or_logits(new)

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def mode(self) -> Tensor:
        mode = (self.probs >= 0.5).to(self.probs)
        return adjit.where(self.probs == 0.5, math.nan, mode)

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape: Any = EMPTY_SHAPE) -> Tensor:
        shape = self._extended_shape(sample_shape)
        with adjit.no_grad():
            return adjit.bernoulli(self.probs.expand(shape))

    def log_prob(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -_bce_with_logits(logits, value)

    def entropy(self) -> Tensor:
        return _bce_with_logits(self.logits, self.probs)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        values = adjit.arange(2, dtype=self._param.dtype, device=self._param.device)
        values = values.view((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1,) + tuple(self._batch_shape))
        return values

    @property
    def _natural_params(self) -> tuple[Tensor]:
        return (adjit.logit(self.probs),)

    def _log_normalizer(self, x: Any) -> Tensor:
        return adjit.log1p(adjit.exp(x))
