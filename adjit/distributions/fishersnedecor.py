"""PyTorch's module path ``torch.distributions.fishersnedecor`` (code in ``.inverse_gamma``)."""

from .inverse_gamma import FisherSnedecor

__all__ = ["FisherSnedecor"]
