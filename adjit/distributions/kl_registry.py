"""The ``kl_divergence`` dispatch (PyTorch's ``torch.distributions.kl`` machinery):
``register_kl`` records a function per pair of types, lookup picks the most specific
registered pair (ordered by subclass) and warns when the orders disagree."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from functools import total_ordering
from typing import Any

import adjit
from adjit.runtime.tensor import Tensor

from .distribution import Distribution

_KL_REGISTRY: dict[tuple[type, type], Callable] = {}  # the registered (type, type) pairs
_KL_MEMOIZE: dict[tuple[type, type], Any] = {}  # the lookups made so far, by exact types

__all__ = ["register_kl", "kl_divergence"]


def register_kl(type_p: type, type_q: type) -> Callable[[Callable], Callable]:
    """Decorator registering a pairwise ``kl_divergence`` function. Lookup returns the most
    specific (type, type) match, ordered by subclass; an ambiguous one warns
    (``RuntimeWarning``): break the tie by registering the pair of subclasses."""
    if not isinstance(type_p, type) and issubclass(type_p, Distribution):
        raise TypeError(f"Expected type_p to be a Distribution subclass but got {type_p}")
    if not isinstance(type_q, type) and issubclass(type_q, Distribution):
        raise TypeError(f"Expected type_q to be a Distribution subclass but got {type_q}")

    def decorator(fun: Callable) -> Callable:
        _KL_REGISTRY[type_p, type_q] = fun
        _KL_MEMOIZE.clear()  # reset since lookup order may have changed
        return fun

    return decorator


@total_ordering
class _Match:
    """A pair of types ordered lexicographically by subclass."""

    __slots__ = ["types"]

    def __init__(self, *types: type) -> None:
        self.types = types

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Match) and self.types == other.types

    def __le__(self, other: _Match) -> bool:
        for x, y in zip(self.types, other.types, strict=True):
            if not issubclass(x, y):
                return False
            if x is not y:
                break
        return True


def _dispatch_kl(type_p: type, type_q: type) -> Any:
    """The most specific registered function for ``(type_p, type_q)``, or NotImplemented."""
    matches = [
        (super_p, super_q)
        for super_p, super_q in _KL_REGISTRY
        if issubclass(type_p, super_p) and issubclass(type_q, super_q)
    ]
    if not matches:
        return NotImplemented
    # Check that the left- and right- lexicographic orders agree.
    left_p, left_q = min(_Match(*m) for m in matches).types
    right_q, right_p = min(_Match(*reversed(m)) for m in matches).types
    left_fun = _KL_REGISTRY[left_p, left_q]
    right_fun = _KL_REGISTRY[right_p, right_q]
    if left_fun is not right_fun:
        warnings.warn(
            f"Ambiguous kl_divergence({type_p.__name__}, {type_q.__name__}). "
            f"Please register_kl({left_p.__name__}, {right_q.__name__})",
            RuntimeWarning,
            stacklevel=2,
        )
    return left_fun


def _infinite_like(tensor: Tensor) -> Tensor:
    return adjit.full_like(tensor, math.inf)


def _x_log_x(tensor: Tensor) -> Tensor:
    return adjit.special.xlogy(tensor, tensor)  # produces correct result for x=0


def _batch_trace_XXT(bmat: Tensor) -> Tensor:
    """The trace of ``X @ X.T`` for each matrix in the batch."""
    n, m = bmat.size(-1), bmat.size(-2)
    flat_trace = bmat.reshape(-1, m * n).pow(2).sum(-1)
    return flat_trace.reshape(bmat.shape[:-2])


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """``KL(p || q) = integral p(x) (log p(x) - log q(x)) dx``, batched over the batch shape.

    Raises NotImplementedError if no function is registered for the two types."""
    try:
        fun = _KL_MEMOIZE[type(p), type(q)]
    except KeyError:
        fun = _dispatch_kl(type(p), type(q))
        _KL_MEMOIZE[type(p), type(q)] = fun
    if fun is NotImplemented:
        raise NotImplementedError(
            f"No KL(p || q) is implemented for p type {p.__class__.__name__} and q type "
            f"{q.__class__.__name__}"
        )
    return fun(p, q)
