"""Abstract values: what the compiler knows of a tensor without its data (shape, dtype)."""

from __future__ import annotations

from dataclasses import dataclass

from .dtypes import DType


@dataclass(frozen=True)
class Aval:
    """Static shape and dtype; ``weak`` marks a Python scalar operand (lowest promotion tier)."""

    shape: tuple[int, ...]
    dtype: DType
    weak: bool = False

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
        return f"{short}[{','.join(map(str, self.shape))}]"
