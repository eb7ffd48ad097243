"""``torch.sparse``: products, sums and softmax of sparse COO tensors (runtime/sparse_ops.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adjit.runtime import sparse_ops as _ops
from adjit.runtime.tensor import Tensor

__all__ = ["addmm", "check_sparse_tensor_invariants", "log_softmax", "mm", "softmax", "sum"]


def mm(mat1: Tensor, mat2: Tensor, reduce: str = "sum") -> Tensor:
    """``mat1 @ mat2`` with a sparse ``mat1`` (or ``mat2``); a sparse operand's gradient is
    sparse, at its indices."""
    return _ops.sparse_mm(mat1, mat2, reduce)


def addmm(mat: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Any = 1.0, alpha: Any = 1.0) -> Tensor:
    """``beta * mat + alpha * (mat1 @ mat2)`` with a sparse ``mat1``."""
    return _ops.addmm(mat, mat1, mat2, beta=beta, alpha=alpha)


def sum(input: Tensor, dim: Any = None, dtype: Any = None) -> Tensor:  # noqa: A001, A002
    """The sum over all dims (a dense 0-d tensor) or over ``dim`` (sparse if a sparse dim is
    left)."""
    return _ops.sparse_sum(input, dim, dtype)  # type: ignore[arg-type]


def softmax(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """Softmax over the specified elements along ``dim`` (the unspecified ones are -inf)."""
    return _ops.softmax(input, dim, dtype)  # type: ignore[arg-type]


def log_softmax(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """Log of ``softmax``."""
    return _ops.log_softmax(input, dim, dtype)  # type: ignore[arg-type]


class check_sparse_tensor_invariants:  # noqa: N801 - PyTorch's name
    """Whether sparse constructors check their invariants (adjit always checks that indices
    lie within the size; with this on, also that ``is_coalesced=True`` holds)."""

    @staticmethod
    def is_enabled() -> bool:
        return _ops.CHECK_INVARIANTS[0]

    @staticmethod
    def enable() -> None:
        _ops.CHECK_INVARIANTS[0] = True

    @staticmethod
    def disable() -> None:
        _ops.CHECK_INVARIANTS[0] = False

    def __init__(self, enable: bool = True) -> None:
        self.state = enable
        self.saved_state: bool | None = None

    def __enter__(self) -> None:
        if self.saved_state is not None:
            raise RuntimeError(
                "This context manager instance is already activated. Use a different context "
                "manager instance for context nesting."
            )
        self.saved_state = self.is_enabled()
        _ops.CHECK_INVARIANTS[0] = self.state

    def __exit__(self, *exc: Any) -> None:
        if self.saved_state is None:
            raise AssertionError("saved_state should not be None on exit")
        _ops.CHECK_INVARIANTS[0] = self.saved_state
        self.saved_state = None

    def __call__(self, mth: Callable[..., Any]) -> Callable[..., Any]:
        def test_mth(*args: Any, **kwargs: Any) -> Any:
            with type(self)(self.state):
                return mth(*args, **kwargs)

        return test_mth
