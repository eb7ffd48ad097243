"""Helpers for rank scripts: named checks, written where _mpi.launch reads them."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

RANK = 0


def check(name: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Decorator: run the function now; print ``CHECK rank name ok`` or ``... FAIL why``."""

    def run(fn: Callable[[], Any]) -> Callable[[], Any]:
        try:
            fn()
            verdict = "ok"
        except Exception as e:  # noqa: BLE001  (reported, one line)
            tb = traceback.extract_tb(e.__traceback__)[-1]
            verdict = f"FAIL {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
            verdict += f"(line {tb.lineno})"
        out = os.environ.get("ADJIT_CHECK_DIR")
        if out is None:
            print(f"CHECK {RANK} {name} {verdict}", flush=True)
        else:
            with open(os.path.join(out, f"rank{RANK}.txt"), "a") as f:
                f.write(f"{RANK} {name} {verdict}\n")
        return fn

    return run


def same(got: Any, want: np.ndarray, *, exact: bool = True, rtol: float = 0.0) -> None:
    """``got`` (a Tensor) equals ``want``: dtype, shape and values (bitwise when exact)."""
    g = got._data if hasattr(got, "_data") else np.asarray(got)
    assert g.dtype == want.dtype, f"dtype {g.dtype} != {want.dtype}"
    assert g.shape == want.shape, f"shape {g.shape} != {want.shape}"
    if exact:
        assert np.array_equal(g, want), f"values {g.ravel()[:8]} != {want.ravel()[:8]}"
    else:
        np.testing.assert_allclose(g.astype(np.float64), want.astype(np.float64), rtol=rtol)


def raises(exc: type[BaseException], fn: Callable[[], Any], *texts: str) -> str:
    """``fn()`` raises ``exc`` whose message contains every text; returns the message."""
    try:
        fn()
    except exc as e:
        msg = str(e)
        for t in texts:
            assert t in msg, f"{t!r} not in {msg!r}"
        return msg
    raise AssertionError(f"no {exc.__name__} raised")


def done() -> None:
    sys.stdout.flush()
