"""Complex tensors' own functions: complex, polar, real/imag views, conj, angle, view_as_*."""

from __future__ import annotations

import builtins
import functools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.shapes import broadcast_shapes
from . import trace_state
from .autocast import autocast_op
from .grad_mode import is_grad_enabled
from .tensor import Tensor

# Note [complex functions eager]: these read NumPy data directly. That is sound because complex
# tensors never reach compiled code (the tracer refuses them: Note [complex dtypes] in
# ir/dtypes.py), and under autograd each value is computed without history and carries
# PyTorch's derivative formula (``with_rule``: Note [complex gradients] in
# runtime/complex_autograd.py).
_NO_GRAD = (
    "{}: adjit does not support autograd through complex tensors here yet (the input requires "
    "grad); detach it or run under torch.no_grad()"
)


def _eager(name: str, *tensors: Tensor) -> None:
    trace = trace_state.current()  # (compile's segments run complex ops between them)
    if trace is not None and not getattr(trace, "runs_complex_eagerly", False):
        raise NotImplementedError(f"adjit.compile does not support complex tensors yet ({name})")


def _no_grad_yet(name: str, *tensors: Tensor) -> None:
    if is_grad_enabled() and any(t.requires_grad for t in tensors):
        raise NotImplementedError(_NO_GRAD.format(name))


class _Rule:
    """PyTorch's derivative formula of one function: ``grads(g, out, *operands)``."""

    complex = True  # written for complex values (dispatch refuses the other rules on them)

    def __init__(self, name: str, grads: Callable[..., tuple]) -> None:
        self.name, self.grads = name, grads

    def __repr__(self) -> str:
        return self.name

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        grads = self.grads(g, out, *inputs[1:])
        return (None, *(d if need else None for d, need in zip(grads, needs[1:], strict=True)))


def _ruled(name: str, rule: _Rule, value: Callable[..., Tensor], *operands: Any) -> Tensor:
    from .dispatch import with_rule

    return with_rule(rule, value, *operands, name=name)


def _as_view(out: Tensor, x: Tensor) -> Tensor:
    """Mark ``out`` (whose data is a NumPy view of ``x``'s) as a view of ``x``: it shares its
    version counter, and an in-place write into it under autograd refuses (it has no view op
    to make its history again from: Note [stale views])."""
    if out._view_base is None and np.may_share_memory(out._data, x._data):
        out._version_box = x._version_box
        out._view_base = x if x._view_base is None else x._view_base
        out._rewrites_seen = out._view_base._rewrites
    return out


def _view(x: Tensor, data: np.ndarray) -> Tensor:
    """A tensor on ``data`` (a NumPy view of ``x``'s): it shares ``x``'s memory and version."""
    out = Tensor._make(data, version_box=x._version_box)
    out._view_base = x if x._view_base is None else x._view_base
    out._rewrites_seen = out._view_base._rewrites
    return out


def is_complex(x: Tensor) -> bool:
    return x.dtype.category == 3


def real(x: Tensor) -> Tensor:
    """The real parts, a view (writes change ``x``); a real tensor is its own real part."""
    if x.dtype.category != 3:
        return x
    _eager("real", x)
    if is_grad_enabled() and x.requires_grad:  # PyTorch's graph: ViewAsReal, then Select
        return view_as_real(x)[..., 0]
    return _view(x, x._data.real)


def imag(x: Tensor) -> Tensor:
    """The imaginary parts, a view (writes change ``x``)."""
    if x.dtype.category != 3:
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    _eager("imag", x)
    if is_grad_enabled() and x.requires_grad:
        return view_as_real(x)[..., 1]
    return _view(x, x._data.imag)


def conj_physical(x: Tensor) -> Tensor:
    """A new tensor of the conjugates (a real tensor: itself, as PyTorch)."""
    if x.dtype.category != 3:
        return x
    _eager("conj_physical", x)
    return _ruled("ConjPhysicalBackward0", _CONJ, _conj_value, x)


def _conj_value(x: Tensor) -> Tensor:
    return Tensor._make(np.conj(x._data))


_CONJ = _Rule("conj", lambda g, out, x: (conj_physical(g),))


def conj(x: Tensor) -> Tensor:
    """The conjugates. PyTorch returns a lazy view with the conj bit; adjit materializes it (so
    ``is_conj()`` is False and writing into the result does not change ``x``)."""
    if x.dtype.category != 3:
        return x
    _eager("conj", x)
    return _ruled("ConjBackward0", _CONJ, _conj_value, x)


def resolve_conj(x: Tensor) -> Tensor:
    return x  # adjit never sets the conj bit


def angle(x: Tensor) -> Tensor:
    """The argument in radians (a real tensor: 0 or pi, NaN kept; integers give floats)."""
    _eager("angle", x)
    if x.dtype.category == 3:
        return _ruled("AngleBackward0", _ANGLE, _angle_value, x)
    if x.dtype.category < 2:
        x = x.to(D.get_default_dtype())
    from .functional import where

    value = lambda x: where(x < 0, np.pi, where(x != x, x, 0.0)).to(x.dtype)  # noqa: E731
    return _ruled("AngleBackward0", _ANGLE, value, x)


def _angle_value(x: Tensor) -> Tensor:
    return Tensor._make(np.angle(x._data).astype(D.to_value(x.dtype).np))


def _angle_grad(g: Tensor, out: Tensor, x: Tensor) -> tuple[Tensor]:
    # PyTorch's angle_backward: g * z / |z|^2 * i (0 at 0); a real input's gradient is 0
    from .creation import zeros_like
    from .functional import where

    if x.dtype.category != 3:
        return (zeros_like(x),)
    return (where(x == 0, 0.0, g * x / x.abs().pow(2) * 1j),)


_ANGLE = _Rule("angle", _angle_grad)


def _float_pair(name: str, a: Tensor, b: Tensor) -> None:
    for t in (a, b):
        if t.dtype not in (D.float32, D.float64):
            allowed = "Half, Float or Double"
            raise RuntimeError(
                f"Expected both inputs to be {allowed} tensors but got "
                f"{a.dtype.type_name} and {b.dtype.type_name}"
            )
    if a.dtype is not b.dtype:
        raise RuntimeError(
            f"Expected object of scalar type {a.dtype.type_name} but got scalar type "
            f"{b.dtype.type_name} for second argument"
        )


def complex(real: Tensor, imag: Tensor) -> Tensor:  # noqa: A001 - torch.complex
    """``real + imag * 1j`` (both float32 or both float64; they broadcast)."""
    _float_pair("complex", real, imag)
    _eager("complex", real, imag)
    broadcast_shapes(tuple(real.shape), tuple(imag.shape))  # PyTorch's error if they do not
    return _ruled("ComplexBackward0", _COMPLEX, _complex_value, real, imag)


def _complex_value(re: Tensor, im: Tensor) -> Tensor:
    with np.errstate(all="ignore"):
        r, i = np.broadcast_arrays(re._data, im._data)
        out = np.empty(r.shape, D.to_complex(re.dtype).np)
        out.real, out.imag = r, i
    return Tensor._make(out)


def _parts_of(g: Tensor, *operands: Tensor) -> tuple[Tensor, Tensor]:
    """(Re g, Im g), each summed back to its operand's shape (they broadcast)."""
    return tuple(  # type: ignore[return-value]
        p._sum_to(tuple(t.shape)) if tuple(p.shape) != tuple(t.shape) else p
        for p, t in zip((real(g), imag(g)), operands, strict=True)
    )


# PyTorch's ComplexBackward0: (Re g, Im g)
_COMPLEX = _Rule("complex", lambda g, out, re, im: _parts_of(g, re, im))


@autocast_op("polar")
def polar(abs: Tensor, angle: Tensor) -> Tensor:  # noqa: A002 - PyTorch's keyword names
    """``abs * (cos(angle) + sin(angle) * 1j)``."""
    _float_pair("polar", abs, angle)
    _eager("polar", abs, angle)
    broadcast_shapes(tuple(abs.shape), tuple(angle.shape))  # PyTorch's error if they do not
    return _ruled("PolarBackward0", _POLAR, _polar_value, abs, angle)


def _polar_value(abs: Tensor, angle: Tensor) -> Tensor:  # noqa: A002
    with np.errstate(all="ignore"):
        r, t = np.broadcast_arrays(abs._data, angle._data)
        out = np.empty(r.shape, D.to_complex(abs.dtype).np)
        out.real, out.imag = r * np.cos(t), r * np.sin(t)
    return Tensor._make(out)


def _polar_grad(g: Tensor, out: Tensor, r: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    # PyTorch's polar_backward: Re(conj(g) sgn(out)) (so 0 where abs is 0, and of the opposite
    # sign where abs < 0, as PyTorch) and Re(conj(g) * out * i)
    gc = conj_physical(g)
    parts = (real(gc * sgn(out)), real(gc * (out * 1j)))
    return tuple(  # type: ignore[return-value]
        p._sum_to(tuple(x.shape)) if tuple(p.shape) != tuple(x.shape) else p
        for p, x in zip(parts, (r, t), strict=True)
    )


_POLAR = _Rule("polar", _polar_grad)


def view_as_real(x: Tensor) -> Tensor:
    """A real view with a last dimension of 2 (real, imaginary parts)."""
    if x.dtype.category != 3:
        raise RuntimeError("view_as_real is only supported for complex tensors")
    _eager("view_as_real", x)
    if is_grad_enabled() and x.requires_grad:
        return _as_view(_ruled("ViewAsRealBackward0", _VIEW_AS_REAL, _real_view, x), x)
    return _real_view(x)


def _real_view(x: Tensor) -> Tensor:
    re = x._data.real
    data = np.lib.stride_tricks.as_strided(
        re, (*re.shape, 2), (*re.strides, re.itemsize), writeable=True
    )
    return _view(x, data)


# PyTorch's ViewAsRealBackward0 / ViewAsComplexBackward0: the other view of the cotangent
_VIEW_AS_REAL = _Rule("view_as_real", lambda g, out, x: (complex(g[..., 0], g[..., 1]),))
_VIEW_AS_COMPLEX = _Rule("view_as_complex", lambda g, out, x: (view_as_real(g),))


@autocast_op("view_as_complex")
def view_as_complex(x: Tensor) -> Tensor:
    """A complex view of a float tensor whose last dimension is 2 with stride 1."""
    if x.dtype not in (D.float32, D.float64):
        raise RuntimeError(
            "view_as_complex is only supported for half, float and double tensors, but got a "
            f"tensor of scalar type: {x.dtype.type_name}"
        )
    if x.ndim == 0 or x.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    if x._data.strides[-1] != x._data.itemsize:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % (2 * x._data.itemsize) for s in x._data.strides[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    _eager("view_as_complex", x)
    if is_grad_enabled() and x.requires_grad:
        return _as_view(_ruled("ViewAsComplexBackward0", _VIEW_AS_COMPLEX, _complex_view, x), x)
    return _complex_view(x)


def _complex_view(x: Tensor) -> Tensor:
    return _view(x, x._data.view(D.to_complex(x.dtype).np)[..., 0])


def sgn(x: Tensor) -> Tensor:
    """``z / |z|`` (0 at 0) for complex ``z``; the sign of a real one."""
    _eager("sgn", x)
    if is_grad_enabled() and x.requires_grad:
        from .dispatch import composite

        return composite("SgnBackward0", _sgn_decomposed, x)
    with np.errstate(all="ignore"):
        a = np.abs(x._data)
        return Tensor._make(np.where(a == 0, 0, x._data / a).astype(x._data.dtype))


def _sgn_decomposed(x: Tensor) -> Tensor:
    """``z / |z|``, 0 at 0 (also its gradient: the division sees 1 there, not 0)."""
    from .functional import where

    a = x.abs()
    zero = a == 0
    return where(zero, 0.0, x / where(zero, 1.0, a))


def nan_to_num(
    x: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
) -> Tensor:
    """Each part of a complex tensor with NaN and infinities replaced, as PyTorch."""
    _eager("nan_to_num", x)
    _no_grad_yet("nan_to_num", x)
    info = np.finfo(D.to_value(x.dtype).np)
    hi = info.max if posinf is None else posinf
    lo = info.min if neginf is None else neginf
    with np.errstate(all="ignore"):
        return Tensor._make(np.nan_to_num(x._data, nan=nan, posinf=hi, neginf=lo))


def conj_physical_(x: Tensor) -> Tensor:
    x.copy_(conj_physical(x))
    return x


# Note [complex refusals outside the primitives]: these functions read tensor data themselves
# (or cast complex to int64 first), so the primitive guard (ir/shapes.py) never sees a complex;
# they refuse with PyTorch's own error instead, before running
_REFUSED: dict[str, tuple[type[Exception], str]] = {
    "cummax": (NotImplementedError, '"cummax_cpu" not implemented for {}'),
    "cummin": (NotImplementedError, '"cummin_cpu" not implemented for {}'),
    "isin": (RuntimeError, "Unsupported input type encountered for isin(): {}"),
    "isneginf": (RuntimeError, "isneginf does not support complex inputs."),
    "isposinf": (RuntimeError, "isposinf does not support complex inputs."),
    "unique": (NotImplementedError, '"unique" not implemented for {}'),
    "unique_consecutive": (NotImplementedError, '"unique" not implemented for {}'),
    "bernoulli": (NotImplementedError, '"bernoulli_tensor_cpu_self_" not implemented for {}'),
    "bernoulli_": (NotImplementedError, '"bernoulli_scalar_cpu_" not implemented for {}'),
    "nansum": (RuntimeError, "nansum on CPU does not support complex inputs"),
    "nanmean": (RuntimeError, "nansum on CPU does not support complex inputs"),
    "gcd": (NotImplementedError, '"gcd_cpu" not implemented for {}'),
    "gcd_": (NotImplementedError, '"gcd_cpu" not implemented for {}'),
    "lcm": (NotImplementedError, '"lcm_cpu" not implemented for {}'),
    "lcm_": (NotImplementedError, '"lcm_cpu" not implemented for {}'),
    "abs_": (RuntimeError, "In-place abs is not supported for complex tensors."),
    "absolute_": (RuntimeError, "In-place abs is not supported for complex tensors."),
}


def _guarded(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    error, text = _REFUSED[name]

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        for a in args[:2]:
            if isinstance(a, Tensor) and a.dtype.category == 3:
                raise error(
                    text.format(a.dtype.type_name if "isin" in text else f"'{a.dtype.type_name}'")
                )
        return fn(*args, **kwargs)

    return run


def _with_complex(real_fn: Callable[..., Any], complex_fn: Callable[..., Any]) -> Any:
    @functools.wraps(real_fn)
    def run(x: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(x, Tensor) and x.dtype.category == 3:
            return complex_fn(x, *args, **kwargs)
        return real_fn(x, *args, **kwargs)

    return run


def _complex_random(original: Callable[..., Tensor], normal: bool) -> Callable[..., Tensor]:
    """rand/randn with a complex dtype: PyTorch draws the parts as a real (..., 2) tensor,
    real then imaginary part per element (randn: normal_ with std 1/sqrt(2) per part), so the
    numbers are PyTorch's for the seed (checked bit for bit)."""

    @functools.wraps(original)
    def run(*size: Any, dtype: Any = None, **kw: Any) -> Tensor:
        if dtype is None or not isinstance(dtype, D.DType) or dtype.category != 3:
            return original(*size, dtype=dtype, **kw)
        name = "randn" if normal else "rand"
        requires_grad = bool(kw.pop("requires_grad", False))
        if kw.get("out") is not None:
            raise NotImplementedError(f"{name}: adjit does not support out= with a complex dtype")
        _eager(name)
        from .ops_random import _size

        generator = kw.pop("generator", None)
        dims = _size(size, {k: v for k, v in kw.items() if k == "size"})
        value = D.to_value(dtype)
        if normal:
            parts = Tensor._make(np.empty((*dims, 2), value.np))
            parts.normal_(0, 1 / math.sqrt(2), generator=generator)  # (as ATen: std / sqrt(2))
        else:
            parts = original(*dims, 2, dtype=value, generator=generator)
        data = parts._data.view(dtype.np)[..., 0]
        return Tensor._make(np.ascontiguousarray(data)).requires_grad_(requires_grad)

    return run


def _complex_var(var: Callable[..., Tensor], mean: Callable[..., Tensor], kind: str) -> Any:
    """var/std (and var_mean/std_mean) of a complex tensor: as ATen, the real parts' variance
    plus the imaginary parts' (std: its square root); the mean stays complex."""

    def run(
        x: Tensor,
        dim: Any = None,
        unbiased: Any = None,
        keepdim: bool = False,
        *,
        correction: Any = None,
    ) -> Any:
        _eager(kind, x)
        if isinstance(dim, bool):  # var(x, False): the (input, unbiased) overload
            dim, unbiased = None, dim

        def value(x: Tensor) -> Tensor:
            parts = [
                var(p, dim, unbiased, keepdim, correction=correction) for p in (x.real, x.imag)
            ]
            v = parts[0] + parts[1]
            return v.sqrt() if kind.startswith("std") else v

        if kind.endswith("_mean"):
            return value(x), mean(x, dim, keepdim)
        from .dispatch import composite

        return composite("VarBackward0" if kind == "var" else "StdBackward0", value, x)

    return run


def guard_functions(namespace: dict[str, Any]) -> None:
    """Wrap the torch.* functions of ``namespace`` that need a complex refusal or rule."""
    for name in _REFUSED:
        if name in namespace:
            namespace[name] = _guarded(name, namespace[name])
    namespace["sgn"] = _with_complex(namespace["sgn"], sgn)
    namespace["nan_to_num"] = _with_complex(namespace["nan_to_num"], nan_to_num)
    for kind in ("var", "std", "var_mean", "std_mean"):
        stat = _complex_var(namespace["var"], namespace["mean"], kind)
        namespace[kind] = _with_complex(namespace[kind], stat)
    namespace["rand"] = _complex_random(namespace["rand"], normal=False)
    namespace["randn"] = _complex_random(namespace["randn"], normal=True)


_REQUIRES_GRAD_SCALAR = (
    "Converting a tensor with requires_grad=True to a scalar may lead to unexpected behavior.\n"
    "Consider using tensor.detach() first."
)
_WARNED: list[bool] = []  # PyTorch's TORCH_WARN_ONCE: once per process


def warn_scalar_of_requires_grad(t: Tensor) -> None:
    """``float(t)``/``complex(t)`` of a tensor that requires grad under grad mode warns once,
    at the line that converted it (int() and item() do not warn, as in PyTorch)."""
    if not _WARNED and t.requires_grad and is_grad_enabled():
        _WARNED.append(True)
        warnings.warn(_REQUIRES_GRAD_SCALAR, UserWarning, stacklevel=3)


def _scalar(kind: type, spelling: str) -> Callable[[Tensor], Any]:
    """``float(t)``/``int(t)`` of a one-element complex tensor: its real part if the imaginary
    part is 0, else PyTorch's error; ``complex(t)`` of any tensor."""

    def convert(self: Tensor) -> Any:
        if self.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        if kind is not int:
            warn_scalar_of_requires_grad(self)
        v = self.item()
        if kind is not builtins.complex and isinstance(v, builtins.complex):
            if v.imag != 0:
                raise RuntimeError(f"value cannot be converted to type {spelling} without overflow")
            v = v.real
        return kind(v)

    return convert


FUNCTIONS = [
    "is_complex",
    "real",
    "imag",
    "conj",
    "conj_physical",
    "resolve_conj",
    "angle",
    "complex",
    "polar",
    "view_as_real",
    "view_as_complex",
]


def install(cls: type) -> None:
    """Bind the complex methods and properties on Tensor."""
    for name in ("is_complex", "conj", "conj_physical", "resolve_conj", "angle"):
        setattr(cls, name, globals()[name])
    cls.real = property(real)  # type: ignore[attr-defined]
    cls.imag = property(imag)  # type: ignore[attr-defined]
    for name in _REFUSED:
        if hasattr(cls, name):
            setattr(cls, name, _guarded(name, getattr(cls, name)))
    cls.sgn = _with_complex(cls.sgn, sgn)  # type: ignore[attr-defined]
    from . import functional as F

    for kind in ("var", "std"):
        stat = _complex_var(F.var, F.mean, kind)
        setattr(cls, kind, _with_complex(getattr(cls, kind), stat))
    cls.nan_to_num = _with_complex(cls.nan_to_num, nan_to_num)  # type: ignore[attr-defined]
    cls.conj_physical_ = _with_complex(cls.conj_physical_, conj_physical_)  # type: ignore
    cls.adjoint = _with_complex(cls.adjoint, lambda x: conj(x.mT))  # type: ignore
    for name in ("mH", "H"):
        prop = getattr(cls, name)
        setattr(cls, name, property(_with_complex(prop.fget, lambda x: conj(x.mT))))
    cls.__float__ = _scalar(float, "double")  # type: ignore[attr-defined]
    cls.__int__ = _scalar(int, "int64_t")  # type: ignore[attr-defined]
    cls.__long__ = cls.__int__  # type: ignore[attr-defined]
    cls.__complex__ = _scalar(builtins.complex, "")  # type: ignore[attr-defined]
    cls.cfloat = lambda self: self.to(D.complex64)  # type: ignore[attr-defined]
    cls.cdouble = lambda self: self.to(D.complex128)  # type: ignore[attr-defined]
    # complex32: PyTorch's CPU kernels do + - * on it; adjit does not store it (a clear
    # TypeError naming the dtype, as .to(torch.complex32))
    cls.chalf = lambda self, memory_format=None: self.to(D.complex32)  # type: ignore[attr-defined]
