"""``biject_to`` and ``transform_to``: from a constraint to a transform whose codomain it is
(PyTorch's ``torch.distributions.constraint_registry``), for constrained optimization and
reparameterized variational families."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import constraints, transforms
from .utils import NUMBER

__all__ = ["ConstraintRegistry", "biject_to", "transform_to"]


class ConstraintRegistry:
    """A registry from constraint types to transform factories."""

    def __init__(self) -> None:
        self._registry: dict[type, Callable[[Any], transforms.Transform]] = {}
        super().__init__()

    def register(self, constraint: Any, factory: Any = None) -> Any:
        """Register ``factory(constraint) -> Transform`` for a Constraint subclass or instance
        (a decorator when ``factory`` is omitted)."""
        if factory is None:
            return lambda factory: self.register(constraint, factory)
        if isinstance(constraint, constraints.Constraint):
            constraint = type(constraint)
        if not isinstance(constraint, type) or not issubclass(constraint, constraints.Constraint):
            raise TypeError(
                "Expected constraint to be either a Constraint subclass or instance, "
                f"but got {constraint}"
            )
        self._registry[constraint] = factory
        return factory

    def __call__(self, constraint: Any) -> transforms.Transform:
        try:
            factory = self._registry[type(constraint)]
        except KeyError:
            raise NotImplementedError(
                f"Cannot transform {type(constraint).__name__} constraints"
            ) from None
        return factory(constraint)


biject_to = ConstraintRegistry()
transform_to = ConstraintRegistry()


def _identity(constraint: Any) -> transforms.Transform:
    return transforms.identity_transform


def _independent(registry: ConstraintRegistry) -> Callable[[Any], transforms.Transform]:
    def factory(constraint: Any) -> transforms.Transform:
        base_transform = registry(constraint.base_constraint)
        return transforms.IndependentTransform(base_transform, constraint.reinterpreted_batch_ndims)

    return factory


def _positive(constraint: Any) -> transforms.Transform:
    return transforms.ExpTransform()


def _greater_than(constraint: Any) -> transforms.Transform:
    return transforms.ComposeTransform(
        [transforms.ExpTransform(), transforms.AffineTransform(constraint.lower_bound, 1)]
    )


def _less_than(constraint: Any) -> transforms.Transform:
    return transforms.ComposeTransform(
        [transforms.ExpTransform(), transforms.AffineTransform(constraint.upper_bound, -1)]
    )


def _interval(constraint: Any) -> transforms.Transform:
    # Handle the special case of the unit interval.
    lower_is_0 = isinstance(constraint.lower_bound, NUMBER) and constraint.lower_bound == 0
    upper_is_1 = isinstance(constraint.upper_bound, NUMBER) and constraint.upper_bound == 1
    if lower_is_0 and upper_is_1:
        return transforms.SigmoidTransform()
    loc = constraint.lower_bound
    scale = constraint.upper_bound - constraint.lower_bound
    return transforms.ComposeTransform(
        [transforms.SigmoidTransform(), transforms.AffineTransform(loc, scale)]
    )


def _cat(registry: ConstraintRegistry) -> Callable[[Any], transforms.Transform]:
    def factory(constraint: Any) -> transforms.Transform:
        parts = [registry(c) for c in constraint.cseq]
        return transforms.CatTransform(parts, constraint.dim, constraint.lengths)

    return factory


def _stack(registry: ConstraintRegistry) -> Callable[[Any], transforms.Transform]:
    def factory(constraint: Any) -> transforms.Transform:
        return transforms.StackTransform([registry(c) for c in constraint.cseq], constraint.dim)

    return factory


BOTH = {  # the factories biject_to and transform_to share, by constraint
    constraints.real: _identity,
    constraints.positive: _positive,
    constraints.nonnegative: _positive,
    constraints.greater_than: _greater_than,
    constraints.greater_than_eq: _greater_than,
    constraints.less_than: _less_than,
    constraints.interval: _interval,
    constraints.half_open_interval: _interval,
    constraints.corr_cholesky: lambda c: transforms.CorrCholeskyTransform(),
}
BIJECT_ONLY = {
    constraints.independent: _independent(biject_to),
    constraints.cat: _cat(biject_to),
    constraints.stack: _stack(biject_to),
    constraints.simplex: lambda c: transforms.StickBreakingTransform(),
}
TRANSFORM_ONLY = {
    constraints.independent: _independent(transform_to),
    constraints.cat: _cat(transform_to),
    constraints.stack: _stack(transform_to),
    constraints.simplex: lambda c: transforms.SoftmaxTransform(),
    constraints.lower_cholesky: lambda c: transforms.LowerCholeskyTransform(),
    constraints.positive_definite: lambda c: transforms.PositiveDefiniteTransform(),
    constraints.positive_semidefinite: lambda c: transforms.PositiveDefiniteTransform(),
}
for _constraint, _factory in BOTH.items():
    biject_to.register(_constraint, _factory)
    transform_to.register(_constraint, _factory)
for _constraint, _factory in BIJECT_ONLY.items():
    biject_to.register(_constraint, _factory)
for _constraint, _factory in TRANSFORM_ONLY.items():
    transform_to.register(_constraint, _factory)
