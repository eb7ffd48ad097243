"""PyTorch's module path ``torch.distributions.pareto`` (code in ``.pareto_weibull``)."""

from .pareto_weibull import Pareto

__all__ = ["Pareto"]
