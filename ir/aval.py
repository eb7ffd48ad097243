"""Abstract values: what the compiler knows of a tensor without its data (shape, dtype)."""

from __future__ import annotations

from dataclasses import dataclass

from .dtypes import DType
from .sizes import same_shape


@dataclass(frozen=True, eq=False)
class Aval:
    """Static shape and dtype; ``weak`` marks a Python scalar operand (lowest promotion tier)."""

    shape: tuple[int, ...]
    dtype: DType
    weak: bool = False

    def __eq__(self, other: object) -> bool:
        """Same dtype, weakness and shape; a symbolic size equals another only when it does at
        every size (size-oblivious, no guard: Note [symbolic shapes])."""
        if self is other:
            return True
        if not isinstance(other, Aval):
            return NotImplemented
        return (
            self.dtype == other.dtype
            and self.weak == other.weak
            and same_shape(self.shape, other.shape)
        )

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype, self.weak))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def tier(self) -> int:
        return 2 if self.weak else (1 if not self.shape else 0)

    def __str__(self) -> str:
        short = {
            "float32": "f32",
            "float64": "f64",
            "int64": "i64",
            "int32": "i32",
            "bool": "bool",
            "uint8": "u8",
            "int8": "i8",
            "int16": "i16",
            "float16": "f16",
            "bfloat16": "bf16",
            "complex64": "c64",
            "complex128": "c128",
        }[self.dtype.name]
        dims = ",".join(str(getattr(n, "expr", n)) for n in self.shape)  # (a SymInt's expression)
        return f"{short}[{dims}]"
