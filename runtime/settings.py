"""Process-wide settings under PyTorch's names: thread counts, determinism, matmul precision."""

from __future__ import annotations

import functools
import importlib.util
import os
import traceback
import warnings
from typing import Any

from . import blas, workers

_INTEROP = [workers.num_threads()]
if "ADJIT_NUM_THREADS" in os.environ:  # BLAS too (Note [thread count] in runtime/workers.py)
    blas.set_threads(workers.num_threads())
_DETERMINISTIC = {"on": False, "warn_only": False}
_PRECISION = ["highest"]  # adjit's float32 products are always full float32 ("highest")


def _count(name: str, n: Any) -> int:
    if not isinstance(n, int) or isinstance(n, bool):
        raise RuntimeError(f"{name} expects an int, but got {type(n).__name__}")
    if n <= 0:
        raise RuntimeError(f"{name} expects a positive integer")
    return n


def set_num_threads(n: int) -> None:
    """Threads a compiled kernel is split across, and BLAS's (Note [thread count])."""
    n = _count("set_num_threads", n)
    workers.set_num_threads(n)
    blas.set_threads(n)


def get_num_threads() -> int:
    return workers.num_threads()


def set_num_interop_threads(n: int) -> None:
    """Recorded only: adjit runs independent ops one after another."""
    _INTEROP[0] = _count("set_num_interop_threads", n)


def get_num_interop_threads() -> int:
    return _INTEROP[0]


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Recorded: every adjit kernel is deterministic already (fixed chunking and order)."""
    if not isinstance(mode, bool):
        raise TypeError(
            "_set_deterministic_algorithms(): argument 'mode' (position 1) must be bool, not "
            f"{type(mode).__name__}"
        )
    _DETERMINISTIC.update(on=mode, warn_only=warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    return _DETERMINISTIC["on"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _DETERMINISTIC["warn_only"]


def set_deterministic_debug_mode(debug_mode: int | str) -> None:
    modes = {"default": 0, "warn": 1, "error": 2}
    mode = modes[debug_mode] if isinstance(debug_mode, str) else int(debug_mode)
    use_deterministic_algorithms(mode != 0, warn_only=mode == 1)


def get_deterministic_debug_mode() -> int:
    if not _DETERMINISTIC["on"]:
        return 0
    return 1 if _DETERMINISTIC["warn_only"] else 2


def set_float32_matmul_precision(precision: str) -> None:
    """Recorded; float32 products stay full float32 (PyTorch's "highest") on this CPU."""
    if precision not in ("highest", "high", "medium"):
        warnings.warn(
            f"{precision} is not one of 'highest', 'high', or 'medium'; the current"
            "setFloat32MatmulPrecision call has no effect.",
            UserWarning,
            stacklevel=2,
        )
        return
    _PRECISION[0] = precision


def get_float32_matmul_precision() -> str:
    return _PRECISION[0]


# ---- anomaly detection ----------------------------------------------------------------------
_ANOMALY = {"on": False, "check_nan": True}


def _internal(filename: str) -> bool:
    """Whether a frame's file is adjit's own code (any module of the adjit package)."""
    return filename.startswith(_adjit_dirs())


# adjit's packages: adjit/ holds the rest; an editable install keeps these beside it
_PACKAGES = (
    "adjit",
    "adjit.runtime",
    "adjit.ir",
    "adjit.passes",
    "adjit.codegen",
    "adjit.frontend",
)


@functools.cache
def _adjit_dirs() -> tuple[str, ...]:
    """adjit's package folders, each ending in a separator (found without importing them)."""
    specs = [importlib.util.find_spec(name) for name in _PACKAGES]
    places = [p for s in specs if s is not None for p in s.submodule_search_locations or ()]
    return tuple(sorted({os.path.join(p, "") for p in places}))


def user_stack() -> list[str]:
    """The caller's stack without adjit's own frames, formatted as ``traceback`` does (anomaly
    mode keeps it on each grad_fn made, for the error's warning)."""
    frames = [f for f in traceback.extract_stack()[:-1] if not _internal(f.filename)]
    return traceback.format_list(frames)


def is_anomaly_enabled() -> bool:
    return _ANOMALY["on"]


def is_anomaly_check_nan_enabled() -> bool:
    return _ANOMALY["check_nan"]


class set_detect_anomaly:  # noqa: N801 - PyTorch's name
    """Sets anomaly mode (a call or a ``with`` block), as PyTorch's: each grad_fn made keeps
    the traceback of its forward call, and an error in its backward (NaN with ``check_nan``)
    warns with it."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev = dict(_ANOMALY)
        _ANOMALY.update(on=mode, check_nan=check_nan)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        _ANOMALY.update(self.prev)


class detect_anomaly:  # noqa: N801 - PyTorch's name
    """``with detect_anomaly():`` (or as a decorator): anomaly mode inside, PyTorch's warning."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan
        warnings.warn(
            "Anomaly Detection has been enabled. This mode will increase the runtime and should "
            "only be enabled for debugging.",
            UserWarning,
            stacklevel=2,
        )

    def __enter__(self) -> None:
        self.prev = dict(_ANOMALY)
        _ANOMALY.update(on=True, check_nan=self.check_nan)

    def __exit__(self, *exc: Any) -> None:
        _ANOMALY.update(self.prev)

    def __call__(self, fn: Any) -> Any:
        import functools

        @functools.wraps(fn)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return wrapped


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """Anomaly mode on or off for the rest of the program (``set_detect_anomaly`` as a call)."""
    _ANOMALY.update(on=bool(enabled), check_nan=bool(check_nan))


# ---- warnings and floating-point modes ------------------------------------------------------
_WARN_ALWAYS = [False]


def _need_bool(value: Any, what: str) -> None:
    if not isinstance(value, bool):
        raise RuntimeError(f"{what} expects a bool, but got {type(value).__name__}")


def set_warn_always(b: bool, /) -> None:
    """Warnings PyTorch gives once per process (TypedStorage's deprecation) come every time."""
    _need_bool(b, "setWarnOnlyOnce")
    _WARN_ALWAYS[0] = b


def is_warn_always_enabled() -> bool:
    return _WARN_ALWAYS[0]


def set_flush_denormal(mode: bool) -> bool:
    """Whether the CPU now treats denormals as PyTorch was asked to. adjit's kernels and NumPy
    keep denormals: turning flushing off is what already holds (True); turning it on is not
    supported here (False, PyTorch's answer on a CPU without that mode), nothing changes."""
    _need_bool(mode, "flush_denormal")
    return not mode


def init_num_threads() -> None:
    """Nothing to do: adjit's worker threads start with their first parallel kernel."""


def compiled_with_cxx11_abi() -> bool:
    return True  # PyTorch's answer for its own wheels (adjit has no C++ ABI of its own)
