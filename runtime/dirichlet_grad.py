"""``_dirichlet_grad(x, alpha, total)``: PyTorch's reparameterized gradient of a Dirichlet (Beta)
draw ``x`` in its concentration, through the beta decomposition (ATen's dirichlet_grad_one):
Taylor series near 0 and 1, Rice's saddle point for large alpha and beta, a rational
correction otherwise; computed in double, every branch as a tensor, selected with ``where``."""

from __future__ import annotations

import numpy as np

from .tensor import Tensor

F32 = np.float32

# c[0] (numerator) and c[1] (denominator) coefficients [i][j][k] of the rational correction
RATIONAL = (
    (
        ((1.003668233, -0.01061107488, -0.0657888334, 0.01201642863),
         (0.6336835991, -0.3557432599, 0.05486251648, -0.001465281033),
         (-0.03276231906, 0.004474107445, 0.002429354597, -0.0001557569013)),
        ((0.221950385, -0.3187676331, 0.01799915743, 0.01074823814),
         (-0.2951249643, 0.06219954479, 0.01535556598, 0.001550077057),
         (0.02155310298, 0.004170831599, 0.001292462449, 6.976601077e-05)),
        ((-0.05980841433, 0.008441916499, 0.01085618172, 0.002319392565),
         (0.02911413504, 0.01400243777, -0.002721828457, 0.000751041181),
         (0.005900514878, -0.001936558688, -9.495446725e-06, 5.385558597e-05)),
    ),
    (
        ((1, -0.02924021934, -0.04438342661, 0.007285809825),
         (0.6357567472, -0.3473456711, 0.05454656494, -0.002407477521),
         (-0.03301322327, 0.004845219414, 0.00231480583, -0.0002307248149)),
        ((0.5925320577, -0.1757678135, 0.01505928619, 0.000564515273),
         (0.1014815858, -0.06589186703, 0.01272886114, -0.0007316646956),
         (-0.007258481865, 0.001096195486, 0.0003934994223, -4.12701925e-05)),
        ((0.06469649321, -0.0236701437, 0.002902096474, -5.896963079e-05),
         (0.001925008108, -0.002869809258, 0.0008000589141, -6.063713228e-05),
         (-0.0003477407336, 6.959756487e-05, 1.097287507e-05, -1.650964693e-06)),
    ),
)  # fmt: skip


def _zero_nan(t: Tensor) -> Tensor:
    from .functional import where

    return where(t.isnan(), 0.0, t)


def _alpha_small(x: Tensor, alpha: Tensor, beta: Tensor) -> Tensor:
    """The gradient in alpha for x near 0 (Taylor series, 10 terms)."""
    from .functional import digamma

    factor = digamma(alpha) - digamma(alpha + beta) - x.log()
    numer: Tensor | float = 1.0
    series = numer / alpha * (factor + 1 / alpha)
    for i in range(1, 11):
        numer = numer * (i - beta) * x / float(i)
        denom = alpha + i
        series = series + numer / denom * (factor + 1 / denom)
    return _zero_nan(x * (1 - x).pow(-beta) * series)


def _beta_small(x: Tensor, alpha: Tensor, beta: Tensor) -> Tensor:
    """The gradient in beta for x near 0 (Taylor series, 8 terms)."""
    from .functional import digamma

    factor = digamma(alpha + beta) - digamma(beta)
    numer: Tensor | float = 1.0
    betas: Tensor | float = 1.0
    dbetas: Tensor | float = 0.0
    series = factor / alpha
    for i in range(1, 9):
        numer = numer * (-x / float(i))
        dbetas = dbetas * (beta - i) + betas
        betas = betas * (beta - i)
        series = series + numer / (alpha + i) * (dbetas + factor * betas)
    return _zero_nan(-(1 - x).pow(1 - beta) * series)


def _alpha_mid(x: Tensor, alpha: Tensor, beta: Tensor) -> Tensor:
    """The gradient in alpha for large alpha and beta (Rice's saddle point expansion)."""
    from .functional import where

    total = alpha + beta
    mean = alpha / total
    std = (alpha * beta / (total + 1)).sqrt() / total
    poly = 47 * x * (beta * beta) * (beta * beta) + alpha * (
        (43 + 20 * (16 + 27 * beta) * x) * (beta * beta) * beta
        + alpha
        * (
            3 * (59 + 180 * beta - 90 * x) * (beta * beta)
            + alpha
            * (
                (453 + 1620 * beta * (1 - x) - 455 * x) * beta
                + alpha * (8 * (1 - x) * (135 * beta - 11))
            )
        )
    )
    prefactor_num = (1 + 12 * alpha) * (1 + 12 * beta) / (total * total)
    prefactor_den = 12960 * alpha * alpha * alpha * beta * beta * (1 + 12 * total)
    at_mean = prefactor_num / (1 - x) * poly / prefactor_den
    prefactor = -x / (2 * alpha * beta / total).sqrt()
    stirling = (
        (1 + 1 / (12 * alpha) + 1 / (288 * alpha * alpha))
        * (1 + 1 / (12 * beta) + 1 / (288 * beta * beta))
        / (1 + 1 / (12 * total) + 1 / (288 * total * total))
    )
    term1_num = 2 * (alpha * alpha) * (x - 1) + alpha * beta * (x - 1) - x * (beta * beta)
    axbx = alpha * (x - 1) + beta * x
    term1_den = (2 * alpha / beta).sqrt() * total.pow(1.5) * axbx * axbx
    term1 = term1_num / term1_den
    term2 = 0.5 * (alpha / (total * x)).log()
    term3 = (8 * alpha * beta / total).sqrt() / (beta * x + alpha * (x - 1))
    term4_base = beta * (beta / (total * (1 - x))).log() + alpha * (alpha / (total * x)).log()
    term4 = term4_base.pow(-1.5)
    term1234 = term1 + term2 * (term3 + where(x < mean, term4, -term4))
    away = stirling * prefactor * term1234
    near = (mean - 0.1 * std <= x) & (x <= mean + 0.1 * std)
    return where(near, at_mean, away)


def _rational(x: Tensor, alpha: Tensor, total: Tensor) -> Tensor:
    """A rational correction to ``x (digamma(total) - digamma(alpha)) / beta``."""
    from .functional import digamma

    u = x.log()
    a = alpha.log() - u
    b = total.log() - a
    pow_u, pow_a = (1.0, u, u * u), (1.0, a, a * a)
    p: Tensor | float = 0.0
    q: Tensor | float = 0.0
    for i in range(3):
        for j in range(3):
            ua = pow_u[i] * pow_a[j]
            c, d = RATIONAL[0][i][j], RATIONAL[1][i][j]
            p = p + ua * (c[0] + b * (c[1] + b * (c[2] + b * c[3])))
            q = q + ua * (d[0] + b * (d[1] + b * (d[2] + b * d[3])))
    approx = x * (digamma(total) - digamma(alpha)) / (total - alpha)
    return p / q * approx


def _dirichlet_grad(x: Tensor, alpha: Tensor, total: Tensor) -> Tensor:
    """``-(d/dalpha cdf(x; alpha, total - alpha)) / pdf(x; ...) / (1 - x)`` per element."""
    from .functional import where

    dtype = x.dtype
    x, alpha, total = x.double(), alpha.double(), total.double()
    beta = total - alpha
    boundary = total * x * (1 - x)
    with np.errstate(all="ignore"):
        near_zero = _alpha_small(x, alpha, beta)
        near_one = -_beta_small(1 - x, beta, alpha)
        mid = _alpha_mid(x, alpha, beta)
        rational = _rational(x, alpha, total)
    result = where(
        (x <= 0.5) & (boundary < 2.5),
        near_zero,
        where(
            (x >= 0.5) & (boundary < 0.75),
            near_one,
            where((alpha > 6) & (beta > 6), mid, rational),
        ),
    )
    return result.to(dtype)
