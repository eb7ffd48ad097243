"""torch.backends.mha: whether MultiheadAttention and TransformerEncoder(Layer) compute as
PyTorch's fused CPU kernels do in eval mode without gradients (Note [mha fast path])."""

from __future__ import annotations

_is_fastpath_enabled: bool = True


def get_fastpath_enabled() -> bool:
    """Whether the fast path may be taken (when every condition on the inputs holds)."""
    return _is_fastpath_enabled


def set_fastpath_enabled(value: bool) -> None:
    """Enable or disable the fast path."""
    global _is_fastpath_enabled
    _is_fastpath_enabled = value
