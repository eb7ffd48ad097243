"""Every public name with bad input, side by side with PyTorch: wrong dims, shapes and dtypes
raise PyTorch's exception type (never a raw NumPy error), and what PyTorch accepts runs."""

# Note [the error sweep]
# Each public name's sample from docs/gen_api.py (Note [the API page]) is mutated: a dim made out
# of range (7, -7), the second operand's shape broken, the float operand replaced by an integer,
# a bool, an empty or a 0-d tensor, the second operand made float64. PyTorch runs each mutant
# first. When PyTorch raises, adjit must raise an instance of the same exception type whose
# message mentions no NumPy; when PyTorch runs, adjit must run too. KNOWN lists the mutants
# where adjit still differs, with the reason; it is exact (a fixed mutant must leave the list).

from __future__ import annotations

import importlib.util
import pathlib
import re
from collections.abc import Callable
from typing import Any

import pytest

import adjit

torch = pytest.importorskip("torch")
GEN = pathlib.Path(__file__).resolve().parents[1] / "docs" / "gen_api.py"

MUTATIONS: dict[str, Callable[[str], str]] = {
    "dim7": lambda t: re.sub(r"\b1\b", "7", t, count=1),
    "dimneg": lambda t: re.sub(r"\b1\b", "-7", t, count=1),
    "shape": lambda t: t.replace("y", "y[:2, :3]", 1),
    "int": lambda t: re.sub(r"\bx\b", "i", t),
    "bool": lambda t: re.sub(r"\bx\b", "b", t),
    "empty": lambda t: re.sub(r"\bx\b", "x[:0]", t),
    "scalar": lambda t: re.sub(r"\bx\b", "x[0, 0]", t),
    "float64": lambda t: t.replace("y", "y.double()", 1),
}

# (name, mutation): why adjit still differs from PyTorch there
_BATCH = "a 0-d batch: adjit's 3-D check speaks first (RuntimeError, PyTorch IndexError)"
_STRIDED = "as_strided copies the tensor's own elements (no storage beyond them): refused"
_EINSUM = "bool with float: adjit's dtype error comes before PyTorch's bool refusal"
_ISIN = "PyTorch's isin fails on a non-contiguous test tensor (its own view error); adjit runs"
_COND = "cond of an empty non-square matrix: PyTorch gives 0, adjit refuses"
_ROUND = "PyTorch's special.round refuses integers (torch.round takes them); adjit takes them"
_FRACTIONAL = "a negative output size: adjit's broadcast ValueError, PyTorch's numel overflow"
_CHALF = "complex32 is not stored (NumPy has none, PyTorch's CPU has little math on it): refused"
_SPARSE = (
    "indices out of the size: PyTorch builds the sparse tensor unchecked (check_invariants=False) "
    "and fails or reads out of bounds later; adjit refuses it when it is made"
)
KNOWN: dict[tuple[str, str], str] = {
    ("sparse_coo_tensor", "dim7"): _SPARSE,
    ("sparse_coo_tensor", "dimneg"): _SPARSE,
    ("sparse_csr_tensor", "dim7"): _SPARSE,
    ("sparse_csr_tensor", "dimneg"): _SPARSE,
    ("Tensor.chalf", "bool"): _CHALF,
    ("Tensor.chalf", "empty"): _CHALF,
    ("Tensor.chalf", "int"): _CHALF,
    ("Tensor.chalf", "scalar"): _CHALF,
    ("Tensor.baddbmm", "scalar"): _BATCH,
    ("Tensor.baddbmm_", "scalar"): _BATCH,
    ("as_strided", "empty"): _STRIDED,
    ("as_strided", "scalar"): _STRIDED,
    ("as_strided_copy", "empty"): _STRIDED,
    ("as_strided_copy", "scalar"): _STRIDED,
    ("as_strided_scatter", "empty"): _STRIDED,
    ("as_strided_scatter", "scalar"): _STRIDED,
    ("Tensor.as_strided_scatter", "empty"): _STRIDED,
    ("Tensor.as_strided_scatter", "scalar"): _STRIDED,
    ("nn.functional.fractional_max_pool3d", "dimneg"): _FRACTIONAL,
    ("nn.functional.fractional_max_pool3d_with_indices", "dimneg"): _FRACTIONAL,
    ("baddbmm", "scalar"): _BATCH,
    ("einsum", "bool"): _EINSUM,
    ("isin", "shape"): _ISIN,
    ("linalg.cond", "empty"): _COND,
    ("special.round", "int"): _ROUND,
}


def _gen() -> Any:
    spec = importlib.util.spec_from_file_location("gen_api", GEN)
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen


def _outcome(gen: Any, fn: Callable[..., Any], text: str, T: Any) -> BaseException | None:
    try:
        gen._call(fn, text, T)
    except Exception as e:  # the outcome under test
        return e
    return None


def _differences() -> dict[tuple[str, str], str]:
    gen = _gen()
    found: dict[tuple[str, str], str] = {}
    for surface, _ in gen.SURFACES:
        for name in gen._adjit_names(surface):
            qual = f"{surface}.{name}" if surface else name
            sample = gen.sample_for(surface, name, torch)
            if sample is None:
                continue
            _, text, ours, theirs = sample
            for kind, mutate in MUTATIONS.items():
                bad = mutate(text)
                if bad == text:
                    continue
                want = _outcome(gen, theirs, bad, torch)
                got = _outcome(gen, ours, bad, adjit)
                if want is None and got is None:
                    continue
                if want is None:
                    found[(qual, kind)] = f"PyTorch runs `{bad}`; adjit raises {got!r}"[:200]
                elif got is None:
                    found[(qual, kind)] = f"PyTorch raises {want!r}; adjit runs `{bad}`"[:200]
                elif not isinstance(got, type(want)) or "numpy" in str(got).lower():
                    found[(qual, kind)] = f"PyTorch {want!r}; adjit {got!r}"[:200]
    return found


def test_bad_input_errors_match_pytorch() -> None:
    found = _differences()
    new = {k: v for k, v in found.items() if k not in KNOWN}
    fixed = sorted(k for k in KNOWN if k not in found)
    assert not new, "\n".join(f"{k}: {v}" for k, v in sorted(new.items()))
    assert not fixed, f"fixed, remove from KNOWN: {fixed}"
