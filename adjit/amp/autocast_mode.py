"""``torch.autocast``: the context manager and decorator, its per-device state, and
custom_fwd/custom_bwd."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from adjit.ir import dtypes as D
from adjit.ir.dtypes import DType, UnsupportedDType
from adjit.runtime import autocast as _cpu

# Note [autocast]
# PyTorch's autocast runs some ops (matmul, linear, convolutions, ...) in a lower precision and
# others (losses, reductions, ...) in float32 while it is enabled. On a CPU-only build, CUDA
# autocast (``torch.autocast("cuda")``, ``torch.cuda.amp.autocast()``: what GPU training scripts
# say) disables itself with a warning and changes nothing: adjit does the same, so such scripts
# run unchanged. CPU autocast in bfloat16 or float16 runs as PyTorch's does, op by op (Note [CPU
# autocast] in runtime/autocast.py, whose per-thread state the "cpu" device reads and writes).
# bfloat16 needs the optional ml_dtypes: without it entering CPU autocast to bfloat16 refuses by
# name, float16 still runs. An unsupported dtype disables autocast with PyTorch's warning.

_DEVICES = ("cpu", "cuda", "xpu", "mps", "hpu", "xla", "ipu", "mtia", "maia")
_BFLOAT16 = ("cpu", "hpu", "xla", "maia")  # autocast to bfloat16 by default (else float16)
_STATE: dict[str, dict[str, Any]] = {
    d: {"enabled": False, "dtype": D.bfloat16 if d in _BFLOAT16 else D.float16} for d in _DEVICES
}


def is_autocast_available(device_type: str) -> bool:
    return device_type in _DEVICES


def _state(device_type: str) -> dict[str, Any]:
    if device_type not in _STATE:
        from adjit.runtime.device import device

        device(device_type)  # PyTorch's error for a string that names no device
        raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
    return _STATE[device_type]


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is on for ``device_type`` (PyTorch: CUDA when not given)."""
    if device_type == "cpu":
        return _cpu._state.enabled
    return bool(_state("cuda" if device_type is None else device_type)["enabled"])


_ONE_ARGUMENT: Any = object()  # set_autocast_enabled(enabled): CUDA's


def _require(
    function: str, name: str, position: int, value: Any, kind: type, typename: str
) -> None:
    """PyTorch's argument parser's TypeError for an argument of the wrong type."""
    if not isinstance(value, kind):
        raise TypeError(
            f"{function}(): argument '{name}' (position {position}) must be {typename}, "
            f"not {type(value).__name__}"
        )


def set_autocast_enabled(device_type: Any, enabled: Any = _ONE_ARGUMENT) -> None:
    position = 2
    if enabled is _ONE_ARGUMENT:  # (the old one-argument form: CUDA)
        device_type, enabled, position = "cuda", device_type, 1
    _require("set_autocast_enabled", "enabled", position, enabled, bool, "bool")
    if device_type == "cpu":
        _cpu.set_enabled(bool(enabled))
    else:
        _state(device_type)["enabled"] = bool(enabled)


def get_autocast_dtype(device_type: str) -> DType:
    if device_type == "cpu":
        return _cpu._state.dtype
    return _state(device_type)["dtype"]  # type: ignore[no-any-return]


def set_autocast_dtype(device_type: str, dtype: DType) -> None:
    _require("set_autocast_dtype", "dtype", 2, dtype, DType, "torch.dtype")
    if device_type == "cpu":
        _cpu.set_dtype(dtype)
    else:
        _state(device_type)["dtype"] = dtype


def deprecated(
    old: str, new: str, category: type[Warning] = DeprecationWarning, depth: int = 1
) -> None:
    """PyTorch's "<old> is deprecated. Please use <new> instead.", reported at the line that
    called the deprecated function (``depth`` frames of adjit above this call)."""
    warnings.warn(f"{old} is deprecated. Please use {new} instead.", category, stacklevel=2 + depth)


def get_autocast_cpu_dtype() -> DType:
    deprecated(
        "torch.get_autocast_cpu_dtype()", "torch.get_autocast_dtype('cpu')", DeprecationWarning
    )
    return get_autocast_dtype("cpu")


def get_autocast_gpu_dtype() -> DType:
    deprecated(
        "torch.get_autocast_gpu_dtype()", "torch.get_autocast_dtype('cuda')", DeprecationWarning
    )
    return get_autocast_dtype("cuda")


def is_autocast_cpu_enabled() -> bool:
    deprecated(
        "torch.is_autocast_cpu_enabled()", "torch.is_autocast_enabled('cpu')", DeprecationWarning
    )
    return is_autocast_enabled("cpu")


def is_autocast_cache_enabled() -> bool:
    return _cpu._state.cache_enabled


def set_autocast_cache_enabled(enabled: bool) -> None:
    _cpu._state.cache_enabled = bool(enabled)


def clear_autocast_cache() -> None:
    """Drop the weight casts kept inside CPU autocast (Note [CPU autocast])."""
    _cpu.clear_cache()


def autocast_increment_nesting() -> int:
    _cpu._state.nesting += 1
    return _cpu._state.nesting


def autocast_decrement_nesting() -> int:
    _cpu._state.nesting -= 1
    return _cpu._state.nesting


class autocast:  # noqa: N801 - PyTorch's name
    """``torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None)`` (Note
    [autocast]): CPU autocast casts listed ops; disabled forms run the block unchanged."""

    def __init__(
        self,
        device_type: str,
        dtype: DType | None = None,
        enabled: bool = True,
        cache_enabled: bool | None = None,
    ) -> None:
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device = device_type
        _state(device_type)  # (an unknown device_type: PyTorch's errors)
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self._cache_enabled = (
            is_autocast_cache_enabled() if cache_enabled is None else cache_enabled
        )
        if enabled and device_type != "cpu":
            name = {"cuda": "CUDA is not available or torch_xla is imported"}.get(
                device_type, f"{device_type.upper()} is not available"
            )
            warnings.warn(f"{name}. Disabling autocast.", stacklevel=2)
            enabled = False
        elif enabled and self.fast_dtype not in (D.bfloat16, D.float16):
            warnings.warn(
                "In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                "CPU Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.",
                stacklevel=2,
            )
            enabled = False
        self._enabled = bool(enabled)

    def __enter__(self) -> autocast:
        if self._enabled and isinstance(self.fast_dtype, UnsupportedDType):
            raise TypeError(
                f"torch.autocast('cpu', dtype={self.fast_dtype}) runs ops in {self.fast_dtype}, "
                f"and {self.fast_dtype.reason}; or use dtype=torch.float16"
            )
        self.prev_cache_enabled = is_autocast_cache_enabled()
        self.prev = is_autocast_enabled(self.device)
        self.prev_fastdtype = get_autocast_dtype(self.device)
        set_autocast_enabled(self.device, self._enabled)
        set_autocast_dtype(self.device, self.fast_dtype)
        autocast_increment_nesting()
        set_autocast_cache_enabled(self._cache_enabled)
        return self

    def __exit__(self, *exc: Any) -> bool:
        if autocast_decrement_nesting() == 0:
            clear_autocast_cache()
        set_autocast_enabled(self.device, self.prev)
        set_autocast_dtype(self.device, self.prev_fastdtype)
        set_autocast_cache_enabled(self.prev_cache_enabled)
        return False

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(func):
            raise TypeError(
                f"autocast()(func) requires a callable, but got {type(func).__name__}. "
                "Did you mean to use autocast as a context manager? For example:\n"
                "    with torch.autocast(device_type=...):\n"
                "        output = model(input)"
            )

        @functools.wraps(func)
        def decorate_autocast(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return decorate_autocast


def _cast_inputs(value: Any, device_type: str, dtype: DType) -> Any:
    """``value`` with its floating tensors (not float64) on ``device_type`` cast to ``dtype``,
    through lists, tuples, dicts and other iterables (PyTorch's amp ``_cast``)."""
    from adjit.runtime.tensor import Tensor

    if isinstance(value, Tensor):
        eligible = value.is_floating_point() and value.dtype is not D.float64
        return value.to(dtype) if eligible and device_type == "cpu" else value
    if isinstance(value, str | bytes) or type(value).__module__ == "numpy":
        return value
    if isinstance(value, Mapping):
        return {
            _cast_inputs(k, device_type, dtype): _cast_inputs(v, device_type, dtype)
            for k, v in value.items()
        }
    if isinstance(value, Iterable):
        cast = (_cast_inputs(v, device_type, dtype) for v in value)
        return type(value)(cast) if isinstance(value, list | tuple) else cast
    return value


def custom_fwd(
    fwd: Callable[..., Any] | None = None,
    *,
    device_type: str,
    cast_inputs: DType | None = None,
) -> Any:
    """``torch.amp.custom_fwd``: a custom Function's forward under the caller's autocast state,
    or, with ``cast_inputs`` inside an enabled region, on inputs cast to it with autocast off."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args: Any, **kwargs: Any) -> Any:
        ctx = args[0]
        ctx._dtype = get_autocast_dtype(device_type)
        enabled = is_autocast_enabled(device_type)
        ctx._fwd_used_autocast = enabled and cast_inputs is None
        if cast_inputs is None or not enabled:
            return fwd(*args, **kwargs)
        with autocast(device_type=device_type, enabled=False):
            return fwd(
                *_cast_inputs(args, device_type, cast_inputs),
                **_cast_inputs(kwargs, device_type, cast_inputs),
            )

    return decorate_fwd


def custom_bwd(bwd: Callable[..., Any] | None = None, *, device_type: str) -> Any:
    """``torch.amp.custom_bwd``: a custom Function's backward under its forward's autocast
    state (enabled and dtype, as ``custom_fwd`` recorded them on ``ctx``)."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args: Any, **kwargs: Any) -> Any:
        ctx = args[0]
        with autocast(device_type, dtype=ctx._dtype, enabled=ctx._fwd_used_autocast):
            return bwd(*args, **kwargs)

    return decorate_bwd
