"""``adjit.quasirandom``: PyTorch's ``torch.quasirandom.SobolEngine`` (scrambled or plain Sobol
sequences, the same points as PyTorch's for the same seed)."""

from __future__ import annotations

from typing import Any

from adjit import _sobol
from adjit.ir.dtypes import get_default_dtype, int64
from adjit.runtime import functional as R
from adjit.runtime.creation import arange, tensor, zeros
from adjit.runtime.generator import Generator
from adjit.runtime.ops_random import randint
from adjit.runtime.tensor import Tensor

__all__ = ["SobolEngine"]


class SobolEngine:
    """Draws from a (scrambled) Sobol sequence in ``dimension`` dimensions, as
    ``torch.quasirandom.SobolEngine``: Joe and Kuo's direction numbers (Note [Sobol direction
    numbers]), Owen scrambling from ``seed`` (the default generator when None)."""

    MAXBIT = _sobol.MAXBIT
    MAXDIM = _sobol.MAXDIM

    def __init__(self, dimension: int, scramble: bool = False, seed: int | None = None) -> None:
        if dimension > self.MAXDIM or dimension < 1:
            raise ValueError(
                f"Supported range of dimensionality for SobolEngine is [1, {self.MAXDIM}]"
            )
        self.seed = seed
        self.scramble = scramble
        self.dimension = dimension
        self.sobolstate = tensor(_sobol.initial_state(dimension))
        if not self.scramble:
            self.shift = zeros(self.dimension, dtype=int64)
        else:
            self._scramble()
        self.quasi = self.shift.clone()
        self._first_point = (self.quasi / 2**self.MAXBIT).reshape(1, -1)
        self.num_generated = 0

    def _draw(self, n: int, num_generated: int, dtype: Any) -> Tensor:
        """The next ``n`` points after ``quasi`` (ATen's ``_sobol_engine_draw``): each integer
        rounded to ``dtype``, then scaled by 2**-MAXBIT."""
        points = _sobol.advance(self.quasi.numpy(), self.sobolstate.numpy(), n, num_generated)
        if n > 0:
            self.quasi = tensor(points[-1])
        return tensor(points).to(dtype) * (1.0 / (1 << self.MAXBIT))

    def draw(self, n: int = 1, out: Tensor | None = None, dtype: Any = None) -> Tensor:
        """The next ``n`` points of the sequence, an ``(n, dimension)`` tensor of ``dtype``
        (the default dtype when None)."""
        if dtype is None:
            dtype = get_default_dtype()
        if self.num_generated == 0:
            if n == 1:
                result = self._first_point.to(dtype)
            else:
                rest = self._draw(n - 1, self.num_generated, dtype)
                result = R.cat((self._first_point.to(dtype), rest), dim=-2)
        else:
            result = self._draw(n, self.num_generated - 1, dtype)
        self.num_generated += n
        if out is not None:
            out.resize_as_(result).copy_(result)
            return out
        return result

    def draw_base2(self, m: int, out: Tensor | None = None, dtype: Any = None) -> Tensor:
        """The next ``2**m`` points; the total drawn must stay a power of 2."""
        n = 2**m
        total_n = self.num_generated + n
        if not (total_n & (total_n - 1) == 0):
            raise ValueError(
                "The balance properties of Sobol' points require "
                f"n to be a power of 2. {self.num_generated} points have been "
                f"previously generated, then: n={self.num_generated}+2**{m}={total_n}. "
                "If you still want to do this, please use "
                "'SobolEngine.draw()' instead."
            )
        return self.draw(n=n, out=out, dtype=dtype)

    def reset(self) -> SobolEngine:
        """Back to the first point."""
        self.quasi.copy_(self.shift)
        self.num_generated = 0
        return self

    def fast_forward(self, n: int) -> SobolEngine:
        """Skip ``n`` points."""
        skip, start = (n - 1, 0) if self.num_generated == 0 else (n, self.num_generated - 1)
        points = _sobol.advance(self.quasi.numpy(), self.sobolstate.numpy(), skip, start)
        if skip > 0:
            self.quasi.copy_(tensor(points[-1]))
        self.num_generated += n
        return self

    def _scramble(self) -> None:
        g: Generator | None = None
        if self.seed is not None:
            g = Generator()
            g.manual_seed(self.seed)
        shift_ints = randint(2, (self.dimension, self.MAXBIT), generator=g)
        self.shift = R.mv(shift_ints, R.pow(2, arange(0, self.MAXBIT)))
        ltm = randint(2, (self.dimension, self.MAXBIT, self.MAXBIT), generator=g).tril()
        self.sobolstate = tensor(_sobol.scramble(self.sobolstate.numpy(), ltm.numpy()))

    def __repr__(self) -> str:
        fmt_string = [f"dimension={self.dimension}"]
        if self.scramble:
            fmt_string += ["scramble=True"]
        if self.seed is not None:
            fmt_string += [f"seed={self.seed}"]
        return self.__class__.__name__ + "(" + ", ".join(fmt_string) + ")"
