"""PyTorch's legacy (pre-1.6, non-zip) checkpoint format: pickles followed by raw storages."""

from __future__ import annotations

import pickle
import struct
import sys
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from adjit import serialization_unpickler as U
from adjit.serialization_pickler import TorchPickler
from adjit.serialization_rebuild import LoadedStorage, StorageType, TypedView, itemsize

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
_SYS_INFO = {
    "protocol_version": PROTOCOL_VERSION,
    "little_endian": sys.byteorder == "little",
    "type_sizes": {"short": 2, "int": 4, "long": 4},
}


class LegacyPickler(TorchPickler):
    """Storages as the legacy format names them: a 6-tuple with no view metadata."""

    def persistent_id(self, obj: Any) -> Any:
        pid = super().persistent_id(obj)
        return None if pid is None else (*pid, None)


def legacy_save(obj: Any, out: IO[bytes], protocol: int) -> None:
    for header in (MAGIC_NUMBER, PROTOCOL_VERSION, _SYS_INFO):
        pickle.dump(header, out, protocol=protocol)
    pickler = LegacyPickler(out, protocol)
    pickler.dump(obj)
    by_key = {s.key: s for s in pickler.storages.values()}
    keys = sorted(by_key)
    pickle.dump(keys, out, protocol=protocol)
    for key in keys:
        s = by_key[key]
        out.write(struct.pack("<q", s.data.nbytes // s.dtype.itemsize))
        out.write(memoryview(s.data))


def legacy_load(
    f: IO[bytes],
    restore: Callable[[LoadedStorage, str], LoadedStorage],
    weights_only: bool,
    encoding: str,
) -> Any:
    start = f.read(512)
    f.seek(0)
    if start[257:262] == b"ustar":
        if weights_only:
            from adjit.serialization import UNSAFE_MESSAGE

            raise RuntimeError(
                "Cannot use ``weights_only=True`` with files saved in the legacy .tar format. "
                + UNSAFE_MESSAGE
            )
        raise NotImplementedError("adjit.load cannot read PyTorch's pre-0.4 .tar checkpoints")
    storages: dict[str, tuple[LoadedStorage, Any]] = {}

    def persistent_load(pid: Any) -> TypedView:
        if not isinstance(pid, tuple) or len(pid) != 6 or U._ascii(pid[0]) != "storage":
            raise pickle.UnpicklingError(f"adjit.load: unsupported persistent id {pid!r}")
        storage_type, key, location, numel, view = pid[1:]
        if not isinstance(storage_type, StorageType):
            raise pickle.UnpicklingError(f"adjit.load: {storage_type!r} is not a storage type")
        dtype, location = storage_type.dtype, U._ascii(location)
        if key not in storages:
            data = np.empty(int(numel) * itemsize(dtype), np.uint8)  # filled after the pickle
            storages[key] = (restore(LoadedStorage(data, location), location), dtype)
        storage = storages[key][0]
        if view is not None:
            view_key, offset, size = view
            if view_key not in storages:
                n = itemsize(dtype)
                part = storage.data[int(offset) * n : (int(offset) + int(size)) * n]
                storages[view_key] = (LoadedStorage(part, location), dtype)
            storage = storages[view_key][0]
        return TypedView(storage, dtype)

    def unpickle() -> Any:
        if weights_only:
            return U.Unpickler(f, persistent_load, encoding).load()
        from adjit.serialization import trusted_unpickler

        return trusted_unpickler(f, persistent_load, encoding).load()

    if unpickle() != MAGIC_NUMBER:
        raise RuntimeError("Invalid magic number; corrupt file?")
    version = unpickle()
    if version != PROTOCOL_VERSION:
        raise RuntimeError(f"Invalid protocol version: {version}")
    sys_info = unpickle()
    little = not isinstance(sys_info, dict) or sys_info.get("little_endian", True)
    result = unpickle()
    for key in unpickle():
        storage, dtype = storages[key]
        (numel,) = struct.unpack("<q" if little else ">q", f.read(8))
        data = storage.data
        if numel * itemsize(dtype) != data.nbytes:
            raise RuntimeError(f"adjit.load: storage {key} has {numel} elements, not as pickled")
        if f.readinto(memoryview(data)) != data.nbytes:  # type: ignore[attr-defined]
            raise RuntimeError(f"adjit.load: storage {key} ended early")
        if little != (sys.byteorder == "little"):
            from adjit.serialization import swap_bytes

            swap_bytes(data, dtype)
    return result
