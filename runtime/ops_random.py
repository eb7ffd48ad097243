"""Random tensors (``rand``, ``randn``, ``randint``, ``randperm``, ``normal``, ``bernoulli``,
``multinomial``, ``poisson``, the ``*_like`` forms) and the in-place fills (``uniform_``,
``normal_``, ``random_``...), with PyTorch's checks, drawing PyTorch's numbers for a seed;
while tracing, each records a draw made at call time (Note [random numbers in compiled code])."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.dtypes import DType
from ..ir.ops import Op
from ..ir.random import SAMPLERS
from ..ir.shapes import infer_size
from ..ir.sizes import as_size
from . import inplace as I
from . import random_bounds as B
from . import random_draws as S
from . import trace_state
from .generator import default_generator, resolve
from .layout import check_layout
from .random_draws import DRAWS, values_like
from .tensor import Tensor, _dims


def _tracing() -> bool:
    return trace_state.current() is not None


def traced_sample(
    sampler: str, shape: Any, dt: DType, generator: Any, *inputs: Tensor, **params: Any
) -> Tensor:
    """A draw recorded in the trace, made when the compiled program runs (Note [random numbers
    in compiled code] in ir/random.py): ``sampler`` of ``random_draws.SAMPLERS`` on the
    generator object, its tensor operands detached (a sample has no derivative)."""
    from .dispatch import apply

    trace = trace_state.current()
    gen = resolve(generator)
    operands = []
    for t in inputs:
        if not getattr(t, "_is_tracer", False) and trace.involves([t]):
            t = trace.lift(t)  # a tensor from outside: read afresh at every call
        operands.append(t.detach() if getattr(t, "_is_tracer", False) or t.requires_grad else t)
    return apply(
        Op.RANDOM,
        *operands,
        sampler=sampler,
        shape=tuple(as_size(n) for n in shape),
        dtype=dt,
        params=tuple(sorted(params.items())),
        generator=None if gen is default_generator else gen,
    )


# ---- arguments ------------------------------------------------------------------------------
def _size(size: tuple, kw: dict[str, Any]) -> tuple[int, ...]:
    if "size" in kw:
        size = (kw.pop("size"),)
    dims = _dims(size)
    for d in dims:
        if d < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {d}: {list(dims)}")
    return dims


def _not_implemented(kernel: str, dt: DType) -> NotImplementedError:
    return NotImplementedError(f"\"{kernel}\" not implemented for '{dt.type_name}'")


def _floating(dt: DType, kernel: str) -> None:
    if not dt.is_floating_point or "complex" in dt.name:
        raise _not_implemented(kernel, dt)


def _check_device(device: Any) -> None:
    from .creation import device as device_type

    if device is not None:
        device_type(str(device))


def _result(
    data: np.ndarray, requires_grad: bool, out: Tensor | None = None, device: Any = None
) -> Tensor:
    _check_device(device)
    if out is not None:
        return _into_out(out, data)
    t = Tensor._make(data)
    if requires_grad:
        if not t.dtype.is_floating_point:
            raise RuntimeError(
                "Only Tensors of floating point and complex dtype can require gradients"
            )
        t._requires_grad = True
    return t


def _into_out(out: Tensor, data: np.ndarray) -> Tensor:
    """``out=``: PyTorch resizes ``out`` to the result's shape and writes into it."""
    if not isinstance(out, Tensor):
        raise TypeError(f"argument 'out' must be Tensor, not {type(out).__name__}")
    if out.requires_grad and out.is_leaf:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation."
        )
    if tuple(out.shape) == data.shape:
        out._data[...] = data.astype(out._data.dtype)
    else:
        out._data = data.astype(out._data.dtype)
    out._version_box[0] += 1
    return out


def _traced_result(value: Tensor, requires_grad: bool, out: Tensor | None, device: Any) -> Tensor:
    """A traced sample as the function's result: ``out=`` of the sample's shape is written in
    place (as eager mode writes it); ``requires_grad=True`` on a compiled value refuses."""
    _check_device(device)
    if requires_grad:
        value.requires_grad_(True)  # the tracer's clear refusal
    if out is None:
        return value
    if tuple(out.shape) != tuple(value.shape):
        raise trace_state.TracingError(
            "adjit.compile: out= of another shape than the sample (PyTorch resizes it) is not "
            "supported inside a compiled function; use the returned tensor"
        )
    return out.copy_(value)


# ---- creation -------------------------------------------------------------------------------
def _create(
    size: tuple[int, ...],
    dt: DType,
    sampler: str,
    params: dict[str, Any],
    generator: Any,
    requires_grad: bool,
    out: Tensor | None,
    device: Any,
) -> Tensor:
    """A C-ordered sample of ``size``: drawn now, or recorded in the trace."""
    if _tracing():
        value = traced_sample(sampler, size, dt, generator, **params)
        return _traced_result(value, requires_grad, out, device)
    data = SAMPLERS[sampler](resolve(generator), shape=size, dtype=dt, **params)
    return _result(data, requires_grad, out, device)


def rand(
    *size: Any,
    generator: Any = None,
    out: Tensor | None = None,
    dtype: DType | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    pin_memory: bool = False,
    **kw: Any,
) -> Tensor:
    """Uniform samples on [0, 1) (PyTorch's numbers for the generator's seed)."""
    check_layout(layout, "rand")
    dims = _size(size, kw)
    dt = dtype or (out.dtype if out is not None else D.get_default_dtype())
    _floating(dt, "check_uniform_bounds")
    params = {"low": 0.0, "high": 1.0}
    return _create(dims, dt, "uniform", params, generator, requires_grad, out, device)


def randn(
    *size: Any,
    generator: Any = None,
    out: Tensor | None = None,
    dtype: DType | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    pin_memory: bool = False,
    **kw: Any,
) -> Tensor:
    """Standard normal samples (PyTorch's numbers for the generator's seed)."""
    check_layout(layout, "randn")
    dims = _size(size, kw)
    dt = dtype or (out.dtype if out is not None else D.get_default_dtype())
    _floating(dt, "normal_kernel_cpu")
    params = {"mean": 0.0, "std": 1.0}
    return _create(dims, dt, "normal", params, generator, requires_grad, out, device)


def _int_arg(v: Any) -> int:
    return int(v.item()) if isinstance(v, Tensor) else int(v)


def randint(
    low: Any = 0,
    high: Any = None,
    size: Any = None,
    *,
    generator: Any = None,
    out: Tensor | None = None,
    dtype: DType | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    """Integers uniform on [low, high): ``random() % (high - low) + low``."""
    check_layout(layout, "randint")
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:  # randint(high, size=...)
        low, high = 0, low
    if high is None or size is None:
        raise TypeError("randint() missing required argument 'size' (pos 2)")
    dt = dtype or (out.dtype if out is not None else D.int64)
    dims = _size((size,), {})
    span, base = B.plan(dt, B.int64_arg(low), B.int64_arg(high)) or (0, 0)
    if requires_grad and not dt.is_floating_point:
        raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
    params = {"span": span, "base": base}
    return _create(dims, dt, "random_from_to", params, generator, requires_grad, out, device)


def randperm(
    n: int,
    *,
    generator: Any = None,
    out: Tensor | None = None,
    dtype: DType | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    """A random permutation of 0..n-1 (PyTorch's swap sequence)."""
    check_layout(layout, "randperm")
    n = _int_arg(n)
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    dt = dtype or (out.dtype if out is not None else D.int64)
    if dt is D.bool_:
        raise _not_implemented("randperm", dt)
    integral = not dt.is_floating_point
    if n > 0 and integral and n - 1 > int(np.iinfo(dt.np).max):
        ctype = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int"}
        raise RuntimeError(
            f"value cannot be converted to type {ctype.get(dt.name, dt.name)} without overflow"
        )
    return _create((n,), dt, "randperm", {}, generator, requires_grad, out, device)


def _like(
    input: Tensor,
    dtype: DType | None,
    sampler: str,
    params: dict[str, Any],
    generator: Any,
    requires_grad: bool,
    device: Any,
    memory_format: Any,
) -> Tensor:
    """A ``*_like`` sample: PyTorch's ``empty_like`` keeps the input's layout (its strides), so
    the draws follow the input's memory order (and a transposed input's ``randn_like`` takes
    the non-contiguous path); traced values have no strides: C order."""
    dt = dtype or input.dtype
    if _tracing():
        keep_layout = memory_format is None or "preserve" in str(memory_format)
        order = traced_order(input) if keep_layout else None
        if order is not None:
            params = {**params, "order": order}
        value = traced_sample(sampler, tuple(input.shape), dt, generator, **params)
        return _traced_result(value, requires_grad, None, device)
    gen = resolve(generator)
    keep_layout = memory_format is None or "preserve" in str(memory_format)
    like = np.empty_like(input._data, dtype=dt.np, order="K" if keep_layout else "C")
    data = values_like(like, DRAWS[sampler](**params), gen)
    return _result(data, requires_grad, None, device)


def rand_like(
    input: Tensor,
    *,
    generator: Any = None,
    dtype: DType | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    memory_format: Any = None,
) -> Tensor:
    check_layout(layout, "rand_like")
    _floating(dtype or input.dtype, "check_uniform_bounds")
    params = {"low": 0.0, "high": 1.0}
    return _like(input, dtype, "uniform", params, generator, requires_grad, device, memory_format)


def randn_like(
    input: Tensor,
    *,
    generator: Any = None,
    dtype: DType | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    memory_format: Any = None,
) -> Tensor:
    check_layout(layout, "randn_like")
    _floating(dtype or input.dtype, "normal_kernel_cpu")
    params = {"mean": 0.0, "std": 1.0}
    return _like(input, dtype, "normal", params, generator, requires_grad, device, memory_format)


def randint_like(
    input: Tensor,
    low: Any = 0,
    high: Any = None,
    *,
    generator: Any = None,
    dtype: DType | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    memory_format: Any = None,
) -> Tensor:
    check_layout(layout, "randint_like")
    if high is None:
        low, high = 0, low
    dt = dtype or input.dtype
    span, base = B.plan(dt, B.int64_arg(low), B.int64_arg(high)) or (0, 0)
    params = {"span": span, "base": base}
    return _like(
        input, dtype, "random_from_to", params, generator, requires_grad, device, memory_format
    )


# ---- normal ---------------------------------------------------------------------------------
def _check_std(std: float) -> None:
    if not std >= 0.0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(std)}")


def _fmt(v: float) -> str:
    """A double as C++'s ``<<`` prints it (6 significant digits)."""
    return f"{v:g}"


class _ZeroGrad:
    """PyTorch's formula for a sampler's parameters: a zero gradient (``zeros_like(grad)``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        zeros = [
            Tensor._make(np.zeros(x.shape, x.dtype.np)) if need and isinstance(x, Tensor) else None
            for x, need in zip(inputs[1:], needs[1:], strict=True)
        ]
        return (None, *zeros)


def sampled(name: str, data: np.ndarray | Tensor, *params: Any) -> Tensor:
    """A sample whose history (when a parameter requires grad) is ``name`` with zero gradients
    (``data``: the values, or the traced sample)."""
    from .dispatch import with_rule

    value = data if isinstance(data, Tensor) else Tensor._make(data)
    return with_rule(_ZeroGrad(name), lambda *_: value, *params, name=name)


def _sample_of(
    sampler: str, shape: tuple[int, ...], dt: DType, generator: Any, *inputs: Tensor, **params: Any
) -> np.ndarray | Tensor:
    """The sampler's values now, or its traced sample (inputs: its tensor operands)."""
    if _tracing():
        return traced_sample(sampler, shape, dt, generator, *inputs, **params)
    arrays = [t._data for t in inputs]
    return SAMPLERS[sampler](resolve(generator), *arrays, shape=shape, dtype=dt, **params)


def _with_out(res: Tensor, out: Tensor | None) -> Tensor:
    if out is None:
        return res
    if _tracing():
        return _traced_result(res, False, out, None)
    return _into_out(out, res._data)


def normal(
    mean: Any,
    std: Any = 1.0,
    size: Any = None,
    *,
    generator: Any = None,
    out: Tensor | None = None,
    dtype: DType | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    """``normal(mean, std)`` with tensor or float mean and std, or ``normal(mean, std, size)``.
    With a tensor, PyTorch fills standard normals of the broadcast shape (``std`` folded in
    when it is a float), then ``* std`` and ``+ mean`` with a rounding each; the gradients to
    mean and std are zero (NormalBackward1/2/3)."""
    check_layout(layout, "normal")
    t_mean, t_std = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not t_mean and not t_std:
        if size is None:
            raise TypeError(
                "normal() received an invalid combination of arguments - got (float, float), "
                "but expected (float mean, float std, tuple of ints size, *, Generator "
                "generator = None, Tensor out = None, torch.dtype dtype = None, ...)"
            )
        _check_std(float(std))
        dt = dtype or (out.dtype if out is not None else D.get_default_dtype())
        _floating(dt, "normal_kernel_cpu")
        params = {"mean": float(mean), "std": float(std)}
        return _create(_size((size,), {}), dt, "normal", params, generator, requires_grad, out,
                       device)  # fmt: skip
    if not t_std:
        _check_std(float(std))
    dt = (mean if t_mean else std).dtype
    _floating(dt, "normal_kernel_cpu")
    shapes = [tuple(v.shape) for v in (mean, std) if isinstance(v, Tensor)]
    shape = _broadcast(shapes)
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    floats = {"mean": None if t_mean else float(mean), "std": None if t_std else float(std)}
    data = _sample_of("normal_tensor", shape, dt, generator, *tensors, **floats)
    name = f"NormalBackward{2 * t_std + t_mean}"  # 1: tensor mean, 2: tensor std, 3: both
    return _with_out(sampled(name, data, *tensors), out)


def _broadcast(shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    """PyTorch's broadcast of the shapes, with its error text."""
    out: tuple[int, ...] = ()
    for shape in shapes:
        out = infer_size(out, shape, RuntimeError)
    return out


# ---- bernoulli, multinomial, poisson --------------------------------------------------------
def _probability_tensor(p: Tensor, kernel: str) -> None:
    if not p.dtype.is_floating_point:
        raise _not_implemented(kernel, p.dtype)


def bernoulli(
    input: Tensor, p: Any = None, *, generator: Any = None, out: Tensor | None = None
) -> Tensor:
    """``bernoulli(input)``: 1 with probability ``input`` per element (BernoulliBackward0, zero
    gradient); ``bernoulli(input, p)``: a float ``p`` for every element, shaped like input."""
    shape = tuple(input.shape)
    if p is not None:
        prob = _bernoulli_p(float(p))
        data = _sample_of("bernoulli_scalar", shape, input.dtype, generator, p=prob)
        return _with_out(data if isinstance(data, Tensor) else Tensor._make(data), out)
    _probability_tensor(input, "bernoulli_tensor_cpu_p_")
    data = _sample_of("bernoulli_tensor", shape, input.dtype, generator, input)
    return _with_out(sampled("BernoulliBackward0", data, input), out)


def _bernoulli_p(p: float) -> float:
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={_fmt(p)}")
    return p


def multinomial(
    input: Tensor,
    num_samples: int,
    replacement: bool = False,
    *,
    generator: Any = None,
    out: Tensor | None = None,
) -> Tensor:
    """Indices drawn from each row's categories (``random_draws.multinomial``)."""
    n_sample = int(num_samples)
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.dtype.is_floating_point:
        raise RuntimeError(
            "multinomial only supports floating-point dtypes for input, got: "
            f"{input.dtype.type_name}"
        )
    if n_sample <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    n_categories = input.shape[-1]
    if not replacement and n_sample > n_categories:
        raise RuntimeError(
            "cannot sample n_sample > prob_dist.size(-1) samples without replacement"
        )
    if n_categories > 2**24:
        raise RuntimeError("number of categories cannot exceed 2^24")
    shape = (*input.shape[:-1], n_sample)
    params = {"n_sample": n_sample, "replacement": bool(replacement)}
    data = _sample_of("multinomial", shape, D.int64, generator, input, **params)
    if isinstance(data, Tensor):
        return _with_out(data, out)
    return _result(data, False, out)


def poisson(input: Tensor, generator: Any = None) -> Tensor:
    """Poisson counts with the given rates (PoissonBackward0: zero gradient)."""
    if not input.dtype.is_floating_point:
        raise _not_implemented("poisson_cpu", input.dtype)
    data = _sample_of("poisson", tuple(input.shape), input.dtype, generator, input)
    return sampled("PoissonBackward0", data, input)


# ---- in-place fills -------------------------------------------------------------------------
def _fill(self: Tensor, grad_name: str, sampler: str, generator: Any, **params: Any) -> Tensor:
    """Overwrite ``self`` with draws in its memory order; its history becomes ``grad_name``
    (no gradient reaches the old values), as PyTorch's in-place samplers. Traced: a sample of
    its shape written into the traced value, into a tensor from outside after each call (a
    buffer), or made the value of a tensor created inside (``_become``)."""
    from .methods import _overwrite

    I._check_leaf(self)
    if _tracing():
        values = traced_sample(sampler, tuple(self.shape), self.dtype, generator, **params)
        if _made_inside(self):
            return _become(self, values)
    else:
        gen = resolve(generator)
        values = Tensor._make(values_like(self._data, DRAWS[sampler](**params), gen))
    return I.inplace(self, _overwrite(grad_name, values))


def _made_inside(self: Tensor) -> bool:
    """A concrete tensor made inside the function being traced (``torch.empty(n)``,
    ``x.new_empty(...)``): its values are constants of the trace, not a traced value."""
    return not getattr(self, "_is_tracer", False) and not trace_state.current().involves([self])


def _become(self: Tensor, value: Tensor) -> Tensor:
    """``torch.empty(n).uniform_()`` traced: the tensor made inside becomes the traced sample
    from here on (earlier uses keep its old values, as they read them before the fill). A view
    of such a tensor would leave its base (or its other views) stale: refused. A leaf that
    requires grad (``nn.Linear(4, 3)`` made inside: Note [modules made while tracing]) stays
    one, and a Parameter stays a Parameter."""
    if self._view_base is not None:
        raise trace_state.TracingError(
            "adjit.compile: an in-place random fill of a view of a tensor created inside the "
            "compiled function is not supported; fill the whole tensor, or draw out of place"
        )
    requires = self._requires_grad
    # the tracer class (the frontend's, reached without importing it), as a subclass of
    # ``self``'s own class when that is a Tensor subclass
    self.__class__ = traced_class(type(value), type(self))
    self.__dict__.update(value.__dict__)
    trace = trace_state.current()
    trace.track(self)
    if requires:
        trace.make_leaf(self, True)
    return self


# Note [modules made while tracing]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# ``nn.Linear(4, 3)`` inside a compiled function makes its parameters as eagerly, ``Parameter(
# torch.empty(...))``, then fills them with ``init.kaiming_uniform_``/``uniform_``: a draw
# recorded in the trace (Note [random numbers in compiled code]), so each call draws fresh
# weights from adjit's generator, the numbers eager mode draws. The filled tensor becomes a
# tracer in place (``_become``) and must stay what it was: a leaf that requires grad (gradients
# reach it: ``backward()`` inside sets its ``.grad``, and the output requires grad as eagerly)
# and an instance of its class (``isinstance(p, nn.Parameter)``, which ``Module.parameters``
# and ``__setattr__`` rely on). So its class becomes one deriving from the tracer class first
# (tracer behaviour) and its own class second; ``_concrete_class`` names the class it takes
# again when a graph break makes it a concrete tensor (frontend/breaks.py ``_become``).
_TRACED_CLASSES: dict[tuple[type, type], type] = {}


def traced_class(tracer: type, cls: type) -> type:
    """The class of an instance of the Tensor subclass ``cls`` standing for a traced value
    (see the Note): ``tracer`` itself for a plain Tensor."""
    if cls is Tensor or issubclass(tracer, cls):
        return tracer
    cls = getattr(cls, "_concrete_class", cls)  # (a traced one already)
    made = _TRACED_CLASSES.get((tracer, cls))
    if made is None:
        attrs = {"_concrete_class": cls, "__module__": cls.__module__}
        made = _TRACED_CLASSES[(tracer, cls)] = type(cls.__name__, (tracer, cls), attrs)
    return made


def _finite_float(self: Tensor, kernel: str) -> None:
    _floating(self.dtype, kernel)


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator: Any = None,
             **kw: Any) -> Tensor:  # fmt: skip
    low, high = float(kw.pop("from", a)), float(kw.pop("to", b))
    _finite_float(self, "check_uniform_bounds")
    if not low <= high:
        raise RuntimeError(
            f"uniform_ expects to return a [from, to) range, but found from={_fmt(low)} > "
            f"to={_fmt(high)}"
        )
    limit = float(np.finfo(self.dtype.np).max)
    if high - low > limit:
        raise RuntimeError(
            f"uniform_ expects to-from <= std::numeric_limits<{self.dtype.type_name}>::max(), "
            f"but found to={_fmt(high)} and from={_fmt(low)} which result in to-from to "
            "exceed the limit"
        )
    return _fill(self, "UniformBackward0", "uniform", generator, low=low, high=high)


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
    _check_std(float(std))
    _finite_float(self, "normal_kernel_cpu")
    return _fill(self, "NormalBackward0", "normal", generator, mean=float(mean), std=float(std))


def exponential_(self: Tensor, lambd: float = 1.0, *, generator: Any = None) -> Tensor:
    lam = float(lambd)
    if not lam > 0.0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={_fmt(lam)}")
    _continuous(self.dtype)
    return _fill(self, "ExponentialBackward0", "exponential", generator, lambd=lam)


def _continuous(dtype: DType) -> None:
    """exponential_'s check of the dtype it fills."""
    if not dtype.is_floating_point:
        raise RuntimeError(
            "Exponential distribution is a continuous probability distribution. dtype must be "
            f"a floating point but you specified {dtype.type_name}"
        )


def geometric_(self: Tensor, p: float, *, generator: Any = None) -> Tensor:
    prob = float(p)
    if not 0 < prob < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={_fmt(prob)}")
    if self.dtype is D.bool_:
        raise _not_implemented("geometric_cpu", self.dtype)
    return _fill(self, "GeometricBackward0", "geometric", generator, p=prob)


def cauchy_(
    self: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator: Any = None
) -> Tensor:
    if not float(sigma) > 0.0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={_fmt(float(sigma))}")
    if not self.dtype.is_floating_point:
        raise RuntimeError(
            "Cauchy distribution is a continuous probability distribution. dtype must be a "
            f"floating point but you specified {B.C_NAMES.get(self.dtype.name, self.dtype.name)}"
        )
    params = {"median": float(median), "sigma": float(sigma)}
    return _fill(self, "CauchyBackward0", "cauchy", generator, **params)


def log_normal_(
    self: Tensor, mean: float = 1.0, std: float = 2.0, *, generator: Any = None
) -> Tensor:
    if not float(std) > 0.0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={_fmt(float(std))}")
    _finite_float(self, "log_normal_cpu")
    params = {"mean": float(mean), "std": float(std)}
    return _fill(self, "LogNormalBackward0", "log_normal", generator, **params)


def bernoulli_(self: Tensor, p: Any = 0.5, *, generator: Any = None) -> Tensor:
    """``bernoulli_(p)``: a float ``p`` (double uniforms), or a tensor of probabilities
    broadcast to ``self``."""
    if not isinstance(p, Tensor):
        prob = _bernoulli_p(float(p))
        return _fill(self, "BernoulliBackward2", "bernoulli_scalar", generator, p=prob)
    from .methods import _overwrite

    _probability_tensor(p, "bernoulli_tensor_cpu_p_")
    if _tracing():
        _broadcast([tuple(p.shape), tuple(self.shape)])
        I._check_leaf(self)
        values = traced_sample("bernoulli_tensor", tuple(self.shape), self.dtype, generator, p)
        if _made_inside(self):
            return _become(self, values)
    else:
        S.check_probabilities(p._data)
        np.broadcast_to(p._data, tuple(self.shape))
        gen = resolve(generator)
        I._check_leaf(self)
        drawn = S.bernoulli_values(gen, self._data, p._data)
        values = Tensor._make(drawn.astype(self.dtype.np))
    return I.inplace(self, _overwrite("BernoulliBackward1", values))


def random_(self: Tensor, *args: Any, generator: Any = None, **kw: Any) -> Tensor:
    """``random_()``, ``random_(to)``, ``random_(from, to)`` (``to=None``: the dtype's top),
    with PyTorch's bounds (runtime/random_bounds.py)."""
    if "from" in kw or "to" in kw:
        args = (kw.pop("from", 0), kw.pop("to", None))
    if not args:
        return _fill(self, "RandomBackward2", "random_default", generator)
    if len(args) == 1:
        low, high, name = 0, B.int64_arg(args[0]), "RandomBackward1"
    else:
        low, name = B.int64_arg(args[0]), "RandomBackward0"
        high = None if args[1] is None else B.int64_arg(args[1])
    span_base = B.plan(self.dtype, low, high)
    if span_base is None:
        B.check_full_range(self.dtype)
        return _fill(self, name, "random_full_range", generator)
    span, base = span_base
    return _fill(self, name, "random_from_to", generator, span=span, base=base)


INPLACE = {
    "uniform_": uniform_,
    "normal_": normal_,
    "exponential_": exponential_,
    "geometric_": geometric_,
    "cauchy_": cauchy_,
    "log_normal_": log_normal_,
    "bernoulli_": bernoulli_,
    "random_": random_,
}


def bernoulli_method(self: Tensor, p: Any = None, *, generator: Any = None) -> Tensor:
    return bernoulli(self, p, generator=generator)


def multinomial_method(
    self: Tensor, num_samples: int, replacement: bool = False, *, generator: Any = None
) -> Tensor:
    return multinomial(self, num_samples, replacement, generator=generator)


METHODS = {"bernoulli": bernoulli_method, "multinomial": multinomial_method}


def _memory_order(input: Tensor) -> list[int] | None:
    """The dims of a concrete, non-overlapping and dense but permuted (e.g. transposed) tensor
    from outermost to innermost in memory; None for C-contiguous, overlapping, strided or
    traced tensors (PyTorch's empty_like keeps a dense input's strides, else is contiguous)."""
    if getattr(input, "_is_tracer", False):
        return None
    data = input._data
    if data.flags.c_contiguous or data.size == 0 or data.ndim < 2:
        return None
    order = sorted(range(data.ndim), key=lambda d: -abs(data.strides[d]))
    expected = data.itemsize
    for d in reversed(order):
        if data.shape[d] != 1:
            if data.strides[d] != expected:
                return None
            expected *= data.shape[d]
    return order


def traced_order(t: Tensor) -> tuple[int, ...] | None:
    """The memory order (outermost dim first) eager mode's tensor would have, for a traced
    value made by permutes (``transpose``, ``t``, ``permute``: a batch_first LSTM's output) of a
    traced value taken as contiguous; None for C order. Traced values have no strides: this
    is what lets a compiled ``dropout(x.transpose(0, 1))`` draw as eager mode (Note [random
    numbers in compiled code])."""
    to_base = list(range(t.ndim))  # t's dim d is dim to_base[d] of the value it views
    step = getattr(t, "_view_step", None)
    while step is not None and step[0] is Op.PERMUTE:
        axes = step[1]["axes"]
        to_base = [axes[d] for d in to_base]
        t = t._view_of  # type: ignore[attr-defined]
        step = getattr(t, "_view_step", None)
    order = tuple(int(d) for d in np.argsort(to_base, kind="stable"))
    return None if order == tuple(range(len(order))) else order


def dropout_noise(input: Tensor, p: float, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """PyTorch's CPU dropout mask: ``empty(shape).bernoulli_(1 - p).div_(1 - p)`` in the input's
    dtype (``shape``: the input's, or the feature-dropout ``(N, C, 1, ...)``); no draws at
    ``p == 1``, where PyTorch multiplies by zero."""
    dims = tuple(input.shape) if shape is None else shape
    order = _memory_order(input) if shape is None else None
    return S.dropout_values(resolve(None), dims, np.dtype(input.dtype.np), p, order)


def dropout_mask(input: Tensor, p: float, shape: tuple[int, ...] | None = None) -> Tensor:
    """``dropout_noise`` as a tensor without history: drawn now, or traced (a RANDOM equation
    drawing the same mask, C order, when the compiled program runs)."""
    dims = tuple(input.shape) if shape is None else shape
    if _tracing() and p != 1.0:
        order = traced_order(input) if shape is None else None
        params = {"p": float(p)} if order is None else {"p": float(p), "order": order}
        return traced_sample("dropout", dims, input.dtype, None, **params)
    return Tensor._make(dropout_noise(input, p, shape))


def alpha_dropout_noise(input: Tensor, p: float, shape: tuple[int, ...]) -> tuple[Tensor, Tensor]:
    """Alpha dropout's ``a * keep`` and ``b`` (``random_draws.alpha_dropout``), drawn now or
    traced."""
    if _tracing():
        both = traced_sample("alpha_dropout", (2, *shape), input.dtype, None, p=float(p))
        return both[0], both[1]
    both_data = S.alpha_dropout(resolve(None), shape=(2, *shape), dtype=input.dtype, p=float(p))
    return Tensor._make(both_data[0]), Tensor._make(both_data[1])


def rrelu_noise(input: Tensor, lower: float, upper: float) -> Tensor:
    """rrelu's slopes in training (``random_draws.rrelu``), drawn now or traced: one draw per
    element ``<= 0``, so the count depends on the values and is read when the draw runs."""
    wide = D.float32 if input.dtype.is_reduced_float else input.dtype
    params = {"lower": float(lower), "upper": float(upper)}
    data = _sample_of("rrelu", tuple(input.shape), wide, None, input, **params)
    return data if isinstance(data, Tensor) else Tensor._make(data)


def exponential_like(input: Tensor) -> Tensor:
    """``empty_like(input).exponential_()`` (a contiguous input's layout), drawn now or traced."""
    _continuous(input.dtype)  # before any draw
    data = _sample_of("exponential", tuple(input.shape), input.dtype, None, lambd=1.0)
    return data if isinstance(data, Tensor) else Tensor._make(data)
