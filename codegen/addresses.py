"""An array's data address without ``ndarray.ctypes``: the field NumPy's ``PyArray_DATA`` reads."""

from __future__ import annotations

import ctypes
import sys

import numpy as np

# Note [data addresses]
# ``a.ctypes.data`` builds a ctypes helper object on every use: 2.8 µs. A compiled MLP step
# asks for ~20 addresses (pooled buffers, kernel inputs, the optimizer's and the scatter's
# arrays), ~50 µs of a 1.6 ms step. A NumPy array's address is the first field after the
# object header of its C struct (``PyArrayObject_fields.data``, what the C API's
# ``PyArray_DATA`` reads, part of NumPy's stable ABI), and CPython's ``id`` is the object's
# address, so reading that pointer (``c_size_t.from_address``) takes 0.5 µs. Checked once at
# import against ``ctypes.data`` on arrays and offset views; anywhere it does not hold (another
# Python implementation, another layout) ``address`` is the ctypes attribute itself.

_HEADER = object.__basicsize__  # PyObject_HEAD: where ``data`` starts


def _ctypes_address(a: np.ndarray) -> int:
    return int(a.ctypes.data)


def _field_address(a: np.ndarray) -> int:
    if type(a) is not np.ndarray:  # (a subclass, or not an array at all: the attribute)
        return int(a.ctypes.data)
    return int(ctypes.c_size_t.from_address(id(a) + _HEADER).value)


def _field_holds() -> bool:
    if sys.implementation.name != "cpython":
        return False  # (``id`` is an address only in CPython)
    base = np.arange(64, dtype=np.float32)
    probes: list[np.ndarray] = [base, base[3:], base[::2], base.reshape(8, 8)[2:, 1:], np.empty(0)]
    return all(_field_address(a) == a.ctypes.data for a in probes)


address = _field_address if _field_holds() else _ctypes_address
address.__doc__ = "The address of ``a``'s first element (``a.ctypes.data``), fast."
