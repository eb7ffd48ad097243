"""PyTorch's module path ``torch.distributions.chi2`` (code in ``.student_t``)."""

from .student_t import Chi2

__all__ = ["Chi2"]
