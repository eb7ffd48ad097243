"""SPECIAL: the special functions PyTorch computes with loops (Cephes' series, recurrences).

Note [SPECIAL is one primitive]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
torch.special's Bessel and Airy functions, orthogonal polynomials, incomplete gamma functions
and Hurwitz zeta sum series until a term is below machine epsilon, or run a recurrence n times
for a degree n that is data: a decomposition into elementwise primitives would unroll the
longest loop any element may need (2000 continued-fraction steps, n recurrence steps), so
these are one primitive, elementwise over float32 or float64 operands of one shape and dtype,
picked by ``func``. Its reference is PyTorch's scalar algorithm over masked NumPy arrays
(ir/special_bessel.py, special_polynomials.py, special_gamma.py) in the operands' dtype, as
PyTorch's kernels are templated on it: a float32 result rounds (and overflows, and stops its
series at float32's epsilon) where PyTorch's does, not only at the end. Compiled code runs it as
an extern step, so eager and compiled results are the same bits. The public functions
(runtime/ops_special_more.py) promote and call SPECIAL (zeta in float64, PyTorch's accumulate
type, rounded once); PyTorch has no
derivative for these (their results do not require grad), except igamma's and zeta's in their
second argument, which are formulas in other functions (``with_rule``), so SPECIAL itself
carries no gradient (``GroupOp.NONDIFF``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .aval import Aval
from .dtypes import float32, float64
from .errors import ShapeError
from .special_bessel import UNARY
from .special_gamma import BINARY as GAMMA
from .special_polynomials import BINARY as POLYNOMIALS

KERNELS: dict[str, Callable[..., np.ndarray]] = {**UNARY, **POLYNOMIALS, **GAMMA}
ARITY = {name: 1 for name in UNARY} | {name: 2 for name in (*POLYNOMIALS, *GAMMA)}


def special_shape(*xs: Aval, func: str) -> Aval:
    if func not in KERNELS or len(xs) != ARITY[func]:
        raise ShapeError(f"special: unknown function {func!r} for {len(xs)} operands")
    a = xs[0]
    if a.dtype not in (float32, float64) or any(x.dtype is not a.dtype for x in xs):
        raise ShapeError(f"special.{func}: float32 or float64 operands of one dtype expected")
    if any(x.shape != a.shape for x in xs):
        raise ShapeError(f"special.{func}: operands of one shape expected")
    return Aval(a.shape, a.dtype)


def special_reference(*xs: np.ndarray, func: str) -> np.ndarray:
    dtype = np.result_type(*xs)
    flat = [np.asarray(x, dtype).reshape(-1) for x in xs]
    return np.asarray(KERNELS[func](*flat), dtype).reshape(np.shape(xs[0]))
