"""MPI datatypes and reduction ops for adjit's dtypes, and PyTorch's ``ReduceOp``."""

from __future__ import annotations

import enum
from typing import Any

from adjit.ir import dtypes as D


class RedOpType(enum.Enum):
    """PyTorch's ``ReduceOp.RedOpType``: prints as ``RedOpType.SUM``."""

    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7
    PREMUL_SUM = 8

    def __str__(self) -> str:
        return f"RedOpType.{self.name}"


class ReduceOp:
    """PyTorch's ``ReduceOp``: ``ReduceOp.SUM`` ... are ``ReduceOp.RedOpType`` members."""

    RedOpType = RedOpType
    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR
    PREMUL_SUM = RedOpType.PREMUL_SUM


# Note [reduced floats on MPI]
# MPI has no float16/bfloat16 datatype with arithmetic (MPICH's MPIX_C_FLOAT16 is not in the
# standard, bfloat16 is nowhere). Reductions of those dtypes upcast to float32, reduce in float32
# and round once back (bitwise what a float16 add gives for two ranks; for more ranks one
# rounding instead of one per rank, as adjit's own float16 sums accumulate in float32). Moves
# that do no arithmetic (broadcast, gather, scatter, send) ship the bytes as they are.
# dtype name -> (MPI datatype name, dtype the reduction computes in)
REDUCE_TYPES: dict[str, tuple[str, str]] = {
    "bool": ("C_BOOL", "bool"),
    "uint8": ("UINT8_T", "uint8"),
    "int8": ("INT8_T", "int8"),
    "int16": ("INT16_T", "int16"),
    "int32": ("INT32_T", "int32"),
    "int64": ("INT64_T", "int64"),
    "float16": ("FLOAT", "float32"),
    "bfloat16": ("FLOAT", "float32"),
    "float32": ("FLOAT", "float32"),
    "float64": ("DOUBLE", "float64"),
    "complex64": ("C_FLOAT_COMPLEX", "complex64"),
    "complex128": ("C_DOUBLE_COMPLEX", "complex128"),
}

# ReduceOp -> MPI op name for numbers; bool reduces with MPI's logical ops (PyTorch's bool
# results: a sum or max is any, a product or min is all). AVG is SUM then a division.
NUMBER_OPS: dict[RedOpType, str] = {
    RedOpType.SUM: "SUM",
    RedOpType.AVG: "SUM",
    RedOpType.PRODUCT: "PROD",
    RedOpType.MIN: "MIN",
    RedOpType.MAX: "MAX",
    RedOpType.BAND: "BAND",
    RedOpType.BOR: "BOR",
    RedOpType.BXOR: "BXOR",
}
BOOL_OPS: dict[RedOpType, str] = {
    RedOpType.SUM: "LOR",
    RedOpType.PRODUCT: "LAND",
    RedOpType.MIN: "LAND",
    RedOpType.MAX: "LOR",
    RedOpType.BAND: "LAND",
    RedOpType.BOR: "LOR",
    RedOpType.BXOR: "LXOR",
}
COMPLEX_DENIED = {  # PyTorch's supports_complex deny list
    RedOpType.MAX,
    RedOpType.MIN,
    RedOpType.PRODUCT,
    RedOpType.BAND,
    RedOpType.BOR,
    RedOpType.BXOR,
}
BITWISE = {RedOpType.BAND, RedOpType.BOR, RedOpType.BXOR}

# a small code per dtype for the collective signature (Note [collective signature])
DTYPE_CODES: dict[str, int] = {name: k for k, name in enumerate(REDUCE_TYPES)}
DTYPE_NAMES: dict[int, str] = {k: name for name, k in DTYPE_CODES.items()}


def check_reduce(op: Any, dtype: D.DType, what: str) -> RedOpType:
    """``op`` as a RedOpType after PyTorch's checks for ``dtype``; raises as PyTorch does."""
    if not isinstance(op, RedOpType):
        raise TypeError(f"{what}: op must be a ReduceOp (ReduceOp.SUM, ...), got {op!r}")
    if op is RedOpType.PREMUL_SUM:
        raise NotImplementedError(f"{what}: ReduceOp.PREMUL_SUM is not supported on MPI")
    if dtype.category == 3 and op in COMPLEX_DENIED:
        raise ValueError(f"all_reduce does not support {op} on complex tensors")
    if op is RedOpType.AVG and dtype.category < 2:  # PyTorch: the sum's division can't cast
        raise RuntimeError(
            f"result type Float can't be cast to the desired output type {dtype.type_name}"
        )
    if op in BITWISE and dtype.category >= 2:
        raise RuntimeError(
            f"{what}: {op} is only defined for integer and bool tensors, got {dtype}"
        )
    return op


_REDUCE_CACHE: dict[tuple[str, RedOpType], tuple[Any, Any, str]] = {}


def mpi_reduce(MPI: Any, dtype: D.DType, op: RedOpType) -> tuple[Any, Any, str]:
    """(MPI datatype, MPI op, compute dtype name) reducing ``dtype`` with ``op``."""
    key = (dtype.name, op)
    hit = _REDUCE_CACHE.get(key)
    if hit is None:
        type_name, compute = REDUCE_TYPES[dtype.name]
        op_name = BOOL_OPS[op] if dtype.category == 0 else NUMBER_OPS[op]
        hit = _REDUCE_CACHE[key] = (getattr(MPI, type_name), getattr(MPI, op_name), compute)
    return hit
