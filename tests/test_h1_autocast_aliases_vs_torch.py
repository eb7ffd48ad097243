"""The deprecated per-device autocast spellings (torch.set_autocast_cpu_enabled, ...) and the
argument checks of set_autocast_enabled/set_autocast_dtype, side by side with PyTorch."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import adjit
from adjit.amp.autocast_legacy import __all__ as LEGACY

torch = pytest.importorskip("torch")
DEVICES = ("cpu", "cuda", "ipu", "xla")


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    """Each library's per-device autocast state as it was before the test."""
    saved = {
        T: [(d, T.is_autocast_enabled(d), T.get_autocast_dtype(d)) for d in DEVICES]
        for T in (adjit, torch)
    }
    yield
    for T, states in saved.items():
        for device, enabled, dtype in states:
            T.set_autocast_enabled(device, enabled)
            T.set_autocast_dtype(device, dtype)


def _outcome(T: Any, call: str) -> tuple[Any, ...]:
    """(result or error type and text, warnings as (category, text without torch's C++ tail))."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            result: Any = repr(eval(call, {"T": T}))
        except TypeError as e:
            result = ("TypeError", str(e))
    texts = [(w.category, str(w.message).split(" (Triggered internally")[0]) for w in seen]
    return result, texts


CALLS = [
    "T.set_autocast_cpu_enabled(True)",
    "T.is_autocast_enabled('cpu')",
    "T.set_autocast_cpu_enabled(False)",
    "T.set_autocast_cpu_dtype(T.float16)",
    "T.get_autocast_dtype('cpu')",
    "T.set_autocast_cpu_dtype(T.float32)",
    "T.get_autocast_dtype('cpu')",
    "T.set_autocast_gpu_dtype(T.bfloat16)",
    "T.get_autocast_dtype('cuda')",
    "T.is_autocast_ipu_enabled()",
    "T.get_autocast_ipu_dtype()",
    "T.set_autocast_ipu_enabled(True)",
    "T.set_autocast_ipu_dtype(T.float64)",
    "T.is_autocast_ipu_enabled()",
    "T.get_autocast_ipu_dtype()",
    "T.is_autocast_xla_enabled()",
    "T.get_autocast_xla_dtype()",
    "T.set_autocast_xla_enabled(True)",
    "T.set_autocast_xla_dtype(T.float16)",
    "T.is_autocast_xla_enabled()",
    "T.get_autocast_xla_dtype()",
    # bad calls: the builtin's texts, the type check before any warning
    "T.set_autocast_cpu_enabled(1)",
    "T.set_autocast_cpu_enabled(None)",
    "T.set_autocast_cpu_enabled(enabled=True)",
    "T.set_autocast_cpu_enabled()",
    "T.set_autocast_cpu_enabled(True, 2)",
    "T.set_autocast_cpu_dtype('float16')",
    "T.set_autocast_gpu_dtype(1)",
    "T.set_autocast_xla_dtype(dtype=T.float16)",
    "T.get_autocast_ipu_dtype(1)",
    "T.is_autocast_xla_enabled(1, 2)",
    # the device_type forms check their argument types as PyTorch's parser
    "T.set_autocast_enabled('cpu', 1)",
    "T.set_autocast_enabled('cpu', None)",
    "T.set_autocast_enabled(1)",
    "T.set_autocast_dtype('cpu', 1)",
    "T.set_autocast_dtype('cuda', None)",
    "T.is_autocast_enabled('cpu')",
]


def test_deprecated_autocast_spellings_as_pytorch() -> None:
    for call in CALLS:
        assert _outcome(adjit, call) == _outcome(torch, call), call


def test_every_spelling_pytorch_has() -> None:
    assert all(hasattr(torch, name) for name in LEGACY)
    for name in LEGACY:
        assert getattr(adjit, name).__name__ == name


def test_deprecation_points_at_the_caller() -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        adjit.set_autocast_cpu_dtype(adjit.float16)
    assert seen[0].category is DeprecationWarning and seen[0].filename == __file__


def test_legacy_enable_turns_on_cpu_autocast() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        out = []
        for T in (adjit, torch):
            T.set_autocast_cpu_dtype(T.bfloat16)
            T.set_autocast_cpu_enabled(True)
            out.append(str(T.mm(T.ones(2, 2), T.ones(2, 2)).dtype))
            T.set_autocast_cpu_enabled(False)
    assert out == ["torch.bfloat16", "torch.bfloat16"]


def test_default_autocast_dtype_of_each_device_as_pytorch() -> None:
    for device in ("cpu", "cuda", "xpu", "mps", "hpu", "xla", "ipu", "mtia", "maia"):
        assert str(adjit.get_autocast_dtype(device)) == str(torch.get_autocast_dtype(device))
