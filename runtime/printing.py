"""PyTorch-compatible tensor repr formatting (a port of torch/_tensor_str.py) over NumPy arrays."""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = [
    "format_parameter",
    "format_tensor",
    "get_printoptions",
    "printoptions",
    "set_printoptions",
]

_FLOAT_NAMES = frozenset({"float16", "bfloat16", "float32", "float64", "half", "float", "double"})


@dataclasses.dataclass
class _PrinterOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrinterOptions()


def set_printoptions(
    precision: int | None = None,
    threshold: float | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """Set printing options with the semantics of ``torch.set_printoptions``."""
    if profile is not None:
        if profile == "default":
            PRINT_OPTS.precision, PRINT_OPTS.threshold = 4, 1000
            PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 3, 80
        elif profile == "short":
            PRINT_OPTS.precision, PRINT_OPTS.threshold = 2, 1000
            PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 2, 80
        elif profile == "full":
            PRINT_OPTS.precision, PRINT_OPTS.threshold = 4, math.inf
            PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 3, 80
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    # Like torch: sci_mode is always overwritten (None restores automatic choice).
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict[str, Any]:
    """Return the current options as a dict accepted by ``set_printoptions(**opts)``."""
    return dataclasses.asdict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs: Any) -> Iterator[None]:
    """Temporarily change the print options (same arguments as ``set_printoptions``)."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


class _Formatter:
    """Decides a common width / notation for all elements of a (real) array."""

    def __init__(self, arr: np.ndarray) -> None:
        self.floating_dtype = np.issubdtype(arr.dtype, np.floating)
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = arr.reshape(-1)
        if not self.floating_dtype:
            for value in flat.tolist():
                self.max_width = max(self.max_width, len(f"{value}"))
            return
        nonzero_finite = flat[np.isfinite(flat) & (flat != 0)]
        if nonzero_finite.size == 0:
            return
        finite_abs = np.abs(nonzero_finite).astype(np.float64)
        fmin, fmax = finite_abs.min(), finite_abs.max()
        if np.any(nonzero_finite != np.ceil(nonzero_finite)):
            self.int_mode = False
        if PRINT_OPTS.sci_mode is None:
            self.sci_mode = bool(fmax / fmin > 1000.0 or fmax > 1.0e8 or fmin < 1.0e-4)
        else:
            self.sci_mode = bool(PRINT_OPTS.sci_mode)
        precision = PRINT_OPTS.precision
        values = nonzero_finite.tolist()
        if self.sci_mode:
            widths = [len(f"{v:.{precision}e}") for v in values]
        elif self.int_mode:
            # Integral floats print a trailing "." to mark the floating type.
            widths = [len(f"{v:.0f}") + 1 for v in values]
        else:
            widths = [len(f"{v:.{precision}f}") for v in values]
        self.max_width = max(self.max_width, *widths)

    def width(self) -> int:
        return self.max_width

    def format(self, value: Any) -> str:
        if self.floating_dtype:
            if self.sci_mode:
                ret = f"{value:{self.max_width}.{PRINT_OPTS.precision}e}"
            elif self.int_mode:
                ret = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = f"{value:.{PRINT_OPTS.precision}f}"
        else:
            ret = f"{value}"
        return (self.max_width - len(ret)) * " " + ret


_Formatters = tuple[_Formatter, _Formatter | None]


def _val_str(val: Any, fmts: _Formatters) -> str:
    real_fmt, imag_fmt = fmts
    if imag_fmt is None:
        return real_fmt.format(val)
    real_str = real_fmt.format(val.real)
    imag_str = (imag_fmt.format(val.imag) + "j").lstrip()
    # handles negative numbers, +0.0, -0.0
    if imag_str[0] in "+-":
        return real_str + imag_str
    return real_str + "+" + imag_str


def _vector_str(arr: np.ndarray, indent: int, summarize: bool, fmts: _Formatters) -> str:
    # length includes spaces and comma between elements
    element_length = fmts[0].width() + 2
    if fmts[1] is not None:
        element_length += fmts[1].width() + 1  # imag width + "j"
    elements_per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / element_length))
    edge = PRINT_OPTS.edgeitems
    if summarize and not edge:
        data = ["..."]
    elif summarize and arr.shape[0] > 2 * edge:
        data = (
            [_val_str(v, fmts) for v in arr[:edge].tolist()]
            + [" ..."]
            + [_val_str(v, fmts) for v in arr[-edge:].tolist()]
        )
    else:
        data = [_val_str(v, fmts) for v in arr.tolist()]
    lines = [
        ", ".join(data[i : i + elements_per_line]) for i in range(0, len(data), elements_per_line)
    ]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str_with_formatter(
    arr: np.ndarray, indent: int, summarize: bool, fmts: _Formatters
) -> str:
    dim = arr.ndim
    if dim == 0:
        return _val_str(arr.item(), fmts)
    if dim == 1:
        return _vector_str(arr, indent, summarize, fmts)
    edge = PRINT_OPTS.edgeitems
    n = arr.shape[0]
    if summarize and n > 2 * edge:
        indices: list[int | None] = [*range(edge), None, *range(n - edge, n)]
    else:
        indices = list(range(n))
    slices = [
        "..." if i is None else _tensor_str_with_formatter(arr[i], indent + 1, summarize, fmts)
        for i in indices
    ]
    return "[" + ("," + "\n" * (dim - 1) + " " * (indent + 1)).join(slices) + "]"


def _summarized_data(arr: np.ndarray) -> np.ndarray:
    edge = PRINT_OPTS.edgeitems
    if arr.ndim == 0:
        return arr
    if arr.ndim == 1:
        if arr.shape[0] > 2 * edge:
            return np.concatenate((arr[:edge], arr[-edge:]))
        return arr
    if not edge:
        return np.empty([0] * arr.ndim, dtype=arr.dtype)
    n = arr.shape[0]
    rows = [*range(edge), *range(n - edge, n)] if n > 2 * edge else range(n)
    return np.stack([_summarized_data(arr[i]) for i in rows])


def _tensor_str(arr: np.ndarray, indent: int) -> str:
    if arr.size == 0:
        return "[]"
    summarize = arr.size > PRINT_OPTS.threshold
    src = _summarized_data(arr) if summarize else arr
    if np.iscomplexobj(arr):
        fmts: _Formatters = (_Formatter(src.real), _Formatter(src.imag))
    else:
        fmts = (_Formatter(src), None)
    return _tensor_str_with_formatter(arr, indent, summarize, fmts)


def _add_suffixes(tensor_str: str, suffixes: list[str], indent: int, force_newline: bool) -> str:
    parts = [tensor_str]
    # torch's (quirky) "+ 1" is kept deliberately so line breaks match exactly.
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        if force_newline or last_line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
            force_newline = False
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def format_tensor(
    data: np.ndarray,
    *,
    dtype_name: str,
    is_default_dtype: bool,
    suffixes: list[str],
    prefix: str = "tensor(",
) -> str:
    """Render ``data`` exactly like ``repr(torch.Tensor)``.

    ``suffixes`` (e.g. ``["requires_grad=True"]``) are appended after the ``size=``/``dtype=``
    entries, as torch does. Any text up to the last newline of ``prefix`` is a header line that
    does not affect indentation (e.g. ``"Parameter containing:\\ntensor("``).
    """
    arr = np.asarray(data)
    if dtype_name in ("float16", "bfloat16"):  # as torch/_tensor_str.py: printed as float32
        arr = arr.astype(np.float32)
    head, newline, line_prefix = prefix.rpartition("\n")
    indent = len(line_prefix)
    extra: list[str] = []
    if arr.size == 0:
        # Explicitly print the shape if it is not (0,), to match NumPy behavior.
        if arr.ndim != 1:
            extra.append("size=" + str(tuple(arr.shape)))
        # Only the default *floating* dtype is implied for an empty tensor.
        if not (is_default_dtype and dtype_name in _FLOAT_NAMES):
            extra.append("dtype=torch." + dtype_name)
        tensor_str = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            extra.append("size=" + str(tuple(arr.shape)))
        if not is_default_dtype:
            extra.append("dtype=torch." + dtype_name)
        tensor_str = _tensor_str(arr, indent)
    body = _add_suffixes(line_prefix + tensor_str, extra + list(suffixes), indent, False)
    return head + newline + body


def format_parameter(
    data: np.ndarray, *, dtype_name: str, is_default_dtype: bool, suffixes: list[str]
) -> str:
    """Render like ``repr(torch.nn.Parameter)``: ``"Parameter containing:\\n" + tensor repr``."""
    return format_tensor(
        data,
        dtype_name=dtype_name,
        is_default_dtype=is_default_dtype,
        suffixes=suffixes,
        prefix="Parameter containing:\ntensor(",
    )
