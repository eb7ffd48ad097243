"""``codegen.addresses.address`` (Note [data addresses]) is ``a.ctypes.data`` for every array."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.codegen import addresses
from adjit.codegen.addresses import address


def _arrays() -> list[np.ndarray]:
    base = np.arange(120, dtype=np.float64).reshape(4, 5, 6)
    raw = np.zeros(64, np.uint8)
    return [
        base,
        base[1:, 2:, ::2],
        base.T,
        base[::-1],
        base[2, 3, 4:5],
        base[..., 0],
        np.asarray(base[0, 0, 0]),  # 0-d
        np.empty((0, 3), np.float32),
        raw[3:11].view(np.uint16),
        np.ndarray((2, 3), np.float32, raw, 8),
        np.broadcast_to(np.float32(1), (5, 5)),
        np.zeros(3, np.complex64),
        np.frombuffer(bytearray(16), np.int32),
    ]


def test_address_is_the_ctypes_address() -> None:
    for a in _arrays():
        assert address(a) == a.ctypes.data


def test_the_field_reading_is_in_use_here() -> None:
    assert addresses._field_holds()
    assert address is addresses._field_address


def test_the_fallback_is_the_ctypes_address() -> None:
    for a in _arrays():
        assert addresses._ctypes_address(a) == a.ctypes.data


def test_other_objects_take_the_ctypes_attribute() -> None:
    m = np.arange(6.0).reshape(2, 3).view(np.matrix)
    assert address(m) == m.ctypes.data
    with pytest.raises(AttributeError):
        address(np.float32(1))  # type: ignore[arg-type]  (as ``.ctypes`` does)
