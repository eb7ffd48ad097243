"""PyTorch's module path ``torch.distributions.weibull`` (code in ``.pareto_weibull``)."""

from .pareto_weibull import Weibull

__all__ = ["Weibull"]
