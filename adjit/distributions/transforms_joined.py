"""Transforms made of others (PyTorch's ``torch.distributions.transforms``): ``CatTransform``
and ``StackTransform`` apply one transform per piece along a dim;
``CumulativeDistributionTransform`` is a distribution's cdf."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import adjit

from . import constraints
from .transforms_base import Transform
from .utils import _sum_rightmost, lazy_property


def _check_dim(dim: int, t: Any, what: str) -> None:
    if not (-t.dim() <= dim < t.dim()):
        raise AssertionError(f"dim {dim} out of range for {what} with {t.dim()} dimensions")


def _check_size(dim: int, t: Any, name: str, expected: int, what: str) -> None:
    if t.size(dim) != expected:
        raise AssertionError(f"{name}.size({dim}) = {t.size(dim)} must equal {what} {expected}")


def _cached(tseq: Sequence[Transform], cache_size: int) -> list[Transform]:
    """The transforms ``tseq`` (checked) with ``cache_size`` when it is not 0."""
    if not all(isinstance(t, Transform) for t in tseq):
        raise AssertionError("All elements of tseq must be Transform instances")
    return [t.with_cache(cache_size) for t in tseq] if cache_size else list(tseq)


class CatTransform(Transform):
    """``tseq[i]`` applied to the i-th piece (of ``lengths[i]``) along ``dim``, concatenated."""

    transforms: list[Transform]

    def __init__(
        self,
        tseq: Sequence[Transform],
        dim: int = 0,
        lengths: Sequence[int] | None = None,
        cache_size: int = 0,
    ) -> None:
        transforms = _cached(tseq, cache_size)
        super().__init__(cache_size=cache_size)
        self.transforms = transforms
        self.lengths = list(lengths) if lengths is not None else [1] * len(self.transforms)
        if len(self.lengths) != len(self.transforms):
            raise AssertionError(
                f"lengths ({len(self.lengths)}) must match transforms ({len(self.transforms)})"
            )
        self.dim = dim

    @lazy_property
    def event_dim(self) -> int:  # type: ignore[override]
        return max(t.event_dim for t in self.transforms)

    @lazy_property
    def length(self) -> int:
        return sum(self.lengths)

    def with_cache(self, cache_size: int = 1) -> Transform:
        if self._cache_size == cache_size:
            return self
        return CatTransform(self.transforms, self.dim, self.lengths, cache_size)

    def _pieces(self, t: Any, name: str, what: str) -> list[Any]:
        _check_dim(self.dim, t, what)
        _check_size(self.dim, t, name, self.length, "length")
        pieces, start = [], 0
        for length in self.lengths:
            pieces.append(t.narrow(self.dim, start, length))
            start = start + length
        return pieces

    def _call(self, x: Any) -> Any:
        xs = self._pieces(x, "x", "tensor")
        return adjit.cat([t(p) for t, p in zip(self.transforms, xs, strict=True)], dim=self.dim)

    def _inverse(self, y: Any) -> Any:
        ys = self._pieces(y, "y", "tensor")
        return adjit.cat([t.inv(p) for t, p in zip(self.transforms, ys, strict=True)], dim=self.dim)

    def log_abs_det_jacobian(self, x: Any, y: Any) -> Any:
        xs, ys = self._pieces(x, "x", "x"), self._pieces(y, "y", "y")
        logdetjacs = []
        for trans, xslice, yslice in zip(self.transforms, xs, ys, strict=True):
            logdetjac = trans.log_abs_det_jacobian(xslice, yslice)
            if trans.event_dim < self.event_dim:
                logdetjac = _sum_rightmost(logdetjac, self.event_dim - trans.event_dim)
            logdetjacs.append(logdetjac)
        # Decide whether to concatenate or sum.
        dim = self.dim
        if dim >= 0:
            dim = dim - x.dim()
        dim = dim + self.event_dim
        if dim < 0:
            return adjit.cat(logdetjacs, dim=dim)
        return sum(logdetjacs)

    @property
    def bijective(self) -> bool:  # type: ignore[override]
        return all(t.bijective for t in self.transforms)

    @constraints.dependent_property
    def domain(self) -> constraints.Constraint:  # type: ignore[override]
        return constraints.cat([t.domain for t in self.transforms], self.dim, self.lengths)

    @constraints.dependent_property
    def codomain(self) -> constraints.Constraint:  # type: ignore[override]
        return constraints.cat([t.codomain for t in self.transforms], self.dim, self.lengths)


class StackTransform(Transform):
    """``tseq[i]`` applied to the i-th slice along ``dim``, stacked."""

    transforms: list[Transform]

    def __init__(self, tseq: Sequence[Transform], dim: int = 0, cache_size: int = 0) -> None:
        transforms = _cached(tseq, cache_size)
        super().__init__(cache_size=cache_size)
        self.transforms = transforms
        self.dim = dim

    def with_cache(self, cache_size: int = 1) -> Transform:
        if self._cache_size == cache_size:
            return self
        return StackTransform(self.transforms, self.dim, cache_size)

    def _slice(self, z: Any, name: str, what: str) -> list[Any]:
        _check_dim(self.dim, z, what)
        _check_size(self.dim, z, name, len(self.transforms), "len(transforms)")
        return [z.select(self.dim, i) for i in range(z.size(self.dim))]

    def _call(self, x: Any) -> Any:
        xs = self._slice(x, "x", "tensor")
        return adjit.stack([t(s) for s, t in zip(xs, self.transforms, strict=True)], dim=self.dim)

    def _inverse(self, y: Any) -> Any:
        ys = self._slice(y, "y", "tensor")
        return adjit.stack(
            [t.inv(s) for s, t in zip(ys, self.transforms, strict=True)], dim=self.dim
        )

    def log_abs_det_jacobian(self, x: Any, y: Any) -> Any:
        xs, ys = self._slice(x, "x", "x"), self._slice(y, "y", "y")
        logdetjacs = [
            t.log_abs_det_jacobian(xs_, ys_)
            for xs_, ys_, t in zip(xs, ys, self.transforms, strict=True)
        ]
        return adjit.stack(logdetjacs, dim=self.dim)

    @property
    def bijective(self) -> bool:  # type: ignore[override]
        return all(t.bijective for t in self.transforms)

    @constraints.dependent_property
    def domain(self) -> constraints.Constraint:  # type: ignore[override]
        return constraints.stack([t.domain for t in self.transforms], self.dim)

    @constraints.dependent_property
    def codomain(self) -> constraints.Constraint:  # type: ignore[override]
        return constraints.stack([t.codomain for t in self.transforms], self.dim)


class CumulativeDistributionTransform(Transform):
    """The cdf of ``distribution``: its support onto the unit interval."""

    bijective = True
    codomain = constraints.unit_interval
    sign = +1

    def __init__(self, distribution: Any, cache_size: int = 0) -> None:
        super().__init__(cache_size=cache_size)
        self.distribution = distribution

    @property
    def domain(self) -> Any:  # type: ignore[override]
        return self.distribution.support

    def _call(self, x: Any) -> Any:
        return self.distribution.cdf(x)

    def _inverse(self, y: Any) -> Any:
        return self.distribution.icdf(y)

    def log_abs_det_jacobian(self, x: Any, y: Any) -> Any:
        return self.distribution.log_prob(x)

    def with_cache(self, cache_size: int = 1) -> Transform:
        if self._cache_size == cache_size:
            return self
        return CumulativeDistributionTransform(self.distribution, cache_size=cache_size)
