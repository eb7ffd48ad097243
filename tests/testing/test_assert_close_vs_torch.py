"""adjit.testing.assert_close against torch.testing.assert_close: for every case the outcome (a
pass, or the exception type and full message) is PyTorch's."""

from __future__ import annotations

import traceback
import warnings
from typing import Any

import numpy as np
import pytest
from assert_close_cases import CASES

import adjit

torch = pytest.importorskip("torch")


def _outcome(T: Any, case: Any, fn: str = "assert_close") -> tuple[str, str]:
    actual, expected, options = case(T)
    try:
        getattr(T.testing, fn)(actual, expected, **options)
    except Exception as e:  # noqa: BLE001 - the outcome is the exception
        return type(e).__name__, str(e)
    return "pass", ""


@pytest.mark.parametrize("name", sorted(CASES))
def test_outcome_is_pytorchs(name: str) -> None:
    want = _outcome(torch, CASES[name])
    got = _outcome(adjit, CASES[name])
    assert got == want


def test_cases_cover_passes_and_each_failure_kind() -> None:
    kinds = {_outcome(torch, c)[0] for c in CASES.values()}
    assert kinds == {"pass", "AssertionError", "TypeError", "ValueError"}


def test_bool_against_int_is_pytorchs_unexpected_error() -> None:
    """PyTorch's NumberPair has no dtype for bool: a RuntimeError chained to the KeyError."""
    errors = []
    for T in (torch, adjit):
        with pytest.raises(RuntimeError) as info:
            T.testing.assert_close(True, 1)
        errors.append(info.value)
    want, got = (str(e) for e in errors)
    assert want.startswith(got) and got.endswith("resulted in the unexpected exception above.")
    assert type(errors[1].__cause__) is type(errors[0].__cause__) is KeyError


def test_error_is_raised_from_the_callers_frame() -> None:
    """Only the caller's frame and assert_close's (hidden from pytest) are in the traceback."""
    with pytest.raises(AssertionError) as info:
        adjit.testing.assert_close(adjit.zeros(2), adjit.ones(2))
    frames = traceback.extract_tb(info.value.__traceback__)
    assert [f.name for f in frames] == [
        "test_error_is_raised_from_the_callers_frame",
        "assert_close",
    ]
    assert info.value.__cause__ is None and info.value.__suppress_context__ is False
    with pytest.raises(AssertionError) as info:
        adjit.testing.assert_close([1], [1, 2])
    frames = traceback.extract_tb(info.value.__traceback__)
    assert frames[-1].name == "assert_close" and info.value.__suppress_context__


def test_requires_grad_inputs_are_left_alone() -> None:
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    adjit.testing.assert_close(x, x.detach().clone())
    assert x.requires_grad and x.grad is None


ALLCLOSE = {
    "list": lambda T: (T.tensor([1.0, 2.0]), [1.0, 2.0001], {}),
    "list_fail": lambda T: (T.tensor([1.0, 2.0]), [1.0, 2.1], {}),
    "scalars": lambda T: (1.0, 1.0, {}),
    "nan_equal": lambda T: (T.tensor([float("nan")]), T.tensor([float("nan")]), {}),
    "dtypes": lambda T: (T.tensor([1.0]), T.tensor([1.00001], dtype=T.float64), {}),
    "int": lambda T: (T.tensor([1, 2]), [1, 3], {}),
    "msg": lambda T: (T.tensor([1.0]), T.tensor([2.0]), {"msg": "boom"}),
    "tol": lambda T: (T.tensor([1.0]), T.tensor([1.5]), {"rtol": 0.5, "atol": 0.0}),
}


@pytest.mark.parametrize("name", sorted(ALLCLOSE))
def test_assert_allclose_is_pytorchs(name: str) -> None:
    outcomes, messages = [], []
    for T in (torch, adjit):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcomes.append(_outcome(T, ALLCLOSE[name], "assert_allclose"))
        messages.append([(w.category, str(w.message)) for w in caught])
    assert outcomes[0] == outcomes[1]
    assert messages[0] == messages[1] and messages[0][0][0] is FutureWarning


def test_assert_allclose_warns_at_the_caller() -> None:
    with pytest.warns(FutureWarning, match="assert_allclose") as caught:
        adjit.testing.assert_allclose(adjit.ones(1), adjit.ones(1))
    assert caught[0].filename == __file__


BOUNDARY_DTYPES = ["float16", "bfloat16", "float32", "float64", "complex64", "int32", "uint8"]
SCALES = [0.5, 0.99, 1.0, 1.01, 1.5, 3.0]  # the perturbation, in units of the allowed error


def _boundary_case(dtype: str, seed: int) -> Any:
    """Values at and around the tolerance edge (elementwise scales from SCALES), with NaN and
    inf sprinkled in, built from the same float64 draws in both libraries."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(1, 5, size=int(rng.integers(1, 4))))
    expected = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, size=shape)
    tol = (1e-3, 1e-4) if seed % 3 == 0 else (None, None)
    rtol, atol = tol if tol[0] is not None else (1.3e-6, 1e-5)
    scales = SCALES if seed % 2 else [0.0, 0.5, 0.99, 1.0]  # (even seeds: mostly within)
    delta = rng.choice(scales, size=shape) * (atol + rtol * np.abs(expected))
    actual = expected + delta * rng.choice([-1.0, 1.0], size=shape)
    if seed % 4 == 1:
        actual.flat[0], expected.flat[0] = np.nan, rng.choice([np.nan, 1.0])
    if seed % 5 == 2:
        actual.flat[-1] = expected.flat[-1] = rng.choice([np.inf, -np.inf])
    if dtype in ("int32", "uint8"):
        actual, expected = np.abs(actual * 20).round(), np.abs(expected * 20).round()
    options = {"equal_nan": bool(seed % 2)}
    if tol[0] is not None:
        options |= {"rtol": tol[0], "atol": tol[1]}
    return lambda T: (
        T.tensor(actual).to(getattr(T, dtype)),
        T.tensor(expected).to(getattr(T, dtype)),
        options,
    )


@pytest.mark.parametrize("dtype", BOUNDARY_DTYPES)
def test_outcomes_at_the_tolerance_edge_are_pytorchs(dtype: str) -> None:
    outcomes = set()
    for seed in range(30):
        case = _boundary_case(dtype, seed)
        want = _outcome(torch, case)
        assert _outcome(adjit, case) == want, seed
        outcomes.add(want[0])
    assert outcomes == {"pass", "AssertionError"}


def test_numpy_dtype_adjit_cannot_store_is_refused_by_name() -> None:
    """PyTorch compares uint16 arrays; adjit cannot store them: its TypeError naming the dtype,
    not "No comparison pair" (which would blame the caller's types)."""
    a = np.array([1, 2], dtype=np.uint16)
    torch.testing.assert_close(a, a)
    with pytest.raises(TypeError, match=r"adjit does not support torch.uint16 yet") as info:
        adjit.testing.assert_close({"k": a}, {"k": a})
    assert str(info.value).endswith("The failure occurred for item ['k']")
