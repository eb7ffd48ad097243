"""``Wishart(df, covariance_matrix | precision_matrix | scale_tril)``: the distribution of
sums of outer products of Gaussian vectors, sampled by the Bartlett decomposition."""

from __future__ import annotations

import math
import warnings
from typing import Any

import adjit
from adjit.runtime.tensor import Size, Tensor

from . import constraints
from .exp_family import ExponentialFamily
from .multivariate_normal import _precision_to_scale_tril
from .student_t import Chi2
from .utils import EMPTY_SHAPE, NUMBER, lazy_property

__all__ = ["Wishart"]

_log_2 = math.log(2)
_MATRIX_ARGS = ("covariance_matrix", "precision_matrix", "scale_tril")


def _mvdigamma(x: Tensor, p: int) -> Tensor:
    """The multivariate digamma ``sum_i digamma(x - i / 2)`` over ``i < p``."""
    if not x.gt((p - 1) / 2).all():
        raise AssertionError("Wrong domain for multivariate digamma function.")
    offsets = adjit.arange(p, dtype=x.dtype, device=x.device).div(2)
    return adjit.digamma(x.unsqueeze(-1) - offsets.expand(x.shape + (-1,))).sum(-1)


def _clamp_above_eps(x: Tensor) -> Tensor:
    """``x`` (positive) clamped from below at its dtype's machine epsilon."""
    return x.clamp(min=adjit.finfo(x.dtype).eps)


def _bartlett_chi2(df: Tensor, p: int, dtype: Any, batch_shape: Size) -> Chi2:
    """The chi-squared distributions of the Bartlett factor's squared diagonal: ``df - i``."""
    offsets = adjit.arange(p, dtype=dtype, device=df.device).expand(batch_shape + (-1,))
    return Chi2(df=df.unsqueeze(-1) - offsets)


class Wishart(ExponentialFamily):
    """Wishart distribution with ``df`` degrees of freedom and exactly one of
    ``covariance_matrix``, ``precision_matrix`` or ``scale_tril`` (its lower Cholesky factor).
    All computations use the (unbroadcast) lower Cholesky factor of the covariance."""

    support = constraints.positive_definite
    has_rsample = True
    _mean_carrier_measure = 0

    @property
    def arg_constraints(self) -> dict[str, Any]:  # type: ignore[override]
        return {
            "covariance_matrix": constraints.positive_definite,
            "precision_matrix": constraints.positive_definite,
            "scale_tril": constraints.lower_cholesky,
            "df": constraints.greater_than(self.event_shape[-1] - 1),
        }

    def __init__(
        self,
        df: Any,
        covariance_matrix: Tensor | None = None,
        precision_matrix: Tensor | None = None,
        scale_tril: Tensor | None = None,
        validate_args: bool | None = None,
    ) -> None:
        given = {
            name: matrix
            for name, matrix in zip(
                _MATRIX_ARGS, (covariance_matrix, precision_matrix, scale_tril), strict=True
            )
            if matrix is not None
        }
        if len(given) != 1:
            raise AssertionError(
                "Exactly one of covariance_matrix or precision_matrix or scale_tril may be "
                "specified."
            )
        ((name, param),) = given.items()
        if param.dim() < 2:
            raise ValueError(
                "scale_tril must be at least two-dimensional, with optional leading batch "
                "dimensions"
            )
        if isinstance(df, NUMBER):
            batch_shape = Size(param.shape[:-2])
            self.df = adjit.tensor(df, dtype=param.dtype, device=param.device)
        else:
            batch_shape = Size(adjit.broadcast_shapes(param.shape[:-2], df.shape))
            self.df = df.expand(batch_shape)
        event_shape = param.shape[-2:]
        p = event_shape[-1]
        if self.df.le(p - 1).any():
            raise ValueError(f"Value of df={df} expected to be greater than ndim - 1 = {p - 1}.")
        setattr(self, name, param.expand(batch_shape + (-1, -1)))
        if self.df.lt(p).any():
            warnings.warn(
                "Low df values detected. Singular samples are highly likely to occur for "
                "ndim - 1 < df < ndim.",
                stacklevel=2,
            )
        super().__init__(batch_shape, event_shape, validate_args=validate_args)
        self._batch_dims = [-(x + 1) for x in range(len(self._batch_shape))]
        if name == "scale_tril":
            self._unbroadcasted_scale_tril = param
        elif name == "covariance_matrix":
            self._unbroadcasted_scale_tril = adjit.linalg.cholesky(param)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(param)
        self._dist_chi2 = _bartlett_chi2(
            self.df, p, self._unbroadcasted_scale_tril.dtype, batch_shape
        )

    def expand(self, batch_shape: Any, _instance: Any = None) -> Wishart:
        new = self._get_checked_instance(Wishart, _instance)
        batch_shape = Size(batch_shape)
        cov_shape = batch_shape + self.event_shape
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril.expand(cov_shape)
        new.df = self.df.expand(batch_shape)
        new._batch_dims = [-(x + 1) for x in range(len(batch_shape))]
        for name in _MATRIX_ARGS:
            if name in self.__dict__:
                setattr(new, name, getattr(self, name).expand(cov_shape))
        new._dist_chi2 = _bartlett_chi2(
            new.df, self.event_shape[-1], new._unbroadcasted_scale_tril.dtype, batch_shape
        )
        super(Wishart, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _matrix_shape(self) -> Size:
        return self._batch_shape + self._event_shape

    @lazy_property
    def scale_tril(self) -> Tensor:
        return self._unbroadcasted_scale_tril.expand(self._matrix_shape())

    @lazy_property
    def covariance_matrix(self) -> Tensor:
        L = self._unbroadcasted_scale_tril
        return (L @ L.transpose(-2, -1)).expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self) -> Tensor:
        L = self._unbroadcasted_scale_tril
        identity = adjit.eye(self._event_shape[-1], device=L.device, dtype=L.dtype)
        return adjit.cholesky_solve(identity, L).expand(self._matrix_shape())

    def _df_matrix(self, df: Tensor) -> Tensor:
        return df.view(self._batch_shape + (1, 1))

    @property
    def mean(self) -> Tensor:
        return self._df_matrix(self.df) * self.covariance_matrix

    @property
    def mode(self) -> Tensor:
        factor = self.df - self.covariance_matrix.shape[-1] - 1
        factor = adjit.where(factor <= 0, math.nan, factor)
        return self._df_matrix(factor) * self.covariance_matrix

    @property
    def variance(self) -> Tensor:
        V = self.covariance_matrix
        diag_V = V.diagonal(dim1=-2, dim2=-1)
        return self._df_matrix(self.df) * (
            V.pow(2) + adjit.einsum("...i,...j->...ij", diag_V, diag_V)
        )

    def _bartlett_sampling(self, sample_shape: Any = EMPTY_SHAPE) -> Tensor:
        p = self._event_shape[-1]
        chi = self._dist_chi2.rsample(sample_shape).sqrt()
        noise = _clamp_above_eps(chi).diag_embed(dim1=-2, dim2=-1)
        i, j = adjit.tril_indices(p, p, offset=-1)
        noise[..., i, j] = adjit.randn(
            Size(sample_shape) + self._batch_shape + (p * (p - 1) // 2,),
            dtype=noise.dtype,
            device=noise.device,
        )
        chol = self._unbroadcasted_scale_tril @ noise
        return chol @ chol.transpose(-2, -1)

    def _nonsingular(self, sample: Tensor) -> Tensor:
        valid = self.support.check(sample)
        return valid.amax(self._batch_dims) if self._batch_shape else valid

    def rsample(self, sample_shape: Any = EMPTY_SHAPE, max_try_correction: Any = None) -> Tensor:
        """Bartlett-decomposition samples; see Note [Wishart's resampling]."""
        if max_try_correction is None:
            max_try_correction = 10
        sample_shape = Size(sample_shape)
        sample = self._bartlett_sampling(sample_shape)
        # Note [Wishart's resampling]: PyTorch marks the samples the support *accepts*
        # (``support.check``, True for positive-definite) as singular, so every draw with a
        # positive-definite sample warns "Singular sample detected." and draws those samples a
        # second time. adjit does the same: the same seed gives the same samples and leaves the
        # generator in the same state.
        is_singular = self._nonsingular(sample).reshape(-1)
        if is_singular.any():
            warnings.warn("Singular sample detected.", stacklevel=2)
            # the samples flattened to one leading dim: the mask is 1-d even for one sample
            flat = sample.reshape((-1,) + tuple(sample.shape[len(sample_shape) :]))
            for _ in range(max_try_correction):
                sample_new = self._bartlett_sampling(is_singular[is_singular].shape)
                flat = flat.index_put((is_singular,), sample_new)
                is_singular_new = ~self._nonsingular(sample_new)
                is_singular[is_singular.clone()] = is_singular_new
                if not is_singular.any():
                    break
            sample = flat.reshape(sample.shape)
        return sample

    def _log_det_scale(self) -> Tensor:
        diagonal = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1)
        return self._event_shape[-1] * _log_2 / 2 + diagonal.log().sum(-1)

    def log_prob(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        nu, p = self.df, self._event_shape[-1]
        trace = adjit.cholesky_solve(value, self._unbroadcasted_scale_tril)
        return (
            -nu * self._log_det_scale()
            - adjit.mvlgamma(nu / 2, p=p)
            + (nu - p - 1) / 2 * adjit.linalg.slogdet(value).logabsdet
            - trace.diagonal(dim1=-2, dim2=-1).sum(dim=-1) / 2
        )

    def entropy(self) -> Tensor:
        nu, p = self.df, self._event_shape[-1]
        return (
            (p + 1) * self._log_det_scale()
            + adjit.mvlgamma(nu / 2, p=p)
            - (nu - p - 1) / 2 * _mvdigamma(nu / 2, p=p)
            + nu * p / 2
        )

    @property
    def _natural_params(self) -> tuple[Tensor, Tensor]:
        nu, p = self.df, self._event_shape[-1]
        return -self.precision_matrix / 2, (nu - p - 1) / 2

    def _log_normalizer(self, x: Any, y: Any) -> Tensor:  # type: ignore[override]
        p = self._event_shape[-1]
        return (y + (p + 1) / 2) * (
            -adjit.linalg.slogdet(-2 * x).logabsdet + _log_2 * p
        ) + adjit.mvlgamma(y + (p + 1) / 2, p=p)
