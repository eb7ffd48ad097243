"""PyTorch's module path ``torch.distributions.relaxed_categorical`` (code in ``.relaxed``)."""

from .relaxed import ExpRelaxedCategorical, RelaxedOneHotCategorical

__all__ = ["ExpRelaxedCategorical", "RelaxedOneHotCategorical"]
