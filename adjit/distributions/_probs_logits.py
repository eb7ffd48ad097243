"""What the ``probs``-or-``logits`` distributions share: one of the two given, expanded by name."""

from __future__ import annotations

from typing import Any

from adjit.runtime.tensor import Size, Tensor

from .utils import broadcast_all, lazy_property, logits_to_probs, probs_to_logits

__all__ = ["ProbsOrLogits", "expand_probs_or_logits", "one_of_probs_logits"]

# Note [probs or logits in __dict__]
# As in PyTorch, the given parameter is stored in the instance ``__dict__`` and the other one is
# a ``lazy_property`` computed on first use; ``expand`` copies whichever ones the instance holds
# (``"probs" in d.__dict__``), so an expanded distribution computes the same values lazily.


def one_of_probs_logits(probs: Any, logits: Any) -> tuple[str, Any]:
    """The name and value of the one parameter given (PyTorch's error when not exactly one)."""
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")
    return ("probs", probs) if probs is not None else ("logits", logits)


def expand_probs_or_logits(src: Any, new: Any, shape: Size) -> Tensor | None:
    """``new`` gets ``src``'s stored probs/logits expanded to ``shape``; returns the last one."""
    last = None
    for name in ("probs", "logits"):
        if name in src.__dict__:
            last = getattr(src, name).expand(shape)
            setattr(new, name, last)
    return last


class ProbsOrLogits:
    """Mixin: ``probs``/``logits`` lazy properties, ``_param``, ``param_shape`` and ``_new``."""

    _is_binary = True
    _param: Tensor
    total_count: Tensor

    def _set_probs_or_logits(self, probs: Any, logits: Any, *others: Any) -> list[Tensor]:
        """Stores the given one of probs/logits broadcast with ``others`` (returned)."""
        name, given = one_of_probs_logits(probs, logits)
        *broadcast, param = broadcast_all(*others, given)
        setattr(self, name, param)
        self._param = param
        return broadcast

    def _set_total_count(self, total_count: Any, probs: Any, logits: Any) -> Size:
        """Binomial-like: ``total_count`` broadcast with the parameter and in its dtype; returns
        the batch shape."""
        (total_count,) = self._set_probs_or_logits(probs, logits, total_count)
        self.total_count = total_count.type_as(self._param)
        return self._param.size()

    def _expand_probs_or_logits(self, new: Any, shape: Size | None = None) -> Any:
        """``new`` (returned) with this one's probs/logits expanded to ``shape`` (its batch
        shape by default)."""
        new._param = expand_probs_or_logits(self, new, new.batch_shape if shape is None else shape)
        return new

    def _new(self, *args: Any, **kwargs: Any) -> Tensor:
        return self._param.new_empty(*args, **kwargs)

    @lazy_property
    def logits(self) -> Tensor:
        return probs_to_logits(self.probs, is_binary=self._is_binary)

    @lazy_property
    def probs(self) -> Tensor:
        return logits_to_probs(self.logits, is_binary=self._is_binary)

    @property
    def param_shape(self) -> Size:
        return self._param.size()
