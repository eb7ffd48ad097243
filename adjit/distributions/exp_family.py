"""``ExponentialFamily``: distributions of the form ``exp(<t(x), theta> - F(theta) + k(x))``,
whose entropy (and KL within a family) follows from the log normalizer ``F`` by autograd."""

from __future__ import annotations

from typing import Any

import adjit
from adjit.runtime.tensor import Tensor

from .distribution import Distribution

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):
    """Base of exponential-family distributions: ``_natural_params``, ``_log_normalizer`` and
    ``_mean_carrier_measure`` give the entropy through the Bregman divergence."""

    @property
    def _natural_params(self) -> tuple[Tensor, ...]:
        raise NotImplementedError

    def _log_normalizer(self, *natural_params: Any) -> Tensor:
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self) -> float:
        raise NotImplementedError

    def entropy(self) -> Any:
        """Entropy from the log normalizer and its gradient in the natural parameters."""
        result: Any = -self._mean_carrier_measure
        nparams = [p.detach().requires_grad_() for p in self._natural_params]
        lg_normal = self._log_normalizer(*nparams)
        gradients = adjit.autograd.grad(lg_normal.sum(), nparams, create_graph=True)
        result += lg_normal
        for np_, g in zip(nparams, gradients, strict=True):
            result -= (np_ * g).reshape(tuple(self._batch_shape) + (-1,)).sum(-1)
        return result
