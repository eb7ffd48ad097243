"""Names PyTorch removed and keeps to explain: eig, symeig, lstsq, solve, matrix_rank raise its
texts, as Tensor.reinforce does; Tensor.volatile warns and is always False."""

from __future__ import annotations

import warnings
from typing import Any

from .tensor import Tensor

_REMOVED = "This function was deprecated since version 1.9 and is now removed."

# PyTorch's texts (torch/_linalg_utils.py), each pointing at its torch.linalg replacement
MATRIX_RANK = (
    f"{_REMOVED}\nPlease use the `torch.linalg.matrix_rank` function instead. The parameter "
    "'symmetric' was renamed in `torch.linalg.matrix_rank()` to 'hermitian'."
)
SOLVE = (
    f"{_REMOVED} `torch.solve` is deprecated in favor of `torch.linalg.solve`. "
    "`torch.linalg.solve` has its arguments reversed and does not return the LU "
    "factorization.\n\nTo get the LU factorization see `torch.lu`, which can be used with "
    "`torch.lu_solve` or `torch.lu_unpack`.\nX = torch.solve(B, A).solution should be replaced "
    "with:\nX = torch.linalg.solve(A, B)"
)
LSTSQ = (
    f"{_REMOVED} `torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.\n"
    "`torch.linalg.lstsq` has reversed arguments and does not return the QR decomposition in "
    "the returned tuple (although it returns other information about the problem).\n\n"
    "To get the QR decomposition consider using `torch.linalg.qr`.\n\n"
    "The returned solution in `torch.lstsq` stored the residuals of the solution in the "
    "last m - n columns of the returned value whenever m > n. In torch.linalg.lstsq, "
    "the residuals are in the field 'residuals' of the returned named tuple.\n\n"
    "The unpacking of the solution, as in\nX, _ = torch.lstsq(B, A).solution[:A.size(1)]\n"
    "should be replaced with:\nX = torch.linalg.lstsq(A, B).solution"
)
SYMEIG = (
    f"{_REMOVED} The default behavior has changed from using the upper triangular portion of "
    "the matrix by default to using the lower triangular portion.\n\n"
    "L, _ = torch.symeig(A, upper=upper) should be replaced with:\n"
    "L = torch.linalg.eigvalsh(A, UPLO='U' if upper else 'L')\n\nand\n\n"
    "L, V = torch.symeig(A, eigenvectors=True) should be replaced with:\n"
    "L, V = torch.linalg.eigh(A, UPLO='U' if upper else 'L')"
)
EIG = (
    f"{_REMOVED} `torch.linalg.eig` returns complex tensors of dtype `cfloat` or `cdouble` "
    "rather than real tensors mimicking complex tensors.\n\n"
    "L, _ = torch.eig(A) should be replaced with:\nL_complex = torch.linalg.eigvals(A)\n\n"
    "and\n\nL, V = torch.eig(A, eigenvectors=True) should be replaced with:\n"
    "L_complex, V_complex = torch.linalg.eig(A)"
)


def matrix_rank(input: Any, tol: Any = None, symmetric: bool = False, *, out: Any = None) -> Any:
    raise RuntimeError(MATRIX_RANK)


def solve(input: Any, A: Any, *, out: Any = None) -> Any:  # noqa: N803 - PyTorch's names
    raise RuntimeError(SOLVE)


def lstsq(input: Any, A: Any, *, out: Any = None) -> Any:  # noqa: N803
    raise RuntimeError(LSTSQ)


def _symeig(input: Any, eigenvectors: bool = False, upper: bool = True, *, out: Any = None) -> Any:
    raise RuntimeError(SYMEIG)


def eig(self: Any, eigenvectors: bool = False, *, e: Any = None, v: Any = None) -> Any:
    raise RuntimeError(EIG)


symeig = _symeig  # (named _symeig in PyTorch too: its argument errors say so)


def _solve_method(self: Tensor, other: Any) -> Any:
    return solve(self, other)


def _lstsq_method(self: Tensor, other: Any) -> Any:
    return lstsq(self, other)


def _eig_method(self: Tensor, eigenvectors: bool = False) -> Any:
    return eig(self, eigenvectors=eigenvectors)


def _symeig_method(self: Tensor, eigenvectors: bool = False) -> Any:
    return _symeig(self, eigenvectors=eigenvectors)


REINFORCE = """reinforce() was removed.
Use torch.distributions instead.
See https://pytorch.org/docs/main/distributions.html

Instead of:

probs = policy_network(state)
action = probs.multinomial()
next_state, reward = env.step(action)
action.reinforce(reward)
action.backward()

Use:

probs = policy_network(state)
# NOTE: categorical is equivalent to what used to be called multinomial
m = torch.distributions.Categorical(probs)
action = m.sample()
next_state, reward = env.step(action)
loss = -m.log_prob(action) * reward
loss.backward()
"""


def _reinforce_method(self: Tensor, reward: Any) -> Any:
    raise RuntimeError(REINFORCE)


def _get_volatile(self: Tensor) -> bool:
    warnings.warn("volatile was removed (Variable.volatile is always False)", stacklevel=2)
    return False


def _set_volatile(self: Tensor, value: Any) -> None:
    warnings.warn(
        "volatile was removed and now has no effect. Use `with torch.no_grad():` instead.",
        stacklevel=2,
    )


_FUNCTIONS = {  # Tensor methods with PyTorch's signatures (no matrix_rank method)
    "solve": _solve_method,
    "lstsq": _lstsq_method,
    "eig": _eig_method,
    "symeig": _symeig_method,
    "reinforce": _reinforce_method,
}
for _name, _fn in _FUNCTIONS.items():
    _fn.__name__, _fn.__qualname__ = _name, f"Tensor.{_name}"
METHODS: dict[str, Any] = {**_FUNCTIONS, "volatile": property(_get_volatile, _set_volatile)}
