"""PyTorch's module path ``torch.distributions.half_cauchy`` (code in ``.half_normal``)."""

from .half_normal import HalfCauchy

__all__ = ["HalfCauchy"]
