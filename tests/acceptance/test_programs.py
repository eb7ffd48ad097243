"""Acceptance: each program(torch) run with adjit and with PyTorch prints the same text.

Each ``pNN_*.py`` is a PyTorch script written against its ``torch`` argument (the ``adjit`` or
the ``torch`` module), seeded with ``torch.manual_seed``; it prints what a user would print and
returns its loss curve. Add a program by writing one and listing it in PROGRAMS.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import re
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

EPS32 = float(np.finfo(np.float32).eps)

PROGRAMS = [
    "p01_mlp_dataloader",
    "p02_cnn_onecycle",
    "p03_rnn_packed",
    "p04_transformer_warmup",
    "p05_checkpoint_resume",
    "p06_custom_function",
    "p07_activation_checkpoint",
    "p08_parametrizations",
    "p09_vae",
    "p10_hooks_freeze_groups",
    "p11_tutorial_boilerplate",
    "p12_seq2seq_transformer",
    "p13_conv_autoencoder",
    "p14_temporal_conv",
    "p15_char_lm",
    "p16_error_messages",
    "p17_compiled_training",
    "p18_contrastive_distill",
    "p19_segmentation",
    "p20_gnn",
    "p21_nanogpt",
    "p22_mnist_example",
]

# PyTorch's side takes ~10 s here (Inductor compiles the model); run with ADJIT_SLOW=1
SLOW = {"p17_compiled_training"}

# Programs whose printed float32 numbers may differ in the last printed digit: the summation order
# of a float32 reduction or matmul differs (NumPy's pairwise sums and its BLAS vs PyTorch's
# kernels). Value: the number of terms n of the largest float32 reduction printed, and the
# magnitude S of its summands (sum of |term|, measured in PyTorch; 0 where the sum does not
# cancel, so that |v| stands for it); a printed number v may then differ by
# max(|v|, S) * n * eps32 (the recursive-summation error bound, n * eps * sum |term|) plus one
# unit in its last printed place.
SUM_TERMS = {
    # the printed weight gradient sums over a batch of 16 (matmul) and cancels: its elements
    # are down to 8e-5 while the sum of |delta_b x_b| over the batch is 0.0029-0.0224 for the
    # printed rows (|grad of the first layer's output|^T |x| of the last batch)
    "p01_mlp_dataloader": (16, 0.0224),
    "p09_vae": (24 * 12, 0.0),  # binary_cross_entropy(reduction="sum") over 24 x 12
}

# Returned numbers: float32 training curves of a few steps, where reductions' rounding (an eps or
# so per step) may grow through the steps: 8 * eps32 (measured: at most 1.3 eps32, p09).
# Float64 programs: 1e-12 (measured: 1.4e-17).
RTOL = {"p06_custom_function": 1e-12}

# program -> why it is expected to fail (the exact cause; strict, so the test flips when fixed)
XFAIL: dict[str, str] = {}


_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def run(name: str, lib: Any, **kwargs: Any) -> tuple[str, Any]:
    """The program's printed text and its returned value, run with library `lib`."""
    mod = importlib.import_module(f"{__package__}.{name}")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        result = mod.program(lib, **kwargs)
    return buf.getvalue(), result


def to_numpy(v: Any) -> Any:
    """Tensors (adjit or torch) and Python floats to NumPy, recursively."""
    if isinstance(v, tuple | list):
        return [to_numpy(x) for x in v]
    if hasattr(v, "detach") and hasattr(v, "numpy"):
        return np.asarray(v.detach().numpy())
    return np.asarray(v)


def last_place(token: str) -> float:
    """One unit in the last printed place of a number token."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (-decimals + (int(exponent) if exponent else 0))


def assert_same_text(ours: str, theirs: str, sum_terms: tuple[int, float] | None) -> None:
    """Equal text; with sum_terms (n, S), numbers may differ within the float32 summation
    bound (see SUM_TERMS)."""
    if sum_terms is None or ours == theirs:
        assert ours == theirs
        return
    assert _NUMBER.sub("#", ours) == _NUMBER.sub("#", theirs)
    n, summands = sum_terms
    for a, b in zip(_NUMBER.findall(ours), _NUMBER.findall(theirs), strict=True):
        if a == b:
            continue
        va, vb = float(a), float(b)
        tol = max(abs(vb), summands) * n * EPS32 + last_place(b)
        assert abs(va - vb) <= tol, (a, b, tol)


def assert_same_result(ours: Any, theirs: Any, rtol: float) -> None:
    """Returned numbers equal within rtol (relative, with the same absolute floor)."""
    if theirs is None:  # a program that only prints
        assert ours is None
        return
    a, b = to_numpy(ours), to_numpy(theirs)
    if isinstance(b, list):
        assert isinstance(a, list) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same_result(x, y, rtol)
        return
    assert a.shape == b.shape and a.dtype == b.dtype, (a.dtype, b.dtype)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)


def _params() -> list[Any]:
    marks: dict[str, list[Any]] = {n: [pytest.mark.slow] for n in SLOW}
    for n, r in XFAIL.items():
        marks.setdefault(n, []).append(pytest.mark.xfail(strict=True, reason=r))
    return [pytest.param(n, marks=marks.get(n, [])) for n in PROGRAMS]


@pytest.mark.parametrize("name", _params())
def test_program_vs_torch(name: str) -> None:
    theirs_text, theirs = run(name, torch)
    ours_text, ours = run(name, adjit)
    assert_same_text(ours_text, theirs_text, SUM_TERMS.get(name))
    assert_same_result(ours, theirs, rtol=RTOL.get(name, 8 * EPS32))


def test_cnn_program_without_dropout_vs_torch() -> None:
    """p02 without its Dropout: conv/BN/pooling/Adam/OneCycleLR alone as torch."""
    theirs_text, theirs = run("p02_cnn_onecycle", torch, p_drop=0.0)
    ours_text, ours = run("p02_cnn_onecycle", adjit, p_drop=0.0)
    assert_same_text(ours_text, theirs_text, None)
    assert_same_result(ours, theirs, rtol=8 * EPS32)


def test_text_comparison_can_fail() -> None:
    assert_same_text("loss 1.2345\n", "loss 1.2345\n", None)
    assert_same_text("loss 200.9152\n", "loss 200.9153\n", (288, 0.0))  # one last place
    with pytest.raises(AssertionError):
        assert_same_text("loss 200.9152\n", "loss 200.9153\n", None)
    with pytest.raises(AssertionError):
        assert_same_text("loss 1.2343\n", "loss 1.2345\n", (288, 0.0))  # beyond the bound
    with pytest.raises(AssertionError):
        assert_same_text("acc 1.2345\n", "loss 1.2345\n", (288, 0.0))
    # a cancelling sum: its summands' magnitude, not the small result, bounds the error
    assert_same_text("g 8.7841e-05\n", "g 8.7847e-05\n", (16, 0.0224))
    with pytest.raises(AssertionError):
        assert_same_text("g 8.7841e-05\n", "g 8.7847e-05\n", (16, 0.0))
    with pytest.raises(AssertionError):
        assert_same_text("g 8.7041e-05\n", "g 8.7847e-05\n", (16, 0.0224))
