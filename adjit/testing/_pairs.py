"""The comparison pairs of ``assert_close``: None, booleans, Python/NumPy numbers, tensor-likes.

Each pair takes all of ``assert_close``'s options, refuses inputs it does not handle by raising
:class:`UnsupportedInputs` (the next pair type is tried) and reports a mismatch as an
:class:`ErrorMeta`, as in PyTorch's ``torch/testing/_comparison.py``.
"""

from __future__ import annotations

import cmath
from typing import Any, NoReturn

import numpy as np

from adjit.ir import dtypes as D
from adjit.runtime.creation import as_tensor
from adjit.runtime.dtype_info import promote_types
from adjit.runtime.predicates import isclose
from adjit.runtime.tensor import Tensor

from ._messages import ErrorMeta, scalar_mismatch_msg, tensor_mismatch_msg

# {dtype: (rtol, atol)}: PyTorch's defaults; any other dtype compares for equality
DTYPE_PRECISIONS: dict[D.DType, tuple[float, float]] = {
    D.float16: (0.001, 1e-5),
    D.bfloat16: (0.016, 1e-5),
    D.float32: (1.3e-6, 1e-5),
    D.float64: (1e-7, 1e-7),
    D.by_name("complex32"): (0.001, 1e-5),
    D.complex64: (1.3e-6, 1e-5),
    D.complex128: (1e-7, 1e-7),
}


def default_tolerances(
    *inputs: Tensor | D.DType,
    dtype_precisions: dict[D.DType, tuple[float, float]] | None = None,
) -> tuple[float, float]:
    """The loosest (rtol, atol) of the inputs' dtypes."""
    dtypes = []
    for x in inputs:
        if isinstance(x, Tensor):
            dtypes.append(x.dtype)
        elif isinstance(x, D.DType):
            dtypes.append(x)
        else:
            raise TypeError(f"Expected a torch.Tensor or a torch.dtype, but got {type(x)} instead.")
    table = dtype_precisions or DTYPE_PRECISIONS
    rtols, atols = zip(*[table.get(d, (0.0, 0.0)) for d in dtypes], strict=True)
    return max(rtols), max(atols)


def get_tolerances(
    *inputs: Tensor | D.DType, rtol: float | None, atol: float | None, id: tuple[Any, ...] = ()
) -> tuple[float, float]:
    """Both given, both omitted (the dtypes' defaults), never one alone."""
    if (rtol is None) ^ (atol is None):
        raise ErrorMeta(
            ValueError,
            f"Both 'rtol' and 'atol' must be either specified or omitted, "
            f"but got no {'rtol' if rtol is None else 'atol'}.",
            id=id,
        )
    if rtol is not None and atol is not None:
        return rtol, atol
    return default_tolerances(*inputs)


class UnsupportedInputs(Exception):  # noqa: N818 - PyTorch's name
    """Raised by a pair's constructor for inputs it does not handle."""


class Pair:
    """Two inputs and the options; :meth:`compare` raises an :class:`ErrorMeta` on mismatch."""

    def __init__(
        self, actual: Any, expected: Any, *, id: tuple[Any, ...] = (), **unknown: Any
    ) -> None:
        self.actual = actual
        self.expected = expected
        self.id = id

    @staticmethod
    def _check_inputs_isinstance(*inputs: Any, cls: type | tuple[type, ...]) -> None:
        if not all(isinstance(x, cls) for x in inputs):
            raise UnsupportedInputs

    def _fail(self, type: type[Exception], msg: str) -> NoReturn:
        raise ErrorMeta(type, msg, id=self.id)

    def compare(self) -> None:
        raise NotImplementedError

    def extra_repr(self) -> tuple[str, ...]:
        return ()

    def __repr__(self) -> str:
        fields = [("id", self.id), ("actual", self.actual), ("expected", self.expected)]
        fields += [(name, getattr(self, name)) for name in self.extra_repr()]
        body = [f"    {name}={value!s}," for name, value in fields]
        return "\n".join((f"{type(self).__name__}(", *body, ")"))


class NonePair(Pair):
    """``None`` against anything: equal only to ``None``."""

    def __init__(self, actual: Any, expected: Any, **options: Any) -> None:
        if not (actual is None or expected is None):
            raise UnsupportedInputs
        super().__init__(actual, expected, **options)

    def compare(self) -> None:
        if not (self.actual is None and self.expected is None):
            self._fail(AssertionError, f"None mismatch: {self.actual} is not {self.expected}")


class BooleanPair(Pair):
    """Python and NumPy booleans."""

    def __init__(self, actual: Any, expected: Any, *, id: tuple[Any, ...], **options: Any) -> None:
        self._check_inputs_isinstance(actual, expected, cls=(bool, np.bool_))
        super().__init__(bool(actual), bool(expected), id=id, **options)

    def compare(self) -> None:
        if self.actual is not self.expected:
            self._fail(AssertionError, f"Booleans mismatch: {self.actual} is not {self.expected}")


class NumberPair(Pair):
    """Python and NumPy numbers, compared as int64, float64 or complex128 values would be."""

    _TYPE_TO_DTYPE = {int: D.int64, float: D.float64, complex: D.complex128}

    def __init__(
        self,
        actual: Any,
        expected: Any,
        *,
        id: tuple[Any, ...] = (),
        rtol: float | None = None,
        atol: float | None = None,
        equal_nan: bool = False,
        check_dtype: bool = False,
        **options: Any,
    ) -> None:
        self._check_inputs_isinstance(actual, expected, cls=(int, float, complex, np.number))
        actual, expected = (x.item() if isinstance(x, np.number) else x for x in (actual, expected))
        super().__init__(actual, expected, id=id, **options)
        # (a bool against a number: no dtype for bool here, as in PyTorch -> a KeyError)
        dtypes = [self._TYPE_TO_DTYPE[type(x)] for x in (actual, expected)]
        self.rtol, self.atol = get_tolerances(*dtypes, rtol=rtol, atol=atol, id=id)
        self.equal_nan = equal_nan
        self.check_dtype = check_dtype

    def compare(self) -> None:
        actual, expected = self.actual, self.expected
        if self.check_dtype and type(actual) is not type(expected):
            self._fail(
                AssertionError,
                f"The (d)types do not match: {type(actual)} != {type(expected)}.",
            )
        if actual == expected:
            return
        if self.equal_nan and cmath.isnan(actual) and cmath.isnan(expected):
            return
        abs_diff = abs(actual - expected)
        if cmath.isfinite(abs_diff) and abs_diff <= self.atol + self.rtol * abs(expected):
            return
        self._fail(
            AssertionError, scalar_mismatch_msg(actual, expected, rtol=self.rtol, atol=self.atol)
        )

    def extra_repr(self) -> tuple[str, ...]:
        return ("rtol", "atol", "equal_nan", "check_dtype")


# NumPy dtypes PyTorch's as_tensor takes; adjit stores all but the wide unsigned ones
_TORCH_NUMPY_KINDS = {"b", "i", "u", "f", "c"}
_TORCH_NUMPY_SIZES = {"f": (2, 4, 8), "c": (8, 16)}


def _to_tensor(x: Any, id: tuple[Any, ...]) -> Tensor:
    if isinstance(x, Tensor):
        return x
    try:
        return as_tensor(x)
    except Exception as error:
        if isinstance(x, np.ndarray) and _torch_takes(x.dtype):  # PyTorch would compare
            raise ErrorMeta(TypeError, str(error), id=id) from None  # (uint16...): refuse
        raise UnsupportedInputs from None


def _torch_takes(dtype: np.dtype) -> bool:
    sizes = _TORCH_NUMPY_SIZES.get(dtype.kind)
    return dtype.kind in _TORCH_NUMPY_KINDS and (sizes is None or dtype.itemsize in sizes)


class TensorLikePair(Pair):
    """Tensors and whatever ``torch.as_tensor`` takes (NumPy arrays, ...), of related types.

    adjit's tensors are all strided, neither quantized nor sparse: there is no layout to check
    or convert; tensors that require grad are compared detached. Values are compared with
    adjit's eager isclose/abs/max, which compute in the dtype as ATen does, so the printed
    differences are PyTorch's to the bit.
    """

    def __init__(
        self,
        actual: Any,
        expected: Any,
        *,
        id: tuple[Any, ...] = (),
        allow_subclasses: bool = True,
        rtol: float | None = None,
        atol: float | None = None,
        equal_nan: bool = False,
        check_device: bool = True,
        check_dtype: bool = True,
        check_layout: bool = True,
        check_stride: bool = False,
        **options: Any,
    ) -> None:
        related = isinstance(actual, type(expected)) or isinstance(expected, type(actual))
        if not related or (not allow_subclasses and type(actual) is not type(expected)):
            raise UnsupportedInputs
        actual, expected = (_to_tensor(x, id).detach() for x in (actual, expected))
        super().__init__(actual, expected, id=id, **options)
        self.rtol, self.atol = get_tolerances(actual, expected, rtol=rtol, atol=atol, id=id)
        self.equal_nan = equal_nan
        self.check_device = check_device
        self.check_dtype = check_dtype
        self.check_layout = check_layout
        self.check_stride = check_stride

    def _mismatch(self, attribute: str, actual: Any, expected: Any) -> NoReturn:
        self._fail(
            AssertionError,
            f"The values for attribute '{attribute}' do not match: {actual} != {expected}.",
        )

    def compare(self) -> None:
        a, e = self.actual, self.expected
        if a.shape != e.shape:
            self._mismatch("shape", a.shape, e.shape)
        if self.check_stride and a.stride() != e.stride():
            self._mismatch("stride()", a.stride(), e.stride())
        if self.check_device and a.device != e.device:
            self._mismatch("device", a.device, e.device)
        if self.check_dtype and a.dtype != e.dtype:
            self._mismatch("dtype", a.dtype, e.dtype)
        if a.dtype != e.dtype:
            dtype = promote_types(a.dtype, e.dtype)
            a, e = a.to(dtype), e.to(dtype)
        self._compare_values(a, e)

    def _compare_values(self, a: Tensor, e: Tensor) -> None:
        matches = isclose(a, e, rtol=self.rtol, atol=self.atol, equal_nan=self.equal_nan)
        if bool(matches.all().item()):
            return
        if a.ndim == 0:
            msg = scalar_mismatch_msg(a.item(), e.item(), rtol=self.rtol, atol=self.atol)
        else:
            msg = tensor_mismatch_msg(a, e, matches, rtol=self.rtol, atol=self.atol)
        self._fail(AssertionError, msg)

    def extra_repr(self) -> tuple[str, ...]:
        return (
            "rtol",
            "atol",
            "equal_nan",
            "check_device",
            "check_dtype",
            "check_layout",
            "check_stride",
        )


PAIR_TYPES: tuple[type[Pair], ...] = (NonePair, BooleanPair, NumberPair, TensorLikePair)
