"""The zip container of ``torch.save`` files: a writer laid out as PyTorch's (miniz), readers."""

from __future__ import annotations

import os
import random
import struct
import zipfile
import zlib
from typing import IO, Any

ALIGNMENT = 64  # each record's data starts at a multiple of this (PyTorch's storage alignment)
# Note [zip64 in torch.save files]: miniz always ends the archive with zip64 end records, and a
# record past 4 GiB (its size or its offset) takes 0xFFFFFFFF in the 32-bit fields plus a zip64
# extra field, and a 24-byte data descriptor instead of 16. A test lowers this limit to cover it.
ZIP64_LIMIT = 0xFFFFFFFF
_UTF8, _DESCRIPTOR = 0x0800, 0x0008  # flags: UTF-8 names; sizes in a descriptor after the data


def archive_name(f: Any) -> str:
    """PyTorch's record prefix: the file's name without directory and extension, else
    ``archive`` (a buffer or an open file)."""
    if not isinstance(f, str | os.PathLike) or not os.fspath(f).isascii():
        return "archive"  # (PyTorch writes a non-ASCII path through a Python file object)
    name = os.path.basename(os.fspath(f))
    stem = name.rpartition(".")[0] if "." in name else name
    return stem or "archive"


class ZipWriter:
    """Writes stored (uncompressed) records one after another, each aligned as PyTorch's."""

    def __init__(self, out: IO[bytes], prefix: str) -> None:
        self.out, self.prefix, self.pos = out, prefix, 0
        # name, crc, size, header offset, flags (an empty record has no data descriptor)
        self.entries: list[tuple[bytes, int, int, int, int]] = []

    def _write(self, data: bytes | memoryview) -> None:
        self.out.write(data)
        self.pos += len(data)

    def record(self, name: str, data: bytes | memoryview) -> None:
        full = f"{self.prefix}/{name}".encode()
        size = len(data) if isinstance(data, bytes) else data.nbytes
        offset, big = self.pos, size >= ZIP64_LIMIT or self.pos >= ZIP64_LIMIT
        zip64 = struct.pack("<HHQQ", 1, 16, 0, 0) if big else b""
        start = offset + 30 + len(full) + len(zip64) + 4  # where the padding would begin
        pad = -start % ALIGNMENT
        extra = zip64 + b"FB" + struct.pack("<H", pad) + b"Z" * pad
        flags = _UTF8 | (_DESCRIPTOR if size else 0)
        self._write(
            struct.pack(
                "<4s2H3H3I2H", b"PK\x03\x04", 0, flags, 0, 0, 0, 0, 0, 0, len(full), len(extra)
            )  # fmt: skip
        )
        self._write(full + extra)
        self._write(data)
        crc = zlib.crc32(data)
        sizes = struct.pack("<QQ", size, size) if big else struct.pack("<II", size, size)
        if size:
            self._write(b"PK\x07\x08" + struct.pack("<I", crc) + sizes)
        self.entries.append((full, crc, size, offset, flags))

    def finish(self) -> None:
        """The central directory and the (zip64) end records."""
        cd_start = self.pos
        for full, crc, size, offset, flags in self.entries:
            values = [v for v in (size, size) if v >= ZIP64_LIMIT]
            values += [offset] if offset >= ZIP64_LIMIT else []
            extra = (
                struct.pack(f"<HH{len(values)}Q", 1, 8 * len(values), *values) if values else b""
            )
            small = [_field(v) for v in (size, size, offset)]
            self._write(
                struct.pack("<4s4H2HI2I5HII", b"PK\x01\x02", 0, 0, flags, 0, 0, 0, crc,
                            small[0], small[1], len(full), len(extra), 0, 0, 0, 0, small[2])
            )  # fmt: skip
            self._write(full + extra)
        cd_size, count, eocd64 = self.pos - cd_start, len(self.entries), self.pos
        self._write(
            struct.pack("<4sQ2H2I4Q", b"PK\x06\x06", 44, 0x031E, 0x2D, 0, 0, count, count,
                        cd_size, cd_start)
        )  # fmt: skip
        self._write(struct.pack("<4sIQI", b"PK\x06\x07", 0, eocd64, 1))
        self._write(
            struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, min(count, 0xFFFF),
                        min(count, 0xFFFF), _field(cd_size),
                        _field(cd_start), 0)
        )  # fmt: skip


def _field(value: int) -> int:
    """A 32-bit size or offset field: the value, or 0xFFFFFFFF when zip64 fields hold it."""
    return 0xFFFFFFFF if value >= ZIP64_LIMIT else value


def serialization_id() -> str:
    """40 digits, as PyTorch writes in ``.data/serialization_id`` (two random 64-bit numbers)."""
    return "".join(f"{random.getrandbits(64):020d}" for _ in range(2))


def record_prefix(z: zipfile.ZipFile) -> str:
    """The folder all records live in (``archive``, or the saved file's name)."""
    names = z.namelist()
    if not names or "/" not in names[0]:
        raise RuntimeError("PytorchStreamReader failed locating file data.pkl: file not found")
    return names[0].split("/", 1)[0]


def data_offset(z: zipfile.ZipFile, path: str | os.PathLike[str], name: str) -> int:
    """Where a stored record's bytes begin in the file (for ``mmap=True``)."""
    info = z.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED:
        raise RuntimeError(f"mmap=True needs stored (uncompressed) records; {name} is compressed")
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        header = fh.read(30)
    if header[:4] != b"PK\x03\x04":
        raise RuntimeError(f"corrupt zip archive: no local header for {name}")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_len + extra_len
