"""The samplers eager and compiled code share: one Draw per PyTorch sampling kernel, the layout
helpers that put draws where PyTorch does, and the rows RANDOM equations call when a compiled
program runs (Note [random numbers in compiled code] in ir/random.py)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir.dtypes import DType
from ..ir.random import SAMPLERS
from . import binomial_draws
from . import distributions as R
from . import gamma_draws as G
from .generator import Generator, resolve

Draw = Callable[[Generator, int, np.dtype, bool], np.ndarray]  # (gen, n, dtype, contiguous)

# a sampling kernel by name: its parameters -> a Draw giving n values in draw order
DRAWS: dict[str, Callable[..., Draw]] = {
    "uniform": lambda low, high: lambda g, n, dt, c: R.uniform(g, n, dt, low, high),
    "normal": lambda mean, std: lambda g, n, dt, c: R.normal(g, n, dt, mean, std, c),
    "random_from_to": lambda span, base: lambda g, n, d, c: R.random_from_to(g, n, d, span, base),
    "random_default": lambda: lambda g, n, d, c: R.random_default(g, n, d),
    "random_full_range": lambda: lambda g, n, d, c: R.random_full_range(g, n, d),
    "exponential": lambda lambd: lambda g, n, d, c: R.c_cast(R.exponential(g, n, lambd), d),
    "geometric": lambda p: lambda g, n, d, c: R.c_cast(R.geometric(g, n, p), d),
    "cauchy": lambda median, sigma: lambda g, n, d, c: R.c_cast(R.cauchy(g, n, median, sigma), d),
    "log_normal": lambda mean, std: lambda g, n, d, c: R.c_cast(R.log_normal(g, n, mean, std), d),
    "bernoulli_scalar": lambda p: lambda g, n, d, c: R.bernoulli_scalar(g, n, p).astype(d),
}


# ---- memory order ---------------------------------------------------------------------------
def perm_of(a: np.ndarray) -> list[int]:
    """The dims of ``a`` in the order PyTorch's TensorIterator visits them (memory order:
    decreasing stride), so draws land where PyTorch puts them in a transposed tensor."""
    if a.flags.c_contiguous or a.ndim < 2 or min(a.strides) < 0:
        return list(range(a.ndim))
    return sorted(range(a.ndim), key=lambda d: -a.strides[d])


def unpermute(values: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Values listed in ``like``'s iteration order, laid out in its logical order."""
    perm = perm_of(like)
    shaped = values.reshape([like.shape[d] for d in perm])
    return c_order(shaped.transpose(np.argsort(perm).astype(int)))


def c_order(a: np.ndarray) -> np.ndarray:
    """``a`` in C order, 0-d kept 0-d (np.ascontiguousarray would make it 1-d)."""
    return a if a.flags.c_contiguous else np.array(a, order="C")


def values_like(data: np.ndarray, draw: Draw, gen: Generator) -> np.ndarray:
    """Fresh values for every element of ``data`` (its shape and dtype), drawn in its order."""
    flat = draw(gen, data.size, data.dtype, bool(data.flags.c_contiguous))
    return unpermute(flat.astype(data.dtype), data)


def bernoulli_values(gen: Generator, like: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """One draw per element of ``like`` (in its iteration order) against ``probs`` broadcast
    to it."""
    perm = perm_of(like)
    p = c_order(np.broadcast_to(probs, like.shape).transpose(perm))
    return unpermute(R.bernoulli_tensor(gen, p), like)


# ---- checks on values (run when the draw runs: eager, or the compiled program) --------------
def check_probabilities(data: np.ndarray) -> None:
    if data.size and not bool(((data >= 0) & (data <= 1)).all()):
        raise RuntimeError(
            "Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error "
            "message be improved?  If so, please report an enhancement request to PyTorch.)"
        )


def check_rows(probs: np.ndarray) -> None:
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


# ---- the samplers: (generator, *arrays, shape=, dtype=, **params) -> array -------------------
def _np(dtype: DType) -> np.dtype:
    return np.dtype(dtype.np)


def laid_out(shape: tuple[int, ...], npd: np.dtype, order: tuple[int, ...] | None) -> np.ndarray:
    """An empty array of ``shape`` whose dims lie in memory in ``order`` (outermost first;
    None: C order), as eager mode's tensor would."""
    if order is None:
        return np.empty(shape, npd)
    return np.empty([shape[d] for d in order], npd).transpose(np.argsort(order))


def sample(name: str) -> Callable[..., np.ndarray]:
    """The sampler of a Draw: every element of ``shape``, drawn in memory ``order`` (None: C
    order), as eager mode fills a tensor of that layout."""

    def sampler(
        generator: Any, *, shape: tuple[int, ...], dtype: DType, order: Any = None, **params: Any
    ) -> Any:
        like = laid_out(shape, _np(dtype), order)
        return values_like(like, DRAWS[name](**params), resolve(generator))

    sampler.__name__ = name
    return sampler


def bernoulli_tensor(generator: Any, probs: np.ndarray, *, shape: tuple[int, ...],
                     dtype: DType) -> np.ndarray:  # fmt: skip
    """``bernoulli(p)`` / ``bernoulli_(p_tensor)`` into a contiguous ``shape``."""
    check_probabilities(probs)
    like = np.empty(shape, probs.dtype)
    return bernoulli_values(resolve(generator), like, probs).astype(_np(dtype))


def poisson(generator: Any, rates: np.ndarray, *, shape: tuple[int, ...],
            dtype: DType) -> np.ndarray:  # fmt: skip
    rates = c_order(rates)
    if rates.size and not bool((rates >= 0).all()):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    return R.c_cast(R.poisson(resolve(generator), rates.astype(np.float64)), _np(dtype))


def normal_tensor(generator: Any, *arrays: np.ndarray, shape: tuple[int, ...], dtype: DType,
                  mean: float | None, std: float | None) -> np.ndarray:  # fmt: skip
    """``normal(mean, std)`` with a tensor mean and/or std (the float one as a parameter):
    standard normals of the broadcast shape (``std`` folded in when it is a float), then
    ``* std`` and ``+ mean`` with a rounding each, as PyTorch's kernel."""
    it = iter(arrays)
    t_mean = next(it) if mean is None else None
    t_std = next(it) if std is None else None
    if t_std is not None and t_std.size and not bool((t_std >= 0).all()):
        raise RuntimeError("normal expects all elements of std >= 0.0")
    gen, n, npd = resolve(generator), math.prod(shape), _np(dtype)
    if t_std is None:
        noise = R.normal(gen, n, npd, 0.0, float(std or 0.0)).reshape(shape)
        return (noise + t_mean.astype(npd)).astype(npd)  # type: ignore[union-attr]
    noise = R.normal(gen, n, npd, 0.0, 1.0).reshape(shape)
    scaled = (noise * t_std.astype(npd)).astype(npd)
    m = t_mean.astype(npd) if t_mean is not None else npd.type(mean)
    return (scaled + m).astype(npd)


def randperm(generator: Any, *, shape: tuple[int, ...], dtype: DType) -> np.ndarray:
    return R.randperm(resolve(generator), shape[0]).astype(_np(dtype))


def multinomial(generator: Any, probs: np.ndarray, *, shape: tuple[int, ...], dtype: DType,
                n_sample: int, replacement: bool) -> np.ndarray:  # fmt: skip
    """Indices drawn from each row's categories: with replacement by inverse CDF on double
    uniforms; without, PyTorch's ``argmax/topk(p / q)``, q exponential (Gumbel trick)."""
    gen = resolve(generator)
    rows = np.ascontiguousarray(probs).reshape(-1, probs.shape[-1])
    if rows.shape[0] == 0 or rows.shape[1] == 0:
        return np.zeros(shape, np.int64)
    if not replacement or n_sample == 1:
        data = _multinomial_gumbel(gen, rows, n_sample, probs)
    else:
        check_rows(rows)
        data = R.multinomial_with_replacement(gen, rows, n_sample)
    return data.reshape(shape).astype(_np(dtype))


def _multinomial_gumbel(
    gen: Generator, probs: np.ndarray, n_sample: int, layout: np.ndarray
) -> np.ndarray:
    """``q = empty_like(input).exponential_(1)`` (drawn in the input's memory order), ``p / q``,
    then argmax (one sample) or topk."""
    if not (bool((probs < np.inf).all()) and bool((probs >= 0).all())):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if bool((probs.sum(axis=1) == 0).any()):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    q = values_like(np.empty_like(layout), DRAWS["exponential"](1.0), gen).reshape(probs.shape)
    ratio = (probs / q).astype(probs.dtype)
    if n_sample == 1:
        return np.argmax(ratio, axis=1)[:, None]
    # topk: largest first. Among equal ratios PyTorch's order is whatever libstdc++'s
    # partial_sort/nth_element leave (often the higher index first); adjit puts the lower index
    # first. Equal ratios need equal rounded p/q: rare in float32 and float64, common enough in
    # float16/bfloat16 that their without-replacement samples may list tied indices in another
    # order (or pick another of the tied indices at the k-th place).
    return np.argsort(-ratio, axis=1, kind="stable")[:, :n_sample]


# ---- dropout masks --------------------------------------------------------------------------
def dropout_values(gen: Generator, dims: tuple[int, ...], npd: np.dtype, p: float,
                   order: list[int] | None = None) -> np.ndarray:  # fmt: skip
    """PyTorch's CPU dropout mask ``empty(dims).bernoulli_(1 - p).div_(1 - p)`` (drawn in
    ``order``, outermost dim first, when the input's layout is permuted); no draws at p == 1."""
    if p == 1.0:
        return np.zeros(dims, npd)
    flat = R.bernoulli_scalar(gen, math.prod(dims), 1.0 - p)
    if order is None:
        keep = flat.reshape(dims)
    else:  # drawn in memory order, as PyTorch's empty_like(input).bernoulli_ (strides kept)
        keep = flat.reshape([dims[d] for d in order]).transpose(np.argsort(order))
    # div_(1 - p) computes in float32 for float16/bfloat16 (1 / 0.6 is 1.667 there, not the
    # 1.666 of dividing by 0.6 rounded to half first)
    wide = np.float64 if npd == np.float64 else np.float32
    return (keep.astype(wide) / wide(1.0 - p)).astype(npd)


def dropout(generator: Any, *, shape: tuple[int, ...], dtype: DType, p: float,
            order: tuple[int, ...] | None = None) -> np.ndarray:  # fmt: skip
    return dropout_values(
        resolve(generator), shape, _np(dtype), p, None if order is None else list(order)
    )


SELU_ALPHA_SCALE = 1.7580993408473766  # selu's alpha * scale: the negative saturation value


def alpha_dropout(generator: Any, *, shape: tuple[int, ...], dtype: DType,
                  p: float) -> np.ndarray:  # fmt: skip
    """PyTorch's ``_dropout_impl`` with alpha, ``x * a * keep + b``: ``a * keep`` and ``b =
    alpha' a (keep - 1 + p)`` stacked, shape ``(2, *mask)``, ``keep = bernoulli(1 - p)``."""
    npd, mask = _np(dtype), shape[1:]
    keep = R.bernoulli_scalar(resolve(generator), math.prod(mask), 1.0 - p)
    keep = keep.reshape(mask).astype(npd)
    a = 1.0 / math.sqrt((SELU_ALPHA_SCALE**2 * p + 1) * (1 - p))
    b = ((keep - 1).astype(npd) * npd.type(SELU_ALPHA_SCALE * a)).astype(npd)
    b = (b + npd.type(SELU_ALPHA_SCALE * a * p)).astype(npd)
    noise = (keep * npd.type(a)).astype(npd)
    return np.stack([noise, b])


MASK53 = np.uint64(2**53 - 1)


def rrelu(generator: Any, x: np.ndarray, *, shape: tuple[int, ...], dtype: DType,
          lower: float, upper: float) -> np.ndarray:  # fmt: skip
    """PyTorch's CPU draws: one ``uniform_real<double>(lower, upper)`` (53 bits of random64)
    per element ``<= 0`` in memory order, its bounds and result in the element's float
    precision (``dtype``: float32 for float32 and the narrow floats); 1 elsewhere."""
    data = np.ascontiguousarray(x)
    negative = data <= 0
    words = resolve(generator).random64(int(negative.sum()))
    lo, hi = (float(_np(dtype).type(v)) for v in (lower, upper))  # opmath_t bounds
    r = (words & MASK53).astype(np.float64) * 2.0**-53 * (hi - lo) + lo
    noise = np.ones(data.shape, np.float64)
    noise[negative] = r
    return noise.astype(_np(dtype))


# ---- generator effects (Note [generator effects] in runtime/generator.py) -------------------
_NOTHING = np.zeros(0, np.uint8)


def seed_effect(generator: Any, *, shape: tuple[int, ...], dtype: DType, seed: int) -> np.ndarray:
    resolve(generator).manual_seed(seed)
    return _NOTHING


def get_state_effect(generator: Any, *, shape: tuple[int, ...], dtype: DType) -> np.ndarray:
    return resolve(generator).get_state()._data


def set_state_effect(generator: Any, state: np.ndarray, *, shape: tuple[int, ...],
                     dtype: DType) -> np.ndarray:  # fmt: skip
    from .tensor import Tensor

    resolve(generator).set_state(Tensor._make(np.array(state, np.uint8)))
    return _NOTHING


SAMPLERS.update({name: sample(name) for name in DRAWS})
SAMPLERS.update(
    {
        "bernoulli_tensor": bernoulli_tensor,
        "poisson": poisson,
        "standard_gamma": G.standard_gamma,
        "dirichlet": G.dirichlet,
        "binomial": binomial_draws.binomial,
        "normal_tensor": normal_tensor,
        "randperm": randperm,
        "multinomial": multinomial,
        "dropout": dropout,
        "alpha_dropout": alpha_dropout,
        "rrelu": rrelu,
        "manual_seed": seed_effect,
        "get_state": get_state_effect,
        "set_state": set_state_effect,
    }
)
