"""PyTorch's module path ``torch.distributions.studentT`` (code in ``.student_t``)."""

from .student_t import StudentT

__all__ = ["StudentT"]
