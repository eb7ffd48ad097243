"""PyTorch's ``out=`` keyword on the top-level functions that take it (Note [out= arguments])."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

from ..ir.shapes import C_NAMES
from . import autocast
from .dtype_info import can_cast
from .grad_mode import is_grad_enabled, no_grad
from .return_types import out_type
from .tensor import Tensor

# Note [out= arguments]
# ``torch.add(a, b, out=c)`` computes the result, checks it against ``out`` and writes it there:
# a result dtype ``out`` cannot hold is refused ("result type Float can't be cast to the desired
# output type Long"; products and the ops returning indices want ``out``'s dtype exactly), an
# ``out`` of another shape is resized (with PyTorch's deprecation warning unless it was empty),
# and autograd is refused when an argument requires grad. The write is ``out.copy_``, so views,
# version counters and compiled functions (a traced or captured ``out``) behave as for any
# in-place write. Ops returning several tensors take a tuple and return their named tuple of it.
OUT_OPS = (  # noqa: SIM905 - a word list
    "abs acos acosh add addbmm addcdiv addcmul addmm addmv addr all amax amin aminmax angle any "
    "asin asinh atan atan2 atanh baddbmm bitwise_and bitwise_left_shift bitwise_not bitwise_or "
    "bitwise_right_shift bitwise_xor bmm bucketize cat ceil chain_matmul cholesky_solve clamp "
    "clip column_stack complex concat concatenate conj_physical copysign cos cosh cross cummax "
    "cummin cumprod cumsum deg2rad diag diff digamma div divide dot dstack eq erf erfc erfinv "
    "exp exp2 expm1 fix float_power floor floor_divide fmax fmin fmod frac frexp gather gcd ge "
    "ger greater greater_equal gt heaviside histc hstack hypot i0 igamma igammac index_select "
    "inner isneginf isposinf kron kthvalue lcm ldexp le lerp less less_equal lgamma log log10 "
    "log1p log2 logaddexp logaddexp2 logcumsumexp logical_and logical_not logical_or logical_xor "
    "logit logsumexp lt lu_solve masked_select matmul matrix_power max maximum mean min minimum "
    "mm mode msort mul multiply mv mvlgamma nan_to_num nanmean nanquantile ne neg negative "
    "nextafter nonzero norm not_equal outer polar polygamma pow quantile rad2deg reciprocal "
    "remainder renorm round row_stack rsqrt searchsorted sgn sigmoid sign signbit sin sinc sinh "
    "sort sqrt square stack std sub subtract take_along_dim tan tanh topk tril triu trunc var "
    "vdot vstack where xlogy sum prod argmax argmin nansum median nanmedian tensordot"
).split()
# out's dtype must be the result's exactly (PyTorch: "Expected out tensor to have dtype ...")
_EXACT = (  # noqa: SIM905 - a word list
    "addbmm addmm addmv addr baddbmm bmm chain_matmul dot ger inner matmul mm mv outer vdot "
    "aminmax cummax cummin kthvalue max min mode sort topk frexp argmax argmin median nanmedian"
).split()
EXACT = set(_EXACT)
CAT = {"cat", "concat", "concatenate"}


def _tensors(args: Any) -> list[Tensor]:
    out: list[Tensor] = []
    for a in args:
        if isinstance(a, Tensor):
            out.append(a)
        elif isinstance(a, list | tuple):
            out.extend(_tensors(a))
    return out


def _check_dtype(name: str, result: Tensor, out: Tensor) -> None:
    if name in EXACT and result.dtype is not out.dtype:
        raise RuntimeError(
            f"Expected out tensor to have dtype {C_NAMES[result.dtype.name]}, but got "
            f"{C_NAMES[out.dtype.name]} instead"
        )
    if not can_cast(result.dtype, out.dtype):
        if name in CAT:
            raise TypeError(
                f"torch.cat(): input types can't be cast to the desired output type "
                f"{out.dtype.type_name}"
            )
        raise RuntimeError(
            f"result type {result.dtype.type_name} can't be cast to the desired output type "
            f"{out.dtype.type_name}"
        )


def _store(result: Tensor, out: Tensor) -> Tensor:
    """PyTorch's resize_output, then the write."""
    shape = tuple(result.shape)
    if tuple(out.shape) != shape:
        if out.numel() != 0:
            warnings.warn(
                f"An output with one or more elements was resized since it had shape "
                f"{list(out.shape)}, which does not match the required output shape "
                f"{list(shape)}. This behavior is deprecated, and in a future PyTorch release "
                f"outputs will not be resized unless they have zero elements. You can "
                f"explicitly reuse an out tensor t by resizing it, inplace, to zero elements "
                f"with t.resize_(0).",
                UserWarning,
                stacklevel=4,
            )
        out.resize_(shape)
    with no_grad():
        out.copy_(result)
    return out


def with_out(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` taking PyTorch's ``out=`` keyword."""

    @functools.wraps(fn)
    def run(*args: Any, out: Any = None, **kwargs: Any) -> Any:
        if out is None:
            return fn(*args, **kwargs)
        several = isinstance(out, tuple | list)
        outs = list(out) if several else [out]
        for o in outs:
            if not isinstance(o, Tensor):
                raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(o).__name__}")
        if is_grad_enabled() and any(
            t.requires_grad for t in _tensors(args) + _tensors(kwargs.values())
        ):
            raise RuntimeError(
                f"{name}(): functions with out=... arguments don't support automatic "
                "differentiation, but one of the arguments requires grad."
            )
        result = autocast.excluded(fn, *args, **kwargs)  # (out= is never autocast)
        results = list(result) if isinstance(result, tuple) else [result]
        if len(results) != len(outs) or several != isinstance(result, tuple):
            raise TypeError(
                f"{name}(): argument 'out' must be "
                + (f"tuple of {len(results)} Tensors" if isinstance(result, tuple) else "Tensor")
                + f", not {type(out).__name__}"
            )
        for r, o in zip(results, outs, strict=True):
            _check_dtype(name, r, o)
        written = [_store(r, o) for r, o in zip(results, outs, strict=True)]
        if not isinstance(result, tuple):
            return written[0]
        if not hasattr(result, "_fields"):
            return tuple(written)
        return out_type(type(result))(*written)  # (max_out for max: PyTorch's out= twins)

    return run


def install(namespace: dict[str, Any]) -> None:
    """Give the namespace's OUT_OPS functions the ``out=`` keyword."""
    for name in OUT_OPS:
        fn = namespace.get(name)
        if fn is not None and not getattr(fn, "_takes_out", False):
            wrapped = with_out(name, fn)
            wrapped._takes_out = True  # type: ignore[attr-defined]
            namespace[name] = wrapped
