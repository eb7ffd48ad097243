"""Tensor dtypes, their NumPy counterparts and PyTorch's type-promotion rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

try:  # the bfloat16 extra (pip install 'adjit[bfloat16]'): without it bfloat16 refuses by name
    import ml_dtypes
except ImportError:  # pragma: no cover - CI installs the extra
    ml_dtypes = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class DType:
    """A tensor element type; prints as PyTorch does (``torch.float32``)."""

    name: str
    np: type  # the NumPy scalar type that stores it
    category: int  # 0 bool, 1 integer, 2 floating point, 3 complex
    rank: int  # order within the promotion lattice (equal ranks meet one above: _TIES)
    reduced: bool = False  # float16/bfloat16 (Note [reduced floats]); a field: eager asks often

    @property
    def is_floating_point(self) -> bool:
        return self.category == 2

    @property
    def is_complex(self) -> bool:
        return self.name.startswith("complex")  # (complex32 too, which has no category)

    @property
    def is_signed(self) -> bool:
        return not self.name.startswith(("bool", "uint"))

    @property
    def itemsize(self) -> int:
        return int(np.dtype(self.np).itemsize)

    @property
    def is_reduced_float(self) -> bool:
        """float16 and bfloat16: stored narrow, computed in float32 (Note [reduced floats])."""
        return self.reduced

    @property
    def type_name(self) -> str:
        """PyTorch's scalar-type word in messages ("Float", "Long", ...)."""
        return _TYPE_NAMES[self.name]

    @property
    def abbr(self) -> str:
        """PyTorch's short name ("f32", "bf16", "c64", "b8", ...)."""
        return _ABBREVIATIONS.get(self.name) or "f" + self.name[5:].replace("_", "")

    def to_complex(self) -> DType:
        """PyTorch's ``dtype.to_complex()``: a complex dtype of this precision (itself if
        complex); an integer, bool or 8-bit float has none."""
        if self.is_complex:
            return self
        hit = _COMPLEX_OF.get(self.name)
        if hit is None:
            raise RuntimeError(f"Unknown Complex ScalarType for {self.type_name}")
        return hit

    def to_real(self) -> DType:
        """PyTorch's ``dtype.to_real()``: a complex dtype's part type; any other, itself."""
        return {**_VALUE_TYPES, "complex32": float16}.get(self.name, self)

    def __repr__(self) -> str:
        return f"torch.{self.name}"

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return by_name, (self.name,)  # pickles (torch.save) refer to the one instance


# Note [reduced floats]: float16 is NumPy's float16; bfloat16 is ml_dtypes' NumPy dtype (its
# float32 -> bfloat16 conversion rounds to nearest even and keeps NaN, as PyTorch's). As in
# PyTorch's CPU kernels, every op on them computes in float32 (reductions accumulate in float32)
# and rounds the result to the storage type once per op (ir/interpreter.py).
class UnsupportedDType(DType):
    """A PyTorch dtype adjit names but cannot store yet: any use raises, never another dtype.

    It compares, hashes and prints like a dtype (``x.dtype == torch.half`` is False), so code that
    only mentions it runs; asking it for storage or promotion (``dtype=torch.half``,
    ``.to(torch.half)``) raises a TypeError that names it.
    """

    reason: str

    def __init__(self, name: str, reason: str = "") -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "reason", reason)

    def _refuse(self) -> TypeError:
        if self.reason:
            return TypeError(f"torch.{self.name} {self.reason}")
        supported = ", ".join(d.name for d in (*ALL, *COMPLEX))
        return TypeError(
            f"adjit does not support torch.{self.name} yet (supported dtypes: {supported})"
        )

    @property  # type: ignore[override]
    def np(self) -> type:
        raise self._refuse()

    @property  # type: ignore[override]
    def category(self) -> int:
        raise self._refuse()

    @property  # type: ignore[override]
    def rank(self) -> int:
        raise self._refuse()


_HALF_RANK = 5
bool_ = DType("bool", np.bool_, 0, 0)
uint8 = DType("uint8", np.uint8, 1, 1)
int8 = DType("int8", np.int8, 1, 1)
int16 = DType("int16", np.int16, 1, 2)
int32 = DType("int32", np.int32, 1, 3)
int64 = DType("int64", np.int64, 1, 4)
float16 = DType("float16", np.float16, 2, _HALF_RANK, reduced=True)
bfloat16 = (
    DType("bfloat16", ml_dtypes.bfloat16, 2, _HALF_RANK, reduced=True)
    if ml_dtypes is not None
    else UnsupportedDType(
        "bfloat16", "needs the ml_dtypes package: pip install 'adjit[bfloat16]' (or ml_dtypes)"
    )
)
float32 = DType("float32", np.float32, 2, 6)
float64 = DType("float64", np.float64, 2, 7)
# Note [complex dtypes]: complex64/complex128 store as NumPy's complex types. Only the ops in
# COMPLEX_OPS (ir/shapes.py) take them; any other primitive refuses by name, and compiled code
# refuses them at trace time (the LLVM backend never sees a complex): adjit.compile runs the ops
# on them eagerly between graph segments (Note [complex values between segments]).
complex64 = DType("complex64", np.complex64, 3, 8)
complex128 = DType("complex128", np.complex128, 3, 9)
COMPLEX: tuple[DType, ...] = (complex64, complex128)
# two different dtypes of one rank promote to the next type up: uint8 + int8 -> int16,
# float16 + bfloat16 -> float32 (PyTorch's promotion table)
_TIES = {1: int16, _HALF_RANK: float32}

_TYPE_NAMES = {
    "bool": "Bool",
    "uint8": "Byte",
    "int32": "Int",
    "int64": "Long",
    "float32": "Float",
    "float64": "Double",
    "complex64": "ComplexFloat",
    "complex128": "ComplexDouble",
    # dtypes adjit names but does not store yet (their errors still spell them as PyTorch does)
    "float16": "Half",
    "bfloat16": "BFloat16",
    "complex32": "ComplexHalf",
    "int8": "Char",
    "int16": "Short",
    "uint16": "UInt16",
    "uint32": "UInt32",
    "uint64": "UInt64",
    "float8_e4m3fn": "Float8_e4m3fn",
    "float8_e5m2": "Float8_e5m2",
    "float8_e4m3fnuz": "Float8_e4m3fnuz",
    "float8_e5m2fnuz": "Float8_e5m2fnuz",
    "float8_e8m0fnu": "Float8_e8m0fnu",
    "float4_e2m1fn_x2": "Float4_e2m1fn_x2",
}
ALL: tuple[DType, ...] = tuple(
    d
    for d in (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)
    if not isinstance(d, UnsupportedDType)
)
_BY_NUMPY = {np.dtype(d.np): d for d in (*ALL, *COMPLEX)}


complex32 = UnsupportedDType("complex32")
uint16 = UnsupportedDType("uint16")
uint32 = UnsupportedDType("uint32")
uint64 = UnsupportedDType("uint64")
# the 8-bit (and packed 4-bit) floats: named, never another dtype, until adjit stores them
float8_e4m3fn = UnsupportedDType("float8_e4m3fn")
float8_e5m2 = UnsupportedDType("float8_e5m2")
float8_e4m3fnuz = UnsupportedDType("float8_e4m3fnuz")
float8_e5m2fnuz = UnsupportedDType("float8_e5m2fnuz")
float8_e8m0fnu = UnsupportedDType("float8_e8m0fnu")
float4_e2m1fn_x2 = UnsupportedDType("float4_e2m1fn_x2")
FLOAT8: tuple[UnsupportedDType, ...] = (
    float8_e4m3fn,
    float8_e5m2,
    float8_e4m3fnuz,
    float8_e5m2fnuz,
    float8_e8m0fnu,
    float4_e2m1fn_x2,
)
UNSUPPORTED: tuple[UnsupportedDType, ...] = (
    complex32,
    uint16,
    uint32,
    uint64,
    *FLOAT8,
    *((bfloat16,) if isinstance(bfloat16, UnsupportedDType) else ()),
)
_BY_NAME: dict[str, DType] = {d.name: d for d in (*ALL, *COMPLEX, *UNSUPPORTED)}


_PYTHON_TYPES: dict[Any, DType] = {float: float64, int: int64, bool: bool_, complex: complex128}


def as_dtype(d: Any) -> Any:
    """A ``dtype=`` argument as PyTorch reads it: Python's float, int, bool and complex are
    float64, int64, bool and complex128; anything else is returned as it is."""
    return _PYTHON_TYPES.get(d, d) if isinstance(d, type) else d


def by_name(name: str) -> DType:
    """The dtype called ``name`` ("float32", "bool", ...)."""
    return _BY_NAME[name]


# NumPy dtypes that are one of the unsupported PyTorch dtypes (refused by name, not widened)
_UNSUPPORTED_BY_NUMPY = {
    np.dtype(np.uint16): uint16,
    np.dtype(np.uint32): uint32,
    np.dtype(np.uint64): uint64,
}
if ml_dtypes is not None:  # (a NumPy array of ml_dtypes' 8-bit floats: refused by its name)
    _UNSUPPORTED_BY_NUMPY |= {
        np.dtype(getattr(ml_dtypes, d.name)): d for d in FLOAT8 if hasattr(ml_dtypes, d.name)
    }
_DEFAULT_FLOAT = [float32]


def get_default_dtype() -> DType:
    return _DEFAULT_FLOAT[0]


def get_default_complex_dtype() -> DType:
    """complex64 when the default float is float32 (or narrower), complex128 for float64."""
    return to_complex(_DEFAULT_FLOAT[0])


def to_value(d: DType) -> DType:
    """The real dtype of ``d``'s parts: float32 for complex64, ``d`` itself if not complex."""
    return _VALUE_TYPES.get(d.name, d)


def to_complex(d: DType) -> DType:
    """PyTorch's toComplexType: the complex dtype with ``d``'s precision (bfloat16 -> complex64,
    float16 -> complex32, which adjit refuses by name); an integer or bool has none."""
    if d.category == 3:
        return d
    hit = _COMPLEX_OF.get(d.name)
    if hit is None:
        raise TypeError(f"Unknown Complex ScalarType for {d.type_name}")
    return hit


def set_default_dtype(d: DType) -> None:
    if not d.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    _DEFAULT_FLOAT[0] = d


_VALUE_TYPES = {"complex64": float32, "complex128": float64}
_ABBREVIATIONS = {
    "bool": "b8",
    "uint8": "u8",
    "int8": "i8",
    "int16": "i16",
    "int32": "i32",
    "int64": "i64",
    "uint16": "u16",
    "uint32": "u32",
    "uint64": "u64",
    "float16": "f16",
    "bfloat16": "bf16",
    "float32": "f32",
    "float64": "f64",
    "complex32": "c32",
    "complex64": "c64",
    "complex128": "c128",
}  # fmt: skip  (the 8- and 4-bit floats: "f" and their suffix without underscores)
_COMPLEX_OF: dict[str, DType] = {
    "float16": complex32,
    "bfloat16": complex64,
    "float32": complex64,
    "float64": complex128,
}


def from_numpy_dtype(dt: np.dtype) -> DType:
    """The adjit dtype that stores NumPy dtype ``dt``; any other dtype is refused, never widened."""
    hit = _BY_NUMPY.get(dt)  # type: ignore[call-overload]
    if hit is not None:
        return hit
    dt = np.dtype(dt)
    if dt in _BY_NUMPY:
        return _BY_NUMPY[dt]
    if dt in _UNSUPPORTED_BY_NUMPY:
        raise _UNSUPPORTED_BY_NUMPY[dt]._refuse()
    raise TypeError(
        f"can't convert np.ndarray of type numpy.{dt}. The only supported types are: "
        "float64, float32, float16, complex64, complex128, int64, int32, int16, int8, uint64, "
        "uint32, uint16, uint8, and bool."
    )


def promote(a: DType, b: DType) -> DType:
    """The smallest dtype both ``a`` and ``b`` convert to without loss of category."""
    if a is b:
        return a
    if a.category == 3 or b.category == 3:  # complex of the promoted value types
        return to_complex(promote(to_value(a), to_value(b)))
    if a.rank == b.rank:
        return _TIES[a.rank]
    return a if a.rank > b.rank else b


def scalar_dtype(value: object) -> DType:
    """The dtype a Python scalar takes when it stands alone as a tensor."""
    if isinstance(value, bool | np.bool_):
        return bool_
    if isinstance(value, int | np.integer):
        return int64
    if isinstance(value, float | np.floating):
        return get_default_dtype()
    if isinstance(value, complex | np.complexfloating):
        return get_default_complex_dtype()
    raise TypeError(f"unsupported scalar type {type(value).__name__}")


def _combine(higher: DType | None, lower: DType | None) -> DType | None:
    # PyTorch's combine_categories: a lower-priority tier only wins by category (a complex one
    # over a float keeps the float's precision: float64 + complex64 scalar -> complex128).
    if higher is None:
        return lower
    if lower is None or higher.category == 3:
        return higher
    if lower.category == 3:
        return to_complex(higher) if higher.is_floating_point else lower
    if higher.is_floating_point:
        return higher
    if higher is bool_ or lower.is_floating_point:
        return promote(higher, lower)
    return higher


def result_type(operands: list[tuple[DType, int]]) -> DType:
    """PyTorch's result_type over (dtype, tier) pairs: tier 0 has dims, 1 is 0-dim, 2 a scalar."""
    tiers: list[DType | None] = [None, None, None]
    for dt, tier in operands:
        cur = tiers[tier]
        tiers[tier] = dt if cur is None else promote(cur, dt)
    out = _combine(tiers[0], _combine(tiers[1], tiers[2]))
    assert out is not None, "result_type needs at least one operand"
    return out


def to_storage(a: np.ndarray, d: DType) -> np.ndarray:
    """``a`` converted to ``d``: a float16/bfloat16 value is rounded from float32, as PyTorch's
    c10::Half(float) and c10::BFloat16(float) do (a double rounds to float32 first)."""
    if a.dtype == d.np:
        return a
    with np.errstate(all="ignore"):  # overflow to inf and NaN to int convert as in PyTorch
        if d.is_reduced_float and a.dtype != np.float32:
            a = a.astype(np.float32)
        return a.astype(d.np)


_NARROW_NP = tuple(np.dtype(d.np) for d in ALL if d.reduced)


def widen(a: np.ndarray) -> np.ndarray:
    """``a`` ready for NumPy arithmetic: a float16/bfloat16 array as float32 (exactly)."""
    return a.astype(np.float32) if a.dtype in _NARROW_NP else a


def to_float(d: DType) -> DType:
    """``d`` if it is floating point or complex, else the default float (int / int -> float32)."""
    return d if d.category >= 2 else get_default_dtype()
