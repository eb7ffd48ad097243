"""``_standard_gamma``, ``_sample_dirichlet``, ``_standard_gamma_grad`` and ``binomial``:
PyTorch's rejection samplers drawing its numbers for a seed (runtime/gamma_draws.py,
runtime/binomial_draws.py), traced as RANDOM draws, with PyTorch's reparameterized gamma and
Dirichlet gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import dtypes as D
from .dirichlet_grad import _dirichlet_grad
from .ops_random import _not_implemented, _sample_of
from .tensor import Tensor

F32 = np.float32

# coefficients of the bivariate rational approximation (ATen's standard_gamma_grad_one)
COEF_UV = (
    # fmt: off
    (0.16009398, -0.094634809, 0.025146376, -0.0030648343, 1, 0.32668115, 0.10406089, 0.0014179084),
    (
        0.53487893,
        0.1298071,
        0.065735949,
        -0.0015649758,
        0.16639465,
        0.020070113,
        -0.0035938915,
        -0.00058392623,
    ),
    (
        0.040121004,
        -0.0065914022,
        -0.0026286047,
        -0.0013441777,
        0.017050642,
        -0.0021309326,
        0.00085092367,
        -1.5247877e-07,
    ),
    # fmt: on
)


def _check(input: Tensor, kernel: str) -> None:
    if input.dtype not in (D.float32, D.float64):
        raise _not_implemented(kernel, input.dtype)


def _sample(sampler: str, input: Tensor, generator: Any) -> Tensor:
    data = _sample_of(sampler, tuple(input.shape), input.dtype, generator, input)
    return data if isinstance(data, Tensor) else Tensor._make(data)


class _GammaGrad:
    """StandardGammaBackward0: ``grad * _standard_gamma_grad(alpha, result)``."""

    name = "StandardGammaBackward0"

    def __repr__(self) -> str:
        return self.name

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        alpha = inputs[1]
        return (None, g * _standard_gamma_grad(alpha, out) if needs[1] else None)


class _NotDifferentiable:
    """A sampler PyTorch gives no derivative: its backward raises PyTorch's error."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return "NotImplemented"

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        raise RuntimeError(f"derivative for aten::{self.name} is not implemented")


def _standard_gamma(input: Tensor, generator: Any = None) -> Tensor:
    """Gamma(alpha, 1) draws, one per element of ``input`` (Note [PyTorch's sample_gamma])."""
    from .dispatch import with_rule

    _check(input, "gamma_cpu")
    value = _sample("standard_gamma", input, generator)
    return with_rule(_GammaGrad(), lambda *_: value, input, name="StandardGammaBackward0")


def _sample_dirichlet(input: Tensor, generator: Any = None) -> Tensor:
    """Dirichlet draws over the last dim of ``input`` (normalized double gamma draws)."""
    from .dispatch import with_rule

    _check(input, "dirichlet")
    value = _sample("dirichlet", input, generator)
    rule = _NotDifferentiable("_sample_dirichlet")
    return with_rule(rule, lambda *_: value, input, name="NotImplemented")


def binomial(count: Tensor, prob: Tensor, generator: Any = None) -> Tensor:
    """Binomial draws with ``count`` trials of probability ``prob`` (broadcast), PyTorch's
    stream (Note [PyTorch's sample_binomial]); no derivative, as in PyTorch."""
    from .dispatch import with_rule
    from .ops_random import _broadcast

    if not count.dtype.is_floating_point:
        raise ValueError(
            f"binomial only supports floating-point dtypes for count, got: {count.dtype.type_name}"
        )
    if prob.dtype != count.dtype:
        raise RuntimeError(
            f"Found dtype {prob.dtype.type_name} but expected {count.dtype.type_name}"
        )
    _check(count, "binomial_cpu")
    shape = _broadcast([tuple(count.shape), tuple(prob.shape)])
    data = _sample_of("binomial", shape, count.dtype, generator, count, prob)
    value = data if isinstance(data, Tensor) else Tensor._make(data)
    rule = _NotDifferentiable("binomial")
    return with_rule(rule, lambda *_: value, count, prob, name="NotImplemented")


def _standard_gamma_grad(self: Tensor, output: Tensor) -> Tensor:
    """``-(d/dalpha cdf(x; alpha)) / pdf(x; alpha)`` at the standard gamma draws ``output``
    (ATen's standard_gamma_grad_one, in double): a Taylor series for x < 0.8, Rice's saddle
    point expansion for alpha > 8, a bivariate rational approximation otherwise."""
    from . import functional as F

    a, x = self.double(), output.double()
    with np.errstate(all="ignore"):
        numer, denom = 1.0, a
        series1, series2 = numer / denom, numer / (denom * denom)
        for i in range(1, 6):
            numer = numer * (-x / float(i))
            denom = denom + 1
            series1 = series1 + numer / denom
            series2 = series2 + numer / (denom * denom)
        pow_x_alpha = x.pow(a)
        gamma_pdf = x.pow(a - 1) * (-x).exp()
        gamma_cdf = pow_x_alpha * series1
        gamma_cdf_alpha = (x.log() - F.digamma(a)) * gamma_cdf - pow_x_alpha * series2
        small = -gamma_cdf_alpha / gamma_pdf
        small = F.where(small.isnan(), 0.0, small)

        numer_1 = 1 + 24 * a * (1 + 12 * a)
        numer_2 = 1440 * (a * a) + 6 * x * (53 - 120 * x) - 65 * x * x / a + a * (107 + 3600 * x)
        near = numer_1 * numer_2 / (1244160 * (a * a) * (a * a))
        root = (8 * a).sqrt()
        term2 = root / (a - x)
        term3 = (x - a - a * (x / a).log()).pow(-1.5)
        term23 = F.where(x < a, term2 - term3, term2 + term3)
        term1 = (x / a).log() * term23 - (2 / a).sqrt() * (a + x) / ((a - x) * (a - x))
        stirling = 1 + 1 / (12 * a) * (1 + 1 / (24 * a))
        far = -stirling * (x * term1) / root

        u, v = (x / a).log(), a.log()
        c = [COEF_UV[0][i] + u * (COEF_UV[1][i] + u * COEF_UV[2][i]) for i in range(8)]
        p = c[0] + v * (c[1] + v * (c[2] + v * c[3]))
        q = c[4] + v * (c[5] + v * (c[6] + v * c[7]))
        rational = (p / q).exp()

        in_window = (float(F32(0.9)) * a <= x) & (x <= float(F32(1.1)) * a)
        large = F.where(in_window, near, far)
        rest = F.where(a > float(F32(8.0)), large, rational)
        result = F.where(x < float(F32(0.8)), small, rest)
    return result.to(self.dtype)


class _DirichletGrad:
    """Dirichlet.rsample's derivative (PyTorch's ``_Dirichlet`` function): the beta-decomposition
    gradient ``_dirichlet_grad(x, alpha, total)`` times the simplex-projected incoming grad."""

    name = "_DirichletBackward"

    def __repr__(self) -> str:
        return self.name

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        if not needs[1]:
            return (None, None)
        concentration = inputs[1]
        total = concentration.sum(-1, True).expand_as(concentration)
        grad = _dirichlet_grad(out, concentration, total)
        return (None, grad * (g - (out * g).sum(-1, True)))


def dirichlet_rsample(concentration: Tensor) -> Tensor:
    """``_sample_dirichlet`` differentiable in the concentration (Dirichlet.rsample)."""
    from .dispatch import with_rule

    _check(concentration, "dirichlet")
    value = _sample("dirichlet", concentration, None)
    return with_rule(_DirichletGrad(), lambda *_: value, concentration, name="_DirichletBackward")
