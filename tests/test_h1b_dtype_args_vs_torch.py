"""dtype arguments side by side with PyTorch: Python's float/int/bool/complex as dtypes, a sum's
requested dtype kept (was int64 for integer dtypes), dtype.to_complex/to_real/abbr, and the
empty-list refusals of cat/stack/einsum/meshgrid."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Callable
from typing import Any

import pytest

import adjit

torch = pytest.importorskip("torch")

MAKERS: dict[str, Callable[[Any, Any], Any]] = {
    "zeros": lambda T, d: T.zeros(2, dtype=d),
    "ones": lambda T, d: T.ones(2, 3, dtype=d),
    "empty": lambda T, d: T.empty(1, dtype=d).dtype,
    "full": lambda T, d: T.full((2,), 1, dtype=d),
    "tensor": lambda T, d: T.tensor([1, 0], dtype=d),
    "as_tensor": lambda T, d: T.as_tensor([1.5, 0], dtype=d),
    "arange": lambda T, d: T.arange(3, dtype=d),
    "linspace": lambda T, d: T.linspace(0, 4, 3, dtype=d),
    "eye": lambda T, d: T.eye(2, dtype=d),
    "zeros_like": lambda T, d: T.zeros_like(T.ones(2), dtype=d),
    "full_like": lambda T, d: T.full_like(T.ones(2), 2, dtype=d),
    "new_zeros": lambda T, d: T.ones(1).new_zeros(2, dtype=d),
    "to": lambda T, d: T.tensor([1.5, 0.0]).to(d),
    "to_kw": lambda T, d: T.tensor([1.5, 0.0]).to(dtype=d),
    "type": lambda T, d: T.tensor([1.5, 0.0]).type(d),
    "sum": lambda T, d: T.tensor([1.5, 2.0]).sum(dtype=d),
}


def _outcome(fn: Callable[[], Any]) -> Any:
    try:
        out = fn()
    except Exception as e:  # noqa: BLE001  (the exception is compared)
        return f"{type(e).__name__}: {e}"
    return (str(out.dtype), out.tolist()) if hasattr(out, "tolist") else str(out)


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize("kind", [float, int, bool, complex], ids=lambda k: k.__name__)
def test_python_types_as_dtypes(name: str, kind: type) -> None:
    got = _outcome(lambda: MAKERS[name](adjit, kind))
    want = _outcome(lambda: MAKERS[name](torch, kind))
    assert got == want


@pytest.mark.parametrize("reduction", ["sum", "nansum"])
def test_integer_sum_keeps_the_requested_dtype(reduction: str) -> None:
    for dim in (None, 1):
        for name in ("bool", "int8", "uint8", "int16", "int32", "int64", "float16", "float64"):
            outs = []
            for T in (torch, adjit):
                x = T.tensor([[100, 100, 0], [1, 2, 3]], dtype=T.int8)
                args = () if dim is None else (dim,)
                out = getattr(x, reduction)(*args, dtype=getattr(T, name))
                outs.append((str(out.dtype), out.tolist()))
            assert outs[0] == outs[1], (reduction, dim, name)


DTYPES = (  # noqa: SIM905 - a word list
    "float32 float64 float16 bfloat16 int8 uint8 int16 int32 int64 bool complex64 complex128 "
    "complex32 uint16 uint32 uint64 float8_e4m3fn float8_e5m2 float4_e2m1fn_x2"
).split()


@pytest.mark.parametrize("name", DTYPES)
def test_dtype_conversions_as_pytorch(name: str) -> None:
    def facts(T: Any) -> list[Any]:
        d = getattr(T, name)
        return [d.abbr, _outcome(lambda: d.to_complex()), _outcome(lambda: d.to_real())]

    assert facts(adjit) == facts(torch)


EMPTY: dict[str, Callable[[Any], Any]] = {
    "cat": lambda T: T.cat([]),
    "concat": lambda T: T.concat([]),
    "stack": lambda T: T.stack([]),
    "einsum": lambda T: T.einsum(),
    "einsum_no_operand": lambda T: T.einsum("ij"),
    "meshgrid": lambda T: T.meshgrid(),
}


@pytest.mark.parametrize("name", EMPTY)
def test_empty_inputs_refused_as_pytorch(name: str) -> None:
    outs = []
    for T in (torch, adjit):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (meshgrid's warns once a process: below)
            outs.append(_outcome(lambda T=T: EMPTY[name](T)))
    assert outs[0] == outs[1]


MESHGRID_WARNINGS = """
import sys, warnings
import {lib} as T
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for _ in range(3):
        try:
            T.meshgrid()
        except RuntimeError:
            pass
        T.meshgrid(T.ones(2), T.ones(3))
print([str(w.message).split(" (Triggered internally")[0] for w in caught])  # (torch's C++ site)
"""


def test_meshgrid_warns_once_a_process_as_pytorch() -> None:
    """torch.meshgrid's missing-indexing warning is TORCH_WARN_ONCE: once per process."""
    seen = [
        subprocess.run(
            [sys.executable, "-c", MESHGRID_WARNINGS.format(lib=lib)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout  # fmt: skip
        for lib in ("torch", "adjit")
    ]
    assert seen[0] == seen[1]
    assert seen[0].count("indexing argument") == 1
