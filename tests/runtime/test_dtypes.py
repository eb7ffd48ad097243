"""Type promotion against PyTorch: every pair of dtypes and operand kinds, through real ops."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from adjit.ir import dtypes as D

import adjit

torch = pytest.importorskip("torch")

DTYPES = {d.name: d for d in D.ALL}
# operand kinds: a tensor with dims, a 0-dim tensor, or a Python scalar
KINDS = [f"{n}[2]" for n in DTYPES] + [f"{n}[]" for n in DTYPES] + ["bool", "int", "float"]
SCALARS: dict[str, Any] = {"bool": True, "int": 2, "float": 1.5}
PAIRS = [(a, b) for a, b in itertools.product(KINDS, KINDS) if not (a in SCALARS and b in SCALARS)]


def _operand(kind: str, T: Any) -> Any:
    if kind in SCALARS:
        return SCALARS[kind]
    name, dims = kind.split("[")
    return T.tensor([1, 2] if dims == "2]" else 3, dtype=getattr(T, name))


def _tier(kind: str) -> int:
    return 2 if kind in SCALARS else (1 if kind.endswith("[]") else 0)


def _dtype_of(kind: str) -> D.DType:
    if kind in SCALARS:
        return D.scalar_dtype(SCALARS[kind])
    return DTYPES[kind.split("[")[0]]


@pytest.fixture(params=["float32", "float64"])
def default_dtype(request: pytest.FixtureRequest) -> Iterator[str]:
    adjit.set_default_dtype(DTYPES[request.param])
    old = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, request.param))
    yield request.param
    adjit.set_default_dtype(D.float32)
    torch.set_default_dtype(old)


def test_result_type_table(default_dtype: str) -> None:
    mismatches = []
    for a, b in PAIRS:
        got = D.result_type([(_dtype_of(a), _tier(a)), (_dtype_of(b), _tier(b))])
        want = torch.result_type(_operand(a, torch), _operand(b, torch))
        if str(got) != str(want):
            mismatches.append(f"{a} x {b}: {got} != {want}")
    assert not mismatches, "\n".join(mismatches)


BINARY_OPS: dict[str, Callable[[Any, Any, Any], Any]] = {
    "add": lambda T, a, b: T.add(a, b) if not isinstance(a, int | float) else b.__radd__(a),
    "sub": lambda T, a, b: T.sub(a, b) if not isinstance(a, int | float) else b.__rsub__(a),
    "mul": lambda T, a, b: a * b,
    "div": lambda T, a, b: a / b,
    "floordiv": lambda T, a, b: a // b,
    "pow": lambda T, a, b: a**b,
    "maximum": lambda T, a, b: T.maximum(
        *(v if not isinstance(v, int | float) else T.tensor(v) for v in (a, b))
    ),
    "eq": lambda T, a, b: a == b,
    "lt": lambda T, a, b: a < b,
    "where": lambda T, a, b: T.where(T.tensor([True, False]), a, b),
}


def _run(fn: Callable[..., Any], *args: Any) -> tuple[Any, type | None]:
    try:
        return fn(*args), None
    except Exception as e:  # noqa: BLE001 - we compare the kind of failure
        return None, type(e)


def _same_failure(want: type | None, got: type | None) -> bool:
    """Both succeed, or both fail with the same kind (adjit's subclass of torch's)."""
    if want is None or got is None:
        return want is got
    return issubclass(got, want) or got.__name__ == want.__name__


@pytest.mark.parametrize("op", list(BINARY_OPS))
def test_binary_op_dtypes(op: str) -> None:
    fn = BINARY_OPS[op]
    mismatches = []
    for a, b in PAIRS:
        want, want_err = _run(fn, torch, _operand(a, torch), _operand(b, torch))
        got, got_err = _run(fn, adjit, _operand(a, adjit), _operand(b, adjit))
        if want_err is not None or got_err is not None:
            if not _same_failure(want_err, got_err):
                mismatches.append(f"{a} {op} {b}: torch raised {want_err}, adjit {got_err}")
            continue
        if str(got.dtype) != str(want.dtype) or tuple(got.shape) != tuple(want.shape):
            mismatches.append(
                f"{a} {op} {b}: {got.dtype}{list(got.shape)} != {want.dtype}{list(want.shape)}"
            )
        elif not np.allclose(got.double().numpy(), want.double().numpy()):
            mismatches.append(f"{a} {op} {b}: {got.numpy()} != {want.numpy()}")
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches[:40])


UNARY_OPS = [
    "neg",
    "abs",
    "exp",
    "sqrt",
    "sigmoid",
    "relu",
    "sign",
    "sum",
    "amax",
    "logical_not",
    "square",
    "reciprocal",
    "tanh",
    "clone",
]


@pytest.mark.parametrize("op", UNARY_OPS)
def test_unary_op_dtypes(op: str) -> None:
    mismatches = []
    for kind in KINDS[:-3]:
        want, want_err = _run(getattr(_operand(kind, torch), op))
        got, got_err = _run(getattr(_operand(kind, adjit), op))
        if want_err is not None or got_err is not None:
            if not _same_failure(want_err, got_err):
                mismatches.append(f"{op}({kind}): torch raised {want_err}, adjit {got_err}")
            continue
        if str(got.dtype) != str(want.dtype):
            mismatches.append(f"{op}({kind}): {got.dtype} != {want.dtype}")
    assert not mismatches, "\n".join(mismatches)
