"""``adjit.signal``: PyTorch's ``torch.signal`` (window functions in ``signal.windows``)."""

from adjit.signal import windows

__all__ = ["windows"]
