"""RANDOM, the sampling primitive: its shape rule, its NumPy rule and the sampler table.

Note [random numbers in compiled code]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
Eager mode draws PyTorch's numbers: one mt19937 stream per ``Generator`` (runtime/generator.py,
bit-identical to PyTorch's CPU generator, state tensor included) consumed by PyTorch's sampling
kernels (runtime/distributions.py). Compiled code draws from the very same stream with the very
same code. A random function called while tracing records one equation

    y = random[sampler='dropout' shape=(4, 8) dtype=float32 params=(('p', 0.5),)
               generator=None] x_1 .. x_n

instead of drawing: ``sampler`` names a row of ``SAMPLERS`` (filled by runtime/random_draws.py:
uniform, normal, randint, bernoulli with a float or a tensor ``p``, dropout masks, ...),
``params`` are its Python arguments, the inputs its tensor arguments (probabilities, rates;
their values are read when the program runs), and ``generator`` is the ``Generator`` object
itself (None: the default generator). The equation's NumPy rule calls the sampler on that
generator *when the compiled program runs*, so every call draws fresh numbers, the numbers
eager mode would draw at that point of the stream: ``manual_seed``/``set_rng_state`` between
calls are followed, and compiled, interpreted and eager runs of one program, from one seed,
give the same bits (and PyTorch's where eager's are PyTorch's).

Layouts: eager mode draws a sample shaped like a permuted (e.g. transposed) tensor in its memory
order, as PyTorch (``dropout(x.t())``, ``rand_like(x.t())``; a batch_first LSTM's output).
Traced values have no strides; a value made by permutes of another traced value is taken to
lie as eager's would (that value contiguous), and its sample gets ``order`` (the memory
order, outermost dim first) among its params. What stays C order, unlike eager: an argument
of the compiled function that is itself non-contiguous (calls do not specialize on strides),
and a permuted layout that eager's elementwise ops carry on (``dropout(x.t() * 2)``).

The same equation carries the generator's other effects inside a compiled function
(``manual_seed``, ``get_rng_state``, ``set_rng_state``: Note [generator effects] in
runtime/generator.py), so they too act at call time, in order with the draws.

RANDOM is an effect: the stream position after the call depends on every draw, in order.

- DCE keeps every random equation, used or not (eager mode advances the generator either way);
  CSE never merges two; constant folding never evaluates one (it would draw at compile time).
- The order of random equations is the trace order: the interpreter runs equations in order,
  fusion schedules each as an extern step, in graph order among the externs.
- RANDOM has no derivative (``GroupOp.NONDIFF``; differentiable tensor arguments are detached
  first). Where eager autograd gives a sample a history (``bernoulli(p)``, ``normal(mean,
  std)``: PyTorch's zero gradients), the same ``with_rule`` wrapper is traced around it.
- The forward/backward split puts every random equation in the forward program; the backward
  reads what it needs of a sample as a saved residual, never draws again (``passes/split.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .aval import Aval
from .dtypes import DType
from .errors import ShapeError
from .sizes import is_size

# sampler name -> fn(generator, *input arrays, shape=, dtype=, **params) -> array of that
# shape and dtype; filled by runtime/random_draws.py (the samplers eager mode calls)
SAMPLERS: dict[str, Callable[..., np.ndarray]] = {}

Params = tuple[tuple[str, Any], ...]


def random_shape(
    *inputs: Aval, sampler: str, shape: tuple[int, ...], dtype: DType, params: Params,
    generator: Any,
) -> Aval:  # fmt: skip
    """The sample's shape and dtype are attributes; the inputs only feed the sampler."""
    if not isinstance(sampler, str) or (SAMPLERS and sampler not in SAMPLERS):
        raise ShapeError(f"unknown sampler {sampler!r}")
    if not isinstance(shape, tuple) or any(not is_size(n) or n < 0 for n in shape):
        raise ShapeError(f"a sample's shape must be a tuple of sizes, got {shape!r}")
    if not isinstance(dtype, DType):
        raise ShapeError(f"a sample's dtype must be a dtype, got {dtype!r}")
    return Aval(shape, dtype)


def random_reference(
    *inputs: np.ndarray, sampler: str, shape: tuple[int, ...], dtype: DType, params: Params,
    generator: Any,
) -> np.ndarray:  # fmt: skip
    """Draw now, from ``generator`` (None: the default one), with eager mode's sampler."""
    fn = SAMPLERS.get(sampler)
    if fn is None:
        raise ShapeError(f"unknown sampler {sampler!r} (the runtime registers them)")
    out = fn(generator, *inputs, shape=shape, dtype=dtype, **dict(params))
    assert out.shape == shape and out.dtype == dtype.np, (sampler, out.shape, out.dtype)
    return out
