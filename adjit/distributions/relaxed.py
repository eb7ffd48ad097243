"""The Concrete / Gumbel-softmax relaxations: ``LogitRelaxedBernoulli`` and
``RelaxedBernoulli``, ``ExpRelaxedCategorical`` and ``RelaxedOneHotCategorical``."""

from __future__ import annotations

from typing import Any

import adjit
from adjit.runtime.tensor import Size, Tensor

from . import constraints
from ._probs_logits import ProbsOrLogits
from .categorical import Categorical
from .distribution import Distribution
from .transformed_distribution import TransformedDistribution, base_param
from .transforms import ExpTransform, SigmoidTransform, Transform
from .utils import (
    EMPTY_SHAPE,
    broadcast_all,
    clamp_probs,
    forwarded,
)

__all__ = [
    "ExpRelaxedCategorical",
    "LogitRelaxedBernoulli",
    "RelaxedBernoulli",
    "RelaxedOneHotCategorical",
]


class LogitRelaxedBernoulli(ProbsOrLogits, Distribution):
    """The logit of a RelaxedBernoulli draw, at ``temperature``."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.real

    def __init__(
        self,
        temperature: Tensor,
        probs: Any = None,
        logits: Any = None,
        validate_args: bool | None = None,
    ) -> None:
        self.temperature = temperature
        self._set_probs_or_logits(probs, logits)
        super().__init__(self._param.size(), validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> LogitRelaxedBernoulli:
        new = self._expand_attrs(LogitRelaxedBernoulli, batch_shape, _instance)
        new.temperature = self.temperature
        return self._expand_probs_or_logits(new)

    def rsample(self, sample_shape: Any = EMPTY_SHAPE) -> Tensor:
        shape = self._extended_shape(sample_shape)
        probs = clamp_probs(self.probs.expand(shape))
        uniforms = clamp_probs(adjit.rand(shape, dtype=probs.dtype, device=probs.device))
        return (
            uniforms.log() - (-uniforms).log1p() + probs.log() - (-probs).log1p()
        ) / self.temperature

    def log_prob(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        diff = logits - value.mul(self.temperature)
        return self.temperature.log() + diff - 2 * diff.exp().log1p()


class _Relaxed(TransformedDistribution):
    """What the two relaxations share: ``_transform`` of a ``_make_base`` draw."""

    has_rsample = True
    _transform: type[Transform]
    temperature = base_param("temperature")
    logits = base_param("logits")
    probs = base_param("probs")

    def __init__(
        self,
        temperature: Tensor,
        probs: Any = None,
        logits: Any = None,
        validate_args: bool | None = None,
    ) -> None:
        base_dist = self._make_base(temperature, probs, logits, validate_args)
        super().__init__(base_dist, self._transform(), validate_args=validate_args)

    @staticmethod
    def _make_base(temperature: Tensor, probs: Any, logits: Any, validate_args: Any) -> Any:
        raise NotImplementedError


class RelaxedBernoulli(_Relaxed):
    """The Concrete relaxation of a Bernoulli: ``sigmoid`` of a LogitRelaxedBernoulli draw."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    base_dist: LogitRelaxedBernoulli
    _transform = SigmoidTransform

    @staticmethod
    def _make_base(temperature: Tensor, probs: Any, logits: Any, validate_args: Any) -> Any:
        return LogitRelaxedBernoulli(temperature, probs, logits)  # as torch: default validation

    def expand(self, batch_shape: Any, _instance: Any = None) -> RelaxedBernoulli:
        new = self._get_checked_instance(RelaxedBernoulli, _instance)
        return super().expand(batch_shape, _instance=new)  # type: ignore[return-value]


class ExpRelaxedCategorical(Distribution):
    """The log of a RelaxedOneHotCategorical draw (Gumbel-softmax scores, log-normalized)."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.real_vector  # The true support is actually a submanifold of this.
    has_rsample = True

    def __init__(
        self,
        temperature: Tensor,
        probs: Any = None,
        logits: Any = None,
        validate_args: bool | None = None,
    ) -> None:
        self._categorical = Categorical(probs, logits)
        self.temperature = temperature
        batch_shape = self._categorical.batch_shape
        event_shape = Size(self._categorical.param_shape[-1:])
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> ExpRelaxedCategorical:
        new = self._get_checked_instance(ExpRelaxedCategorical, _instance)
        batch_shape = Size(batch_shape)
        new.temperature = self.temperature
        new._categorical = self._categorical.expand(batch_shape)
        super(ExpRelaxedCategorical, new).__init__(
            batch_shape, self.event_shape, validate_args=False
        )
        new._validate_args = self._validate_args
        return new

    def _new(self, *args: Any, **kwargs: Any) -> Tensor:
        return self._categorical._new(*args, **kwargs)

    param_shape = forwarded("_categorical", "param_shape")
    logits = forwarded("_categorical", "logits")
    probs = forwarded("_categorical", "probs")

    def rsample(self, sample_shape: Any = EMPTY_SHAPE) -> Tensor:
        shape = self._extended_shape(sample_shape)
        uniforms = clamp_probs(
            adjit.rand(shape, dtype=self.logits.dtype, device=self.logits.device)
        )
        gumbels = -((-(uniforms.log())).log())
        scores = (self.logits + gumbels) / self.temperature
        return scores - scores.logsumexp(dim=-1, keepdim=True)

    def log_prob(self, value: Any) -> Tensor:
        K = self._categorical._num_events
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_scale = adjit.full_like(
            self.temperature, float(K)
        ).lgamma() - self.temperature.log().mul(-(K - 1))
        score = logits - value.mul(self.temperature)
        score = (score - score.logsumexp(dim=-1, keepdim=True)).sum(-1)
        return score + log_scale


class RelaxedOneHotCategorical(_Relaxed):
    """The Gumbel-softmax (Concrete) relaxation of a one-hot categorical, at ``temperature``."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.simplex
    base_dist: ExpRelaxedCategorical
    _transform = ExpTransform

    @staticmethod
    def _make_base(temperature: Tensor, probs: Any, logits: Any, validate_args: Any) -> Any:
        return ExpRelaxedCategorical(temperature, probs, logits, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> RelaxedOneHotCategorical:
        new = self._get_checked_instance(RelaxedOneHotCategorical, _instance)
        return super().expand(batch_shape, _instance=new)  # type: ignore[return-value]
