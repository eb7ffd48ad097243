"""torch.fft's transforms: argument checks, dtype promotion and norms over fft_core's primitives."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

from ..ir import dtypes as D
from ..ir.shapes import norm_axis
from . import fft_core as P
from . import trace_state
from .autocast import autocast_op
from .checks import traced
from .grad_mode import is_grad_enabled
from .tensor import Tensor
from .trace_state import TracingError

Dims = tuple[int, ...]
_NORMS = (None, "backward", "ortho", "forward")


def _scale(norm: str | None, numel: int, forward: bool) -> float:
    """PyTorch's _apply_norm as one factor: 1, 1/n or 1/sqrt(n)."""
    if norm not in _NORMS:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')
    if norm == "ortho":
        return 1 / math.sqrt(numel)
    normalize = (not forward and norm in (None, "backward")) or (forward and norm == "forward")
    return 1 / numel if normalize else 1.0


def _promote(x: Tensor, require_complex: bool) -> Tensor:
    """PyTorch's _maybe_promote_tensor_fft: integers to the default float, float32/float64 kept
    (complex with ``require_complex``), any other float refused."""
    dt = x.dtype
    if dt.category == 3:
        return x
    if dt.category < 2:
        dt = D.get_default_dtype()
    if dt not in (D.float32, D.float64):
        raise RuntimeError(f"Unsupported dtype {dt.type_name}")
    if require_complex:
        dt = D.to_complex(dt)
    return x if dt is x.dtype else x.to(dt)


def _points(n: int) -> int:
    if n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return n


def _dim(x: Tensor, dim: int) -> int:
    if x.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return norm_axis(dim, x.ndim)


def _real_only(name: str, x: Tensor, wording: str) -> None:
    if x.dtype.category == 3:
        raise RuntimeError(f"{name} expects a {wording} input tensor, but got {x.dtype.type_name}")


def compiled_eagerly(name: str) -> Callable[[Callable[..., Tensor]], Callable[..., Tensor]]:
    """Note [fft in compiled code]: compiled code has no complex values (Note [complex dtypes]),
    so inside adjit.compile a transform of a traced tensor, or of one with eager history (the
    result of an earlier transform), runs eagerly between two compiled segments: a graph break,
    its gradient eager autograd's. A real result (irfft, hfft) flows on into the next compiled
    segment; ops on a complex one run eagerly too (Note [complex values between segments] in
    frontend/breaks.py). Where the function cannot break (fullgraph=True) it is a TracingError."""

    def wrap(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
        @functools.wraps(fn)
        def call(input: Tensor, *args: Any, out: Tensor | None = None, **kwargs: Any) -> Tensor:  # noqa: A002
            if out is not None:
                if not name.startswith("fft."):  # (stft, istft: no out=)
                    raise TypeError(f"{name}() got an unexpected keyword argument 'out'")
                _check_out_grad(name, input)
                return _into(name, call(input, *args, **kwargs), out)
            trace = trace_state.current()
            tensors = [t for t in (input, *args, *kwargs.values()) if isinstance(t, Tensor)]
            if trace is None or not any(traced(t) or t.requires_grad for t in tensors):
                return fn(input, *args, **kwargs)
            if not getattr(trace, "runs_complex_eagerly", False):  # (frontend/breaks.py)
                raise TracingError(
                    f"{name}: traced code (adjit.grad, vmap, adjit.compile with fullgraph=True) "
                    "does not support complex tensors yet; call it eagerly, or let "
                    "adjit.compile break there"
                )
            return trace.eager_call(name, lambda *a: fn(*a, **kwargs), input, *args)

        if name.startswith("fft."):  # the signature shows PyTorch's keyword-only out=
            sig = inspect.signature(fn)
            extra = inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, default=None)
            call.__signature__ = sig.replace(parameters=[*sig.parameters.values(), extra])  # type: ignore[attr-defined]
        return call

    return wrap


def _check_out_grad(name: str, x: Tensor) -> None:
    if is_grad_enabled() and x.requires_grad:
        kind = "c2r" if name.startswith(("fft.irfft", "fft.hfft")) else "r2c"
        kind = "c2c" if kind == "r2c" and x.dtype.category == 3 else kind
        raise RuntimeError(
            f"_fft_{kind}(): functions with out=... arguments don't support automatic "
            "differentiation, but one of the arguments requires grad."
        )


def _into(name: str, result: Tensor, out: Tensor) -> Tensor:
    """PyTorch's ``out=``: a complex result into a complex tensor, a real one into a floating
    one (cast to its dtype), resized to the result's shape."""
    wanted = "complex" if result.dtype.category == 3 else "floating point"
    if out.dtype.category != (3 if wanted == "complex" else 2):
        short = name.removeprefix("fft.").replace("2", "n")
        raise RuntimeError(
            f"{short} expects a {wanted} output tensor, but got {out.dtype.type_name}"
        )
    out.resize_(tuple(result.shape))
    return out.copy_(result)


# ---- one dimension ----------------------------------------------------------------------------


def _c2c_1d(x: Tensor, n: int | None, dim: int, norm: Any, forward: bool) -> Tensor:
    d = _dim(x, dim)
    size = _points(n if n is not None else x.shape[d])
    scale = _scale(norm, size, forward)
    return P.c2c(P.resize(x, (d,), (size,)), (d,), forward, scale)


def _r2c_1d(x: Tensor, n: Any, dim: int, norm: Any, forward: bool, onesided: bool) -> Tensor:
    d = _dim(x, dim)
    x = _promote(x, False)
    size = _points(n if n is not None else x.shape[d])
    scale = _scale(norm, size, forward)
    return P.r2c(P.resize(x, (d,), (size,)), (d,), forward, onesided, scale)


def _c2r_1d(x: Tensor, n: int | None, dim: int, norm: Any, forward: bool) -> Tensor:
    x = _promote(x, True)
    d = _dim(x, dim)
    last = _points(n if n is not None else 2 * (x.shape[d] - 1))
    scale = _scale(norm, last, forward)
    return P.c2r(P.resize(x, (d,), (last // 2 + 1,)), (d,), forward, last, scale)


@compiled_eagerly("fft.fft")
@autocast_op("fft_fft")
def fft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:  # noqa: A002
    """The discrete Fourier transform over ``dim`` (PyTorch's torch.fft.fft)."""
    if input.dtype.category == 3:
        return _c2c_1d(input, n, dim, norm, True)
    return _r2c_1d(input, n, dim, norm, True, False)


@compiled_eagerly("fft.ifft")
@autocast_op("fft_ifft")
def ifft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:  # noqa: A002
    """The inverse discrete Fourier transform over ``dim``."""
    if input.dtype.category == 3:
        return _c2c_1d(input, n, dim, norm, False)
    return _r2c_1d(input, n, dim, norm, False, False)


@compiled_eagerly("fft.rfft")
@autocast_op("fft_rfft")
def rfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:  # noqa: A002
    """The onesided transform of a real signal: ``n // 2 + 1`` frequencies."""
    _real_only("rfft", input, "real")
    return _r2c_1d(input, n, dim, norm, True, True)


@compiled_eagerly("fft.irfft")
@autocast_op("fft_irfft")
def irfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:  # noqa: A002
    """The real signal (length ``n``, default ``2 * (m - 1)``) of a onesided spectrum."""
    return _c2r_1d(input, n, dim, norm, False)


@compiled_eagerly("fft.hfft")
@autocast_op("fft_hfft")
def hfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:  # noqa: A002
    """The transform of a Hermitian-symmetric signal given by its first half: real."""
    return _c2r_1d(input, n, dim, norm, True)


@compiled_eagerly("fft.ihfft")
@autocast_op("fft_ihfft")
def ihfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:  # noqa: A002
    """The inverse of hfft: the onesided inverse transform of a real signal."""
    _real_only("ihfft", input, "real")
    return _r2c_1d(input, n, dim, norm, False, True)


# ---- n dimensions -----------------------------------------------------------------------------


def _shape_and_dims(x: Tensor, s: Any, dim: Any) -> tuple[Dims, Dims]:
    """PyTorch's _canonicalize_fft_shape_and_dim_args."""
    dims: Dims = ()
    if dim is not None:
        dim = tuple(dim) if isinstance(dim, Sequence) else (dim,)
        dims = tuple(norm_axis(d, x.ndim) for d in dim)
        if len(set(dims)) != len(dims):
            raise RuntimeError("FFT dims must be unique")
    if s is not None:
        s = tuple(s) if isinstance(s, Sequence) else (s,)
        if dim is not None and len(dim) != len(s):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
        if len(s) > x.ndim:
            raise RuntimeError(
                f"Got shape with {len(s)} values but input tensor only has {x.ndim} dimensions."
            )
        if dim is None:
            dims = tuple(range(x.ndim - len(s), x.ndim))
        shape = tuple(n if n != -1 else x.shape[d] for n, d in zip(s, dims, strict=True))
    elif dim is None:
        dims, shape = tuple(range(x.ndim)), tuple(x.shape)
    else:
        shape = tuple(x.shape[d] for d in dims)
    for n in shape:
        _points(n)
    return shape, dims


def _c2c_nd(x: Tensor, s: Any, dim: Any, norm: Any, forward: bool) -> Tensor:
    shape, dims = _shape_and_dims(x, s, dim)
    x = _promote(x, True)
    scale = _scale(norm, math.prod(shape), forward)
    return P.c2c(P.resize(x, dims, shape), dims, forward, scale)


def _r2c_nd(name: str, x: Tensor, s: Any, dim: Any, norm: Any, forward: bool) -> Tensor:
    _real_only(name, x, "real-valued")
    shape, dims = _shape_and_dims(x, s, dim)
    if not dims:
        raise RuntimeError(f"{name} must transform at least one axis")
    x = P.resize(_promote(x, False), dims, shape)
    scale = _scale(norm, math.prod(shape), forward)
    if forward:
        return P.r2c(x, dims, True, True, scale)
    # ihfftn: the last dim's onesided inverse-direction transform, then the others'
    return P.c2c(P.r2c(x, dims[-1:], False, True, 1.0), dims[:-1], False, scale)


def _c2r_nd(name: str, x: Tensor, s: Any, dim: Any, norm: Any, forward: bool) -> Tensor:
    shape, dims = _shape_and_dims(x, s, dim)
    if not dims:
        raise RuntimeError(f"{name} must transform at least one axis")
    s_last = None if s is None else (tuple(s) if isinstance(s, Sequence) else (s,))[-1]
    last = shape[-1] if s_last not in (None, -1) else 2 * (x.shape[dims[-1]] - 1)
    _points(last)
    x = P.resize(_promote(x, True), dims, (*shape[:-1], last // 2 + 1))
    scale = _scale(norm, math.prod(shape[:-1]) * last, forward)
    if not forward:
        return P.c2r(x, dims, False, last, scale)
    # hfftn: the other dims' forward transform, then the last dim's of the conjugate
    return P.c2r(P.c2c(x, dims[:-1], True, 1.0), dims[-1:], True, last, scale)


def _nd(kind: str, name: str, default_dim: Any) -> Callable[..., Tensor]:
    def transform(input: Tensor, s: Any = None, dim: Any = default_dim, norm: Any = None):  # noqa: A002
        if kind == "c2c":
            return _c2c_nd(input, s, dim, norm, name.startswith("fft"))
        if kind == "r2c":
            return _r2c_nd(name.replace("2", "n"), input, s, dim, norm, name.startswith("rfft"))
        return _c2r_nd(name.replace("2", "n"), input, s, dim, norm, name.startswith("hfft"))

    transform.__name__ = transform.__qualname__ = name
    transform.__doc__ = f"PyTorch's torch.fft.{name} (dims {default_dim or 'all'} by default)."
    return compiled_eagerly(f"fft.{name}")(transform)


_TWO = (-2, -1)
fft2, ifft2 = _nd("c2c", "fft2", _TWO), _nd("c2c", "ifft2", _TWO)
fftn, ifftn = _nd("c2c", "fftn", None), _nd("c2c", "ifftn", None)
rfft2, ihfft2 = _nd("r2c", "rfft2", _TWO), _nd("r2c", "ihfft2", _TWO)
rfftn, ihfftn = _nd("r2c", "rfftn", None), _nd("r2c", "ihfftn", None)
irfft2, hfft2 = _nd("c2r", "irfft2", _TWO), _nd("c2r", "hfft2", _TWO)
irfftn, hfftn = _nd("c2r", "irfftn", None), _nd("c2r", "hfftn", None)
# (PyTorch's CPU autocast runs these in float32: runtime/autocast_ops.py)
fft2, ifft2, fftn, ifftn = (
    autocast_op(f"fft_{f}")(g)
    for f, g in zip(("fft2", "ifft2", "fftn", "ifftn"), (fft2, ifft2, fftn, ifftn), strict=True)
)
rfft2, irfft2, rfftn, irfftn = (
    autocast_op(f"fft_{f}")(g)
    for f, g in zip(
        ("rfft2", "irfft2", "rfftn", "irfftn"), (rfft2, irfft2, rfftn, irfftn), strict=True
    )
)
