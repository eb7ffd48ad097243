"""Random tensors (``rand``, ``randn``, ``randint``, ``randperm``, ``normal``, ``bernoulli``,
``multinomial``, ``poisson``, the ``*_like`` forms) and the in-place fills (``uniform_``,
``normal_``, ``random_``...), with PyTorch's checks, drawing PyTorch's numbers for a seed."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.dtypes import DType
from . import distributions as R
from . import inplace as I
from . import random_bounds as B
from .generator import Generator, _refuse_while_tracing, resolve
from .tensor import Tensor, _dims

Draw = Callable[[Generator, int, np.dtype, bool], np.ndarray]  # (gen, n, dtype, contiguous)


def _eager(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse first when tracing (Note [random under compile]), before any data is read."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _refuse_while_tracing()
        return fn(*args, **kwargs)

    wrapper.__name__, wrapper.__doc__, wrapper.__wrapped__ = fn.__name__, fn.__doc__, fn  # type: ignore[attr-defined]
    return wrapper


# ---- memory order ---------------------------------------------------------------------------
def _perm_of(a: np.ndarray) -> list[int]:
    """The dims of ``a`` in the order PyTorch's TensorIterator visits them (memory order:
    decreasing stride), so draws land where PyTorch puts them in a transposed tensor."""
    if a.flags.c_contiguous or a.ndim < 2 or min(a.strides) < 0:
        return list(range(a.ndim))
    return sorted(range(a.ndim), key=lambda d: -a.strides[d])


def _unpermute(values: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Values listed in ``like``'s iteration order, laid out in its logical order."""
    perm = _perm_of(like)
    shaped = values.reshape([like.shape[d] for d in perm])
    return _c_order(shaped.transpose(np.argsort(perm).astype(int)))


def _c_order(a: np.ndarray) -> np.ndarray:
    """``a`` in C order, 0-d kept 0-d (np.ascontiguousarray would make it 1-d)."""
    return a if a.flags.c_contiguous else np.array(a, order="C")


def _values_like(data: np.ndarray, draw: Draw, gen: Generator) -> np.ndarray:
    """Fresh values for every element of ``data`` (its shape and dtype), drawn in its order."""
    flat = draw(gen, data.size, data.dtype, bool(data.flags.c_contiguous))
    return _unpermute(flat.astype(data.dtype), data)


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


# ---- creation -------------------------------------------------------------------------------
def _uniform_draw(low: float, high: float) -> Draw:
    return lambda g, n, dt, c: R.uniform(g, n, dt, low, high)


def _normal_draw(mean: float, std: float) -> Draw:
    return lambda g, n, dt, c: R.normal(g, n, dt, mean, std, c)


def _create(
    size: tuple[int, ...],
    dt: DType,
    draw: Draw,
    generator: Any,
    requires_grad: bool,
    out: Tensor | None,
    device: Any,
) -> Tensor:
    gen = resolve(generator)
    n = math.prod(size)
    data = draw(gen, n, np.dtype(dt.np), True).reshape(size)
    return _result(data, requires_grad, out, device)


@_eager
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
    dims = _size(size, kw)
    dt = dtype or (out.dtype if out is not None else D.get_default_dtype())
    _floating(dt, "check_uniform_bounds")
    return _create(dims, dt, _uniform_draw(0.0, 1.0), generator, requires_grad, out, device)


@_eager
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
    dims = _size(size, kw)
    dt = dtype or (out.dtype if out is not None else D.get_default_dtype())
    _floating(dt, "normal_kernel_cpu")
    return _create(dims, dt, _normal_draw(0.0, 1.0), generator, requires_grad, out, device)


def _int_arg(v: Any) -> int:
    return int(v.item()) if isinstance(v, Tensor) else int(v)


@_eager
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
    gen = resolve(generator)
    data = R.random_from_to(gen, math.prod(dims), np.dtype(dt.np), span, base).reshape(dims)
    return _result(data, requires_grad, out, device)


@_eager
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
    gen = resolve(generator)
    return _result(R.randperm(gen, n).astype(dt.np), requires_grad, out, device)


def _like(
    input: Tensor,
    dtype: DType | None,
    draw: Draw,
    generator: Any,
    requires_grad: bool,
    device: Any,
    memory_format: Any,
) -> Tensor:
    """A ``*_like`` sample: PyTorch's ``empty_like`` keeps the input's layout (its strides), so
    the draws follow the input's memory order (and a transposed input's ``randn_like`` takes
    the non-contiguous path)."""
    dt = dtype or input.dtype
    gen = resolve(generator)
    keep_layout = memory_format is None or "preserve" in str(memory_format)
    like = np.empty_like(input._data, dtype=dt.np, order="K" if keep_layout else "C")
    return _result(_values_like(like, draw, gen), requires_grad, None, device)


@_eager
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
    _floating(dtype or input.dtype, "check_uniform_bounds")
    draw = _uniform_draw(0.0, 1.0)
    return _like(input, dtype, draw, generator, requires_grad, device, memory_format)


@_eager
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
    _floating(dtype or input.dtype, "normal_kernel_cpu")
    draw = _normal_draw(0.0, 1.0)
    return _like(input, dtype, draw, generator, requires_grad, device, memory_format)


@_eager
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
    if high is None:
        low, high = 0, low
    dt = dtype or input.dtype
    span, base = B.plan(dt, B.int64_arg(low), B.int64_arg(high)) or (0, 0)
    draw: Draw = lambda g, n, d, c: R.random_from_to(g, n, d, span, base)  # noqa: E731
    return _like(input, dtype, draw, generator, requires_grad, device, memory_format)


# ---- normal ---------------------------------------------------------------------------------
def _check_std(std: float) -> None:
    if not std >= 0.0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(std)}")


def _fmt(v: float) -> str:
    """A double as C++'s ``<<`` prints it (6 significant digits)."""
    return f"{v:g}"


def _normal_tensor_result(
    shape: tuple[int, ...], dt: DType, gen: Generator, std: float = 1.0
) -> Tensor:
    _floating(dt, "normal_kernel_cpu")
    data = R.normal(gen, math.prod(shape), np.dtype(dt.np), 0.0, std).reshape(shape)
    return Tensor._make(data)


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


def sampled(name: str, data: np.ndarray, *params: Any) -> Tensor:
    """A sample whose history (when a parameter requires grad) is ``name`` with zero gradients."""
    from .dispatch import with_rule

    return with_rule(_ZeroGrad(name), lambda *_: Tensor._make(data), *params, name=name)


@_eager
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
        draw = _normal_draw(float(mean), float(std))
        return _create(_size((size,), {}), dt, draw, generator, requires_grad, out, device)
    if t_std:
        if std.numel() and not bool((std._data >= 0).all()):
            raise RuntimeError("normal expects all elements of std >= 0.0")
    else:
        _check_std(float(std))
    dt = (mean if t_mean else std).dtype
    _floating(dt, "normal_kernel_cpu")
    shapes = [tuple(v.shape) for v in (mean, std) if isinstance(v, Tensor)]
    shape = _broadcast(shapes)
    gen = resolve(generator)
    n, npd = math.prod(shape), np.dtype(dt.np)
    if t_mean and not t_std:
        noise = R.normal(gen, n, npd, 0.0, float(std)).reshape(shape)
        data = (noise + mean._data.astype(npd)).astype(npd)
        res = sampled("NormalBackward1", data, mean)
    else:
        noise = R.normal(gen, n, npd, 0.0, 1.0).reshape(shape)
        scaled = (noise * std._data.astype(npd)).astype(npd)
        m = mean._data.astype(npd) if t_mean else npd.type(mean)
        data = (scaled + m).astype(npd)
        res = (
            sampled("NormalBackward3", data, mean, std)
            if t_mean
            else sampled("NormalBackward2", data, std)
        )
    return _into_out(out, res._data) if out is not None else res


def _broadcast(shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    """PyTorch's broadcast of the shapes, with its error text."""
    out: list[int] = []
    for shape in shapes:
        a, b = list(out), list(shape)
        n = max(len(a), len(b))
        a, b = [1] * (n - len(a)) + a, [1] * (n - len(b)) + b
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y and 1 not in (x, y):
                raise RuntimeError(
                    f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                    f"non-singleton dimension {i}"
                )
        out = [max(x, y) if 0 not in (x, y) else 0 for x, y in zip(a, b, strict=True)]
    return tuple(out)


# ---- bernoulli, multinomial, poisson --------------------------------------------------------
def _probability_tensor(p: Tensor, kernel: str) -> np.ndarray:
    if not p.dtype.is_floating_point:
        raise _not_implemented(kernel, p.dtype)
    data = p._data
    if data.size and not bool(((data >= 0) & (data <= 1)).all()):
        raise RuntimeError(
            "Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error "
            "message be improved?  If so, please report an enhancement request to PyTorch.)"
        )
    return data


@_eager
def bernoulli(
    input: Tensor, p: Any = None, *, generator: Any = None, out: Tensor | None = None
) -> Tensor:
    """``bernoulli(input)``: 1 with probability ``input`` per element (BernoulliBackward0, zero
    gradient); ``bernoulli(input, p)``: a float ``p`` for every element, shaped like input."""
    if p is not None:
        res = Tensor._make(np.zeros(tuple(input.shape), input.dtype.np))
        _bernoulli_scalar_into(res, float(p), generator)
        return _into_out(out, res._data) if out is not None else res
    gen = resolve(generator)
    probs = _probability_tensor(input, "bernoulli_tensor_cpu_p_")
    data = _bernoulli_values(gen, np.empty(probs.shape, probs.dtype), probs)  # contiguous out
    res = sampled("BernoulliBackward0", data.astype(input.dtype.np), input)
    return _into_out(out, res._data) if out is not None else res


def _bernoulli_values(gen: Generator, like: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """One draw per element of ``like`` (in its iteration order) against ``probs`` broadcast
    to it."""
    perm = _perm_of(like)
    p = _c_order(np.broadcast_to(probs, like.shape).transpose(perm))
    return _unpermute(R.bernoulli_tensor(gen, p), like)


def _bernoulli_scalar_into(t: Tensor, p: float, generator: Any) -> None:
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={_fmt(p)}")
    gen = resolve(generator)
    t._data[...] = _values_like(t._data, lambda g, n, dt, c: R.bernoulli_scalar(g, n, p), gen)


@_eager
def multinomial(
    input: Tensor,
    num_samples: int,
    replacement: bool = False,
    *,
    generator: Any = None,
    out: Tensor | None = None,
) -> Tensor:
    """Indices drawn from each row's categories: with replacement by inverse CDF on double
    uniforms; without, PyTorch's ``argmax/topk(p / q)``, q exponential (Gumbel trick)."""
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
    gen = resolve(generator)
    probs = np.ascontiguousarray(input._data).reshape(-1, n_categories)
    if probs.shape[0] == 0 or n_categories == 0:
        return _result(np.zeros((*input.shape[:-1], n_sample), np.int64), False, out)
    if not replacement or n_sample == 1:
        data = _multinomial_gumbel(gen, probs, n_sample, input._data)
    else:
        _check_rows(probs)
        data = R.multinomial_with_replacement(gen, probs, n_sample)
    return _result(data.reshape(*input.shape[:-1], n_sample), False, out)


def _check_rows(probs: np.ndarray) -> None:
    for row in probs:
        if bool((row < 0).any()):
            raise RuntimeError(
                "invalid multinomial distribution (encountering probability entry < 0)"
            )
        if not bool(np.isfinite(row).all()):
            raise RuntimeError(
                "invalid multinomial distribution (encountering probability entry = infinity "
                "or NaN)"
            )
        if not row.sum(dtype=np.float64) > 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")


def _multinomial_gumbel(
    gen: Generator, probs: np.ndarray, n_sample: int, layout: np.ndarray
) -> np.ndarray:
    """``q = empty_like(input).exponential_(1)`` (drawn in the input's memory order), ``p / q``,
    then argmax (one sample) or topk."""
    if not (bool((probs < np.inf).all()) and bool((probs >= 0).all())):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if bool((probs.sum(axis=1) == 0).any()):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    draw: Draw = lambda g, n, d, c: R.c_cast(R.exponential(g, n, 1.0), d)  # noqa: E731
    q = _values_like(np.empty_like(layout), draw, gen).reshape(probs.shape)
    ratio = (probs / q).astype(probs.dtype)
    if n_sample == 1:
        return np.argmax(ratio, axis=1)[:, None]
    # topk: largest first. Among equal ratios PyTorch's order is whatever libstdc++'s
    # partial_sort/nth_element leave (often the higher index first); adjit puts the lower index
    # first. Equal ratios need equal rounded p/q: rare in float32 and float64, common enough in
    # float16/bfloat16 that their without-replacement samples may list tied indices in another
    # order (or pick another of the tied indices at the k-th place).
    return np.argsort(-ratio, axis=1, kind="stable")[:, :n_sample]


@_eager
def poisson(input: Tensor, generator: Any = None) -> Tensor:
    """Poisson counts with the given rates (PoissonBackward0: zero gradient)."""
    if not input.dtype.is_floating_point:
        raise _not_implemented("poisson_cpu", input.dtype)
    gen = resolve(generator)
    rates = _c_order(input._data)
    if rates.size and not bool((rates >= 0).all()):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    data = R.c_cast(R.poisson(gen, rates.astype(np.float64)), np.dtype(input.dtype.np))
    return sampled("PoissonBackward0", data, input)


# ---- in-place fills -------------------------------------------------------------------------
def _fill(self: Tensor, grad_name: str, draw: Draw, generator: Any) -> Tensor:
    """Overwrite ``self`` with draws in its memory order; its history becomes ``grad_name``
    (no gradient reaches the old values), as PyTorch's in-place samplers."""
    from .methods import _overwrite

    I._check_leaf(self)
    gen = resolve(generator)
    values = Tensor._make(_values_like(self._data, draw, gen))
    return I.inplace(self, _overwrite(grad_name, values))


def _finite_float(self: Tensor, kernel: str) -> None:
    _floating(self.dtype, kernel)


@_eager
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
    return _fill(self, "UniformBackward0", _uniform_draw(low, high), generator)


@_eager
def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
    _check_std(float(std))
    _finite_float(self, "normal_kernel_cpu")
    return _fill(self, "NormalBackward0", _normal_draw(float(mean), float(std)), generator)


@_eager
def exponential_(self: Tensor, lambd: float = 1.0, *, generator: Any = None) -> Tensor:
    lam = float(lambd)
    if not lam > 0.0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={_fmt(lam)}")
    if not self.dtype.is_floating_point:
        raise RuntimeError(
            "Exponential distribution is a continuous probability distribution. dtype must be "
            f"a floating point but you specified {self.dtype.type_name}"
        )
    draw: Draw = lambda g, n, dt, c: R.c_cast(R.exponential(g, n, lam), dt)  # noqa: E731
    return _fill(self, "ExponentialBackward0", draw, generator)


@_eager
def geometric_(self: Tensor, p: float, *, generator: Any = None) -> Tensor:
    prob = float(p)
    if not 0 < prob < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={_fmt(prob)}")
    if self.dtype is D.bool_:
        raise _not_implemented("geometric_cpu", self.dtype)
    draw: Draw = lambda g, n, dt, c: R.c_cast(R.geometric(g, n, prob), dt)  # noqa: E731
    return _fill(self, "GeometricBackward0", draw, generator)


@_eager
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
    draw: Draw = lambda g, n, dt, c: R.c_cast(R.cauchy(g, n, float(median), float(sigma)), dt)  # noqa: E731
    return _fill(self, "CauchyBackward0", draw, generator)


@_eager
def log_normal_(
    self: Tensor, mean: float = 1.0, std: float = 2.0, *, generator: Any = None
) -> Tensor:
    if not float(std) > 0.0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={_fmt(float(std))}")
    _finite_float(self, "log_normal_cpu")
    draw: Draw = lambda g, n, dt, c: R.c_cast(R.log_normal(g, n, float(mean), float(std)), dt)  # noqa: E731
    return _fill(self, "LogNormalBackward0", draw, generator)


@_eager
def bernoulli_(self: Tensor, p: Any = 0.5, *, generator: Any = None) -> Tensor:
    """``bernoulli_(p)``: a float ``p`` (double uniforms), or a tensor of probabilities
    broadcast to ``self``."""
    if isinstance(p, Tensor):
        probs = _probability_tensor(p, "bernoulli_tensor_cpu_p_")
        np.broadcast_to(probs, tuple(self.shape))
        gen = resolve(generator)
        I._check_leaf(self)
        values = Tensor._make(_bernoulli_values(gen, self._data, probs).astype(self.dtype.np))
        from .methods import _overwrite

        return I.inplace(self, _overwrite("BernoulliBackward1", values))
    prob = float(p)
    if not 0 <= prob <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={_fmt(prob)}")
    draw: Draw = lambda g, n, dt, c: R.bernoulli_scalar(g, n, prob).astype(dt)  # noqa: E731
    return _fill(self, "BernoulliBackward2", draw, generator)


@_eager
def random_(self: Tensor, *args: Any, generator: Any = None, **kw: Any) -> Tensor:
    """``random_()``, ``random_(to)``, ``random_(from, to)`` (``to=None``: the dtype's top),
    with PyTorch's bounds (runtime/random_bounds.py)."""
    if "from" in kw or "to" in kw:
        args = (kw.pop("from", 0), kw.pop("to", None))
    if not args:
        draw: Draw = lambda g, n, d, c: R.random_default(g, n, d)  # noqa: E731
        return _fill(self, "RandomBackward2", draw, generator)
    if len(args) == 1:
        low, high, name = 0, B.int64_arg(args[0]), "RandomBackward1"
    else:
        low, name = B.int64_arg(args[0]), "RandomBackward0"
        high = None if args[1] is None else B.int64_arg(args[1])
    span_base = B.plan(self.dtype, low, high)
    if span_base is None:
        B.check_full_range(self.dtype)
        draw = lambda g, n, d, c: R.random_full_range(g, n, d)  # noqa: E731
    else:
        span, base = span_base
        draw = lambda g, n, d, c: R.random_from_to(g, n, d, span, base)  # noqa: E731
    return _fill(self, name, draw, generator)


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


def dropout_noise(input: Tensor, p: float, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """PyTorch's CPU dropout mask: ``empty(shape).bernoulli_(1 - p).div_(1 - p)`` in the input's
    dtype (``shape``: the input's, or the feature-dropout ``(N, C, 1, ...)``); no draws at
    ``p == 1``, where PyTorch multiplies by zero."""
    dims = tuple(input.shape) if shape is None else shape
    npd = np.dtype(input.dtype.np)
    if p == 1.0:
        return np.zeros(dims, npd)
    gen = resolve(None)
    order = _memory_order(input) if shape is None else None
    if order is None:
        keep = R.bernoulli_scalar(gen, math.prod(dims), 1.0 - p).reshape(dims)
    else:  # drawn in memory order, as PyTorch's empty_like(input).bernoulli_ (strides kept)
        flat = R.bernoulli_scalar(gen, math.prod(dims), 1.0 - p)
        keep = flat.reshape([dims[d] for d in order]).transpose(np.argsort(order))
    # div_(1 - p) computes in float32 for float16/bfloat16 (1 / 0.6 is 1.667 there, not the
    # 1.666 of dividing by 0.6 rounded to half first)
    wide = np.float64 if npd == np.float64 else np.float32
    return (keep.astype(wide) / wide(1.0 - p)).astype(npd)
