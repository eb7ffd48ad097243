"""The public namespace: builtins it rebinds never leak into library code; dtype names that
adjit cannot store refuse; allclose/isclose/equal side by side with PyTorch."""

from __future__ import annotations

import ast
import pathlib
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from adjit.ir import dtypes as D

import adjit

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ["adjit", "frontend", "ir", "passes", "codegen", "runtime"]
SHADOWED = {"bool", "float", "int"}


def _sources() -> list[pathlib.Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_init_only_imports_and_binds() -> None:
    """Note [builtins in the namespace]: no code in adjit/__init__.py can call a rebound builtin."""
    tree = ast.parse((ROOT / "adjit" / "__init__.py").read_text())
    allowed = (ast.Import, ast.ImportFrom, ast.Assign, ast.Expr)
    for node in tree.body:
        assert isinstance(node, allowed), f"line {node.lineno}: {type(node).__name__}"
        assert not any(isinstance(n, ast.Lambda) for n in ast.walk(node)), node.lineno


def test_no_library_module_rebinds_a_builtin() -> None:
    offenders = []
    for path in _sources():
        if path == ROOT / "adjit" / "__init__.py":
            continue
        for node in ast.parse(path.read_text()).body:
            names: list[str] = []
            if isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.ImportFrom | ast.Import):
                names = [a.asname or a.name for a in node.names]
            elif isinstance(node, ast.FunctionDef | ast.ClassDef):
                names = [node.name]
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in SHADOWED & {*names}
            ]
    assert not offenders


def test_public_dtype_names() -> None:
    assert adjit.bool is D.bool_ and adjit.float is D.float32 and adjit.int is D.int32
    assert adjit.double is D.float64 and adjit.long is D.int64
    assert adjit.half is adjit.float16 and adjit.cfloat is adjit.complex64
    assert adjit.cdouble is adjit.complex128 and adjit.short is adjit.int16


UNSUPPORTED = [d.name for d in D.UNSUPPORTED]


@pytest.mark.parametrize("name", UNSUPPORTED)
def test_unsupported_dtype_is_named_never_another(name: str) -> None:
    d = getattr(adjit, name)
    assert repr(d) == f"torch.{name}"
    assert isinstance(d, adjit.dtype)
    assert adjit.ones(2).dtype != d and d in {d}
    assert pickle.loads(pickle.dumps(d)) is d
    message = f"adjit does not support torch.{name} yet"
    uses: list[Callable[[], Any]] = [
        lambda: adjit.zeros(2, dtype=d),
        lambda: adjit.ones(2, 3, dtype=d),
        lambda: adjit.full((2,), 1, dtype=d),
        lambda: adjit.empty(2, dtype=d),
        lambda: adjit.arange(3, dtype=d),
        lambda: adjit.tensor([1, 2], dtype=d),
        lambda: adjit.zeros_like(adjit.ones(2), dtype=d),
        lambda: adjit.ones(2).to(d),
        lambda: adjit.ones(2).to(dtype=d),
        lambda: adjit.ones(2).type(d),
        lambda: adjit.set_default_dtype(d),
        lambda: d.is_floating_point,
        lambda: d.itemsize,
    ]
    for use in uses:
        with pytest.raises(TypeError, match=message):
            use()
    assert adjit.get_default_dtype() is D.float32


@pytest.mark.parametrize("np_dtype", [np.uint16, np.uint32, np.uint64])
def test_numpy_dtypes_without_a_home_are_refused(np_dtype: Any) -> None:
    arr = np.ones(3, np_dtype)
    name = D._UNSUPPORTED_BY_NUMPY[np.dtype(np_dtype)].name
    for make in (adjit.from_numpy, adjit.tensor, adjit.as_tensor):
        with pytest.raises(TypeError, match=f"torch.{name}"):
            make(arr)


def test_supported_numpy_dtypes_round_trip() -> None:
    for d in D.ALL:
        arr = np.zeros(2, d.np)
        assert adjit.from_numpy(arr).dtype is d
        assert adjit.tensor(arr).dtype is d
        assert pickle.loads(pickle.dumps(d)) is d


CLOSE_CASES: list[tuple[str, Callable[[Any], Any]]] = [
    ("allclose-equal", lambda T: T.allclose(T.ones(2), T.ones(2))),
    ("allclose-far", lambda T: T.allclose(T.ones(2), T.zeros(2))),
    ("allclose-rtol", lambda T: T.allclose(T.tensor([1.0]), T.tensor([1.1]), rtol=0.2)),
    ("allclose-atol", lambda T: T.allclose(T.tensor([0.0]), T.tensor([1e-9]))),
    ("allclose-broadcast", lambda T: T.allclose(T.ones(2, 3), T.ones(3))),
    ("allclose-nan", lambda T: T.allclose(T.tensor([float("nan")]), T.tensor([float("nan")]))),
    (
        "allclose-equal-nan",
        lambda T: T.allclose(T.tensor([float("nan")]), T.tensor([float("nan")]), equal_nan=True),
    ),
    ("allclose-inf", lambda T: T.allclose(T.tensor([float("inf")]), T.tensor([float("inf")]))),
    ("allclose-int", lambda T: T.allclose(T.tensor([1, 2]), T.tensor([1, 2]))),
    ("allclose-dtypes", lambda T: T.allclose(T.ones(2), T.ones(2, dtype=T.float64))),
    ("allclose-shapes", lambda T: T.allclose(T.ones(2), T.ones(3))),
    ("allclose-list", lambda T: T.allclose(T.ones(2), [1.0, 1.0])),
    ("allclose-rtol-neg", lambda T: T.allclose(T.ones(2), T.ones(2), rtol=-1.0)),
    ("allclose-method", lambda T: T.ones(2).allclose(T.ones(2) + 1e-7)),
    ("isclose", lambda T: T.isclose(T.tensor([1.0, 2.0]), T.tensor([1.0, 2.1]))),
    ("isclose-int", lambda T: T.isclose(T.tensor([1, 2]), T.tensor([1, 3]))),
    ("isclose-bool", lambda T: T.isclose(T.tensor([True, False]), T.tensor([True, True]))),
    ("isclose-method", lambda T: T.tensor([1.0]).isclose(T.tensor([1.0]))),
    ("equal", lambda T: T.equal(T.ones(2), T.ones(2))),
    ("equal-values", lambda T: T.equal(T.ones(2), T.zeros(2))),
    ("equal-shapes", lambda T: T.equal(T.ones(2), T.ones(1))),
    ("equal-dtypes", lambda T: T.equal(T.ones(2), T.ones(2, dtype=T.float64))),
    ("equal-int-float", lambda T: T.equal(T.ones(2), T.ones(2, dtype=T.int64))),
    ("equal-nan", lambda T: T.equal(T.tensor([float("nan")]), T.tensor([float("nan")]))),
    ("equal-int", lambda T: T.equal(T.ones(2), 1)),
    ("equal-method", lambda T: T.ones(2).equal(T.ones(2))),
]


def _outcome(fn: Callable[[Any], Any], T: Any) -> Any:
    try:
        out = fn(T)
    except Exception as e:  # the error type and text are part of the API
        return e
    return out.tolist() if hasattr(out, "tolist") else out


@pytest.mark.parametrize("fn", [f for _, f in CLOSE_CASES], ids=[n for n, _ in CLOSE_CASES])
def test_close_and_equal_like_torch(torch_mod: Any, fn: Callable[[Any], Any]) -> None:
    got, want = _outcome(fn, adjit), _outcome(fn, torch_mod)
    if isinstance(want, Exception):  # adjit may raise a subclass (ShapeError is a RuntimeError)
        assert isinstance(got, type(want)) and str(got) == str(want), (got, want)
    else:
        assert got == want and type(got) is type(want)
