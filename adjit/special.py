"""torch.special: the special functions under PyTorch's (scipy's) names."""

from __future__ import annotations

from adjit.runtime.functional import (
    digamma,
    erf,
    erfc,
    erfinv,
    exp2,
    expm1,
    log1p,
    log_softmax,
    logsumexp,
    polygamma,
    round,  # noqa: A004
    softmax,
    xlogy,
)
from adjit.runtime.functional import lgamma as gammaln
from adjit.runtime.functional import mvlgamma as multigammaln
from adjit.runtime.functional import sigmoid as expit
from adjit.runtime.ops_bessel import i0, i0e, i1, i1e
from adjit.runtime.ops_ndtr import log_ndtr
from adjit.runtime.ops_special import ndtri
from adjit.runtime.ops_special_misc import entr, logit, ndtr, sinc, xlog1py
from adjit.runtime.ops_special_more import SPECIAL as _MORE

psi = digamma
# the Bessel and Airy functions, polynomials, erfcx, gammainc, gammaincc, zeta
globals().update(_MORE)

__all__ = ["digamma", "entr", "erf", "erfc", "erfinv", "exp2", "expit", "expm1", "gammaln",
           "i0", "i0e", "i1", "i1e", "log_ndtr", "ndtri",
           "log1p", "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr", "polygamma",
           "psi", "round", "sinc", "softmax", "xlog1py", "xlogy", *_MORE]  # fmt: skip
