"""adjit: PyTorch's API, eager autograd, and a compiler that builds gradients ahead of time."""

from __future__ import annotations

from adjit import autograd, models, nn, optim, testing  # noqa: E402  (after the names they use)
from adjit.frontend.compile import CompiledFunction, compile  # noqa: A004
from adjit.frontend.explain import explain
from adjit.frontend.transforms import grad, value_and_grad
from adjit.io import load, save
from adjit.ir.dtypes import (
    DType as dtype,
)
from adjit.ir.dtypes import (
    bool_ as bool,  # noqa: A004
)
from adjit.ir.dtypes import (
    float32,
    float64,
    get_default_dtype,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from adjit.ir.errors import ShapeError
from adjit.runtime.creation import (
    arange,
    as_tensor,
    device,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    initial_seed,
    linspace,
    logspace,
    manual_seed,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    seed,
    tensor,
    zeros,
    zeros_like,
)
from adjit.runtime.functional import *  # noqa: F403 - every op, as torch.<op>
from adjit.runtime.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from adjit.runtime.printing import get_printoptions, set_printoptions
from adjit.runtime.tensor import Size, Tensor
from adjit.runtime.trace_state import TracingError

float = float32  # noqa: A001
double = float64
long = int64
int = int32  # noqa: A001
half = None
cfloat = None
FloatTensor = Tensor
LongTensor = Tensor

__version__ = "0.1.0"


def is_tensor(obj: object) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:  # noqa: A002 - PyTorch's parameter name
    return input.numel()


def allclose(
    a: Tensor, b: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    import numpy as np

    return bool(np.allclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(
    a: Tensor, b: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Tensor:
    import numpy as np

    return Tensor._make(np.isclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(a: Tensor, b: Tensor) -> bool:
    return tuple(a.shape) == tuple(b.shape) and bool((a._data == b._data).all())
