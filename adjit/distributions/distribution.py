"""``Distribution``: the base class of the distributions (shapes, argument and sample
validation, the default ``sample``/``perplexity``/``stddev``, repr), as PyTorch's."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import adjit
from adjit.runtime.tensor import Size, Tensor

from . import constraints
from .utils import EMPTY_SHAPE, lazy_property

__all__ = ["Distribution"]


def _all_true(valid: Any) -> bool:
    return bool(valid.all()) if isinstance(valid, Tensor) else bool(valid)


# Note [validation while tracing]
# PyTorch validates a distribution's parameters (in the constructor) and the values it scores
# (log_prob, cdf) by default: ``if not constraint.check(value).all(): raise ValueError``. Traced,
# that reads a value: a graph break, or fullgraph=True's refusal, in every PPO-style step. So a
# traced condition becomes a run-time check instead (runtime/checks.py, Note [run-time checks]
# in ir/checks.py), threaded through the distribution's traced tensors (its parameters and
# cached properties: what log_prob, entropy and sample read, so the check stays in the
# program): the compiled call raises PyTorch's ValueError when it fails, naming the first
# invalid element where PyTorch prints the whole tensor. A distribution with no traced tensor
# to thread the check through, or whose repr would print a traced one-element parameter, still
# reads the value (a graph break).


def _traced_check(dist: Any, valid: Any, text: str, value: Any) -> bool:
    """Record a traced validity ``valid`` as a run-time check raising ValueError(``text`` and
    the first invalid element of ``value``); False when it is no traced condition (the caller
    checks it now). See the Note."""
    if not getattr(valid, "_is_tracer", False):
        return False
    from adjit.ir.shapes import broadcast_shapes
    from adjit.runtime.checks import check

    names = [k for k, v in vars(dist).items() if isinstance(v, Tensor) and v._is_tracer]
    if not names:
        return False
    ok = valid if valid.dtype is adjit.bool else valid.bool()
    detail = value if isinstance(value, Tensor) else None
    try:
        if detail is not None and broadcast_shapes(ok.shape, detail.shape) != tuple(ok.shape):
            detail = None  # (a condition over whole events: no one element to name)
    except RuntimeError:
        detail = None
    message = text.replace("{", "{{").replace("}", "}}")
    message += "{} (the first of them)" if detail is not None else "(not shown)"
    for k in names:
        dist.__dict__[k] = check(dist.__dict__[k], ok, ValueError, message, detail)
    return True


def _repr_reads_traced(dist: Any) -> bool:
    """Whether ``repr(dist)`` would print a traced value (a one-element parameter)."""
    return any(
        getattr(v, "_is_tracer", False) and v.numel() == 1
        for k, v in vars(dist).items()
        if k in dist.arg_constraints
    )


def _type_name(value: Any) -> str:
    return "Tensor" if getattr(value, "_is_tracer", False) else type(value).__name__


def _refuse_invalid(dist: Any, valid: Any, value: Any, text: Callable[[], str]) -> None:
    """PyTorch's ValueError (``text()`` and ``value``) unless ``valid`` holds everywhere; a
    traced condition becomes a run-time check (Note [validation while tracing]). The text is
    made only when it is needed (its repr of the distribution is not cheap)."""
    traced = getattr(valid, "_is_tracer", False) and not _repr_reads_traced(dist)
    if traced and _traced_check(dist, valid, text(), value):
        return
    if not _all_true(valid):
        raise ValueError(f"{text()}{value}")


class Distribution:
    """Abstract base class for probability distributions.

    Args:
        batch_shape (torch.Size): The shape over which parameters are batched.
        event_shape (torch.Size): The shape of a single sample (without batching).
        validate_args (bool, optional): Whether to validate arguments. Default: None.
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn argument validation on or off by default (on unless run with ``python -O``)."""
        if value not in [True, False]:
            raise ValueError
        Distribution._validate_args = value

    def __init__(
        self,
        batch_shape: Any = EMPTY_SHAPE,
        event_shape: Any = EMPTY_SHAPE,
        validate_args: bool | None = None,
    ) -> None:
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            self._check_args()
        super().__init__()

    def _check_args(self) -> None:
        try:
            arg_constraints = self.arg_constraints
        except NotImplementedError:
            arg_constraints = {}
            warnings.warn(
                f"{self.__class__} does not define `arg_constraints`. "
                + "Please set `arg_constraints = {}` or initialize the distribution "
                + "with `validate_args=False` to turn off validation.",
                stacklevel=3,
            )
        for param, constraint in arg_constraints.items():
            if constraints.is_dependent(constraint):
                continue  # skip constraints that cannot be checked
            if param not in self.__dict__ and isinstance(getattr(type(self), param), lazy_property):
                continue  # skip checking lazily-constructed args
            value = getattr(self, param)
            _refuse_invalid(
                self,
                constraint.check(value),
                value,
                lambda p=param, v=value, c=constraint: (
                    f"Expected parameter {p} ({_type_name(v)} of shape {tuple(v.shape)}) "
                    f"of distribution {repr(self)} to satisfy the constraint {repr(c)}, "
                    "but found invalid values:\n"
                ),
            )

    def expand(self, batch_shape: Any, _instance: Any = None) -> Distribution:
        """A new distribution with batch dims expanded to ``batch_shape`` (parameters expanded,
        not copied; no new argument checks)."""
        raise NotImplementedError

    @property
    def batch_shape(self) -> Size:
        """The shape over which parameters are batched."""
        return self._batch_shape

    @property
    def event_shape(self) -> Size:
        """The shape of a single sample (without batching)."""
        return self._event_shape

    @property
    def arg_constraints(self) -> dict[str, constraints.Constraint]:
        """The constraint each parameter must satisfy."""
        raise NotImplementedError

    @property
    def support(self) -> Any:
        """The constraint describing this distribution's support."""
        raise NotImplementedError

    @property
    def mean(self) -> Tensor:
        """The mean of the distribution."""
        raise NotImplementedError

    @property
    def mode(self) -> Tensor:
        """The mode of the distribution."""
        raise NotImplementedError(f"{self.__class__} does not implement mode")

    @property
    def variance(self) -> Tensor:
        """The variance of the distribution."""
        raise NotImplementedError

    @property
    def stddev(self) -> Tensor:
        """The standard deviation of the distribution."""
        return self.variance.sqrt()

    def sample(self, sample_shape: Any = EMPTY_SHAPE) -> Tensor:
        """A ``sample_shape`` shaped sample (batch of samples), without gradient."""
        with adjit.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape: Any = EMPTY_SHAPE) -> Tensor:
        """A ``sample_shape`` shaped reparameterized sample (differentiable in the parameters)."""
        raise NotImplementedError

    def sample_n(self, n: int) -> Tensor:
        """``n`` samples (deprecated: use ``sample((n,))``)."""
        warnings.warn(
            "`sample_n(n)` will be deprecated. Use `sample((n,))` instead.",
            FutureWarning,
            stacklevel=2,
        )
        return self.sample(Size((n,)))

    def log_prob(self, value: Tensor) -> Tensor:
        """The log of the probability density/mass function at ``value``."""
        raise NotImplementedError

    def cdf(self, value: Tensor) -> Tensor:
        """The cumulative density/mass function at ``value``."""
        raise NotImplementedError

    def icdf(self, value: Tensor) -> Tensor:
        """The inverse cumulative density/mass function at ``value``."""
        raise NotImplementedError

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """All values of a discrete distribution's support along dim 0."""
        raise NotImplementedError

    def entropy(self) -> Tensor:
        """The entropy, batched over ``batch_shape``."""
        raise NotImplementedError

    def perplexity(self) -> Tensor:
        """``exp(entropy)``, batched over ``batch_shape``."""
        return adjit.exp(self.entropy())

    def _extended_shape(self, sample_shape: Any = EMPTY_SHAPE) -> Size:
        """``sample_shape + batch_shape + event_shape``."""
        return Size(tuple(Size(sample_shape)) + self._batch_shape + self._event_shape)

    def _validate_sample(self, value: Any) -> None:
        """PyTorch's checks of a value scored by ``log_prob``/``cdf``: a tensor whose rightmost
        dims match the event shape, broadcastable with the batch shape, inside the support."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        event_dim_start = len(value.size()) - len(self._event_shape)
        if Size(value.size()[event_dim_start:]) != self._event_shape:
            raise ValueError(
                "The right-most size of value must match event_shape: "
                f"{value.size()} vs {self._event_shape}."
            )
        actual_shape = value.size()
        expected_shape = Size(self._batch_shape + self._event_shape)
        for i, j in zip(reversed(actual_shape), reversed(expected_shape), strict=False):
            if i != 1 and j != 1 and i != j:
                raise ValueError(
                    "Value is not broadcastable with batch_shape+event_shape: "
                    f"{actual_shape} vs {expected_shape}."
                )
        try:
            support = self.support
        except NotImplementedError:
            warnings.warn(
                f"{self.__class__} does not define `support` to enable "
                + "sample validation. Please initialize the distribution with "
                + "`validate_args=False` to turn off validation.",
                stacklevel=2,
            )
            return
        if support is None:
            raise AssertionError("support is unexpectedly None")
        _refuse_invalid(
            self,
            support.check(value),
            value,
            lambda: (
                f"Expected value argument ({_type_name(value)} of shape {tuple(value.shape)}) "
                f"to be within the support ({repr(support)}) of the distribution {repr(self)}, "
                "but found invalid values:\n"
            ),
        )

    def _get_checked_instance(self, cls: type, _instance: Any = None) -> Any:
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(
                f"Subclass {self.__class__.__name__} of {cls.__name__} that defines a custom "
                "__init__ method must also define a custom .expand() method."
            )
        return self.__new__(type(self)) if _instance is None else _instance

    def _expand_attrs(self, cls: type, batch_shape: Any, _instance: Any, *names: str) -> Any:
        """PyTorch's ``expand`` for a batch-only ``cls``: a new instance with the attributes
        ``names`` expanded to ``batch_shape`` (each a tensor or a distribution)."""
        new = self._get_checked_instance(cls, _instance)
        batch_shape = Size(batch_shape)
        for name in names:
            setattr(new, name, getattr(self, name).expand(batch_shape))
        # the shapes only: a parameter mixin's __init__ (LocScale's) would want the parameters
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def __repr__(self) -> str:
        param_names = [k for k in self.arg_constraints if k in self.__dict__]
        args = [
            f"{p}: {self.__dict__[p] if self.__dict__[p].numel() == 1 else self.__dict__[p].size()}"
            for p in param_names
        ]
        return self.__class__.__name__ + "(" + ", ".join(args) + ")"
