"""PyTorch's module path ``torch.distributions.logistic_normal`` (code in ``.kumaraswamy``)."""

from .kumaraswamy import LogisticNormal

__all__ = ["LogisticNormal"]
