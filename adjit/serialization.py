"""``torch.save``/``torch.load`` in PyTorch's file format, written and read without PyTorch
(``adjit.serialization`` mirrors ``torch.serialization``)."""

from __future__ import annotations

import io
import os
import pickle
import re
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

import numpy as np

from adjit import serialization_unpickler as U
from adjit.serialization_npz import is_npz, read_npz
from adjit.serialization_pickler import TorchPickler
from adjit.serialization_rebuild import (
    ALLOWED_GLOBALS,
    LoadedStorage,
    StorageType,
    TypedView,
    itemsize,
)
from adjit.serialization_zip import (
    ZipWriter,
    archive_name,
    data_offset,
    record_prefix,
    serialization_id,
)

FileLike = str | os.PathLike[str] | IO[bytes]
DEFAULT_PROTOCOL = 2
UNSAFE_MESSAGE = (
    "In PyTorch 2.6, we changed the default value of the `weights_only` argument in `torch.load` "
    "from `False` to `True`. Re-running `torch.load` with `weights_only` set to `False` will "
    "likely succeed, but it can result in arbitrary code execution. Do it only if you got the "
    "file from a trusted source."
)
_DOCS_MESSAGE = (
    "\n\nCheck the documentation of torch.load to learn more about types accepted by default "
    "with weights_only https://pytorch.org/docs/stable/generated/torch.load.html."
)
NO_CUDA_LOAD = (
    "Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False. "
    "If you are running on a CPU-only machine, please use torch.load with "
    "map_location=torch.device('cpu') to map your storages to the CPU."
)


# ---- safe globals (torch.serialization's allowlist API) ------------------------------------
def add_safe_globals(safe_globals: list[Any]) -> None:
    """Allow ``weights_only`` loading to build these classes/functions (trusted code only)."""
    U._USER_GLOBALS.update(safe_globals)


def get_safe_globals() -> list[Any]:
    return list(U._USER_GLOBALS)


def clear_safe_globals() -> None:
    U._USER_GLOBALS.clear()


@contextmanager
def safe_globals(globals_: list[Any]) -> Iterator[None]:
    """``with safe_globals([...]):`` the allowlist extended for the block."""
    added = set(globals_) - U._USER_GLOBALS
    U._USER_GLOBALS.update(added)
    try:
        yield
    finally:
        U._USER_GLOBALS.difference_update(added)


def get_unsafe_globals_in_checkpoint(f: FileLike) -> list[str]:
    """The globals a ``torch.save`` file names that ``weights_only`` loading would refuse (read
    from its pickle without running it)."""
    with _opened(f, "rb") as fh:
        if not zipfile.is_zipfile(fh):
            raise ValueError("Expected input to be a checkpoint returned by torch.save")
        fh.seek(0)
        with zipfile.ZipFile(fh) as z:
            prefix = record_prefix(z)
            if f"{prefix}/constants.pkl" in z.namelist():
                raise ValueError(
                    "Expected input to be a checkpoint returned by torch.save but got a "
                    "torchscript checkpoint"
                )
            data = z.read(f"{prefix}/data.pkl")
    safe = set(ALLOWED_GLOBALS) | set(U.user_globals())
    return list(U.globals_in_pickle(data) - safe)


# ---- save ----------------------------------------------------------------------------------
def save(
    obj: object,
    f: FileLike,
    pickle_module: Any = pickle,
    pickle_protocol: int = DEFAULT_PROTOCOL,
    _use_new_zipfile_serialization: bool = True,
    _disable_byteorder_record: bool = False,
) -> None:
    """Write ``obj`` (tensors, Parameters, dicts/lists/tuples of them, numbers, strings, ...) as
    ``torch.save`` does: a zip archive that ``torch.load(f, weights_only=True)`` reads, storage
    sharing between views kept."""
    if not isinstance(f, str | os.PathLike) and not hasattr(f, "write"):
        raise AttributeError(
            "expected 'f' to be string, path, or a file-like object with a 'write' attribute"
        )
    if pickle_module is not pickle:
        raise NotImplementedError("adjit.save pickles with the standard pickle module only")
    if not _use_new_zipfile_serialization:
        from adjit.serialization_legacy import legacy_save

        with _opened(f, "wb") as out:
            legacy_save(obj, out, pickle_protocol)
        return
    data = io.BytesIO()
    pickler = TorchPickler(data, pickle_protocol)
    pickler.dump(obj)
    with _opened(f, "wb") as out:
        z = ZipWriter(out, archive_name(f))
        z.record("data.pkl", data.getvalue())
        z.record(".format_version", b"1")
        z.record(".storage_alignment", b"64")
        if not _disable_byteorder_record:
            z.record("byteorder", sys.byteorder.encode())
        for storage in pickler.storages.values():
            z.record(f"data/{storage.key}", memoryview(storage.data))
        z.record("version", b"3\n")
        z.record(".data/serialization_id", serialization_id().encode())
        z.finish()
        if hasattr(out, "flush"):
            out.flush()


@contextmanager
def _opened(f: FileLike, mode: str) -> Iterator[IO[bytes]]:
    if isinstance(f, str | os.PathLike):
        parent = os.path.dirname(os.fspath(f))
        if mode == "wb" and parent and not os.path.isdir(parent):
            raise RuntimeError(f"Parent directory {parent} does not exist.")
        with open(f, mode) as fh:
            yield fh
    else:
        yield f


# ---- load ----------------------------------------------------------------------------------
def load(
    f: FileLike,
    map_location: Any = None,
    pickle_module: Any = None,
    *,
    weights_only: bool | None = None,
    mmap: bool | None = None,
    **pickle_load_args: Any,
) -> Any:
    """Read a file written by ``torch.save`` or ``adjit.save`` (or an adjit ``.npz`` file of
    old), with no PyTorch needed. ``weights_only`` (the default) unpickles through an allowlist
    (PyTorch's) that never runs code from the file; ``mmap=True`` maps the storages from the
    file copy-on-write (PyTorch's MAP_PRIVATE): writes to the tensors never reach the file."""
    if weights_only is None:
        weights_only = True
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    if pickle_load_args and weights_only:
        warnings.warn("pickle_load_args only works if `weights_only=False`.", stacklevel=2)
    encoding = pickle_load_args.pop("encoding", "utf-8")
    if isinstance(f, str | os.PathLike) and os.fspath(f).endswith(".safetensors"):
        from adjit import safetensors

        return safetensors.load_file(f, device=_device_name(map_location))
    with _opened(f, "rb") as fh:
        if zipfile.is_zipfile(fh):
            fh.seek(0)
            if is_npz(fh):
                return read_npz(fh)
            with zipfile.ZipFile(fh) as z:
                return _load_zip(z, f, map_location, weights_only, bool(mmap), encoding)
        fh.seek(0)
        if mmap:
            name = f"{f}, " if isinstance(f, str) else ""
            raise RuntimeError(
                "mmap can only be used with files saved with "
                f"`torch.save({name}_use_new_zipfile_serialization=True), "
                "please torch.save your checkpoint with this option in order to use mmap."
            )
        from adjit.serialization_legacy import legacy_load

        return _weights_only_errors(weights_only)(legacy_load)(
            fh, _restorer(map_location), weights_only, encoding
        )


def _device_name(map_location: Any) -> str:
    if map_location is None:
        return "cpu"
    if isinstance(map_location, dict) or callable(map_location):
        kind = "dict" if isinstance(map_location, dict) else "callable"
        raise RuntimeError(
            f"Loading safetensors file with {kind} map_location is not supported. "
            "Use a device string or torch.device instead."
        )
    return str(map_location)


def _weights_only_errors(weights_only: bool) -> Callable[[Callable], Callable]:
    """PyTorch's wrapping of an UnpicklingError of weights_only loading (``_get_wo_message``)."""

    def wrap(fn: Callable) -> Callable:
        def call(*args: Any) -> Any:
            if not weights_only:
                return fn(*args)
            try:
                return fn(*args)
            except pickle.UnpicklingError as e:
                raise pickle.UnpicklingError(weights_only_message(str(e))) from None

        return call

    return wrap


def weights_only_message(message: str) -> str:
    if re.search(r"GLOBAL (\S+) was not an allowed global by default.", message):
        return (
            "Weights only load failed. This file can still be loaded, to do so you have two "
            "options, \033[1mdo those steps only if you trust the source of the checkpoint"
            f"\033[0m. \n\t(1) {UNSAFE_MESSAGE}\n\t(2) Alternatively, to load with "
            "`weights_only=True` please check the recommended steps in the following error "
            "message.\n\tWeightsUnpickler error: " + message + _DOCS_MESSAGE
        )
    if re.search(r"(\S+) must be (\S+) to load", message):
        return f"Weights only load failed. {message}\n {UNSAFE_MESSAGE}\n"
    out = f"Weights only load failed. {UNSAFE_MESSAGE}\n"
    if not re.search(r"whose module (\S+) is blocked", message):
        out += (
            "Please file an issue with the following so that we can make `weights_only=True` "
            "compatible with your use case: WeightsUnpickler error: "
        )
    return out + "\n\n" + message + _DOCS_MESSAGE


def _restore_default(storage: LoadedStorage, location: str) -> LoadedStorage:
    kind = str(location).partition(":")[0]
    if kind == "cpu":
        return storage
    if kind == "cuda":
        raise RuntimeError(NO_CUDA_LOAD)
    raise RuntimeError(
        f"adjit.load: storages can be restored on the CPU only, not on {location!r}: "
        "pass map_location='cpu'"
    )


def _restorer(map_location: Any) -> Callable[[LoadedStorage, str], LoadedStorage]:
    """PyTorch's ``_get_restore_location``: where each saved storage goes (the CPU here)."""
    if map_location is None:
        return _restore_default
    if isinstance(map_location, dict):
        return lambda s, loc: _restore_default(s, map_location.get(loc, loc))
    if isinstance(map_location, str | bytes):
        target = map_location.decode() if isinstance(map_location, bytes) else map_location
        return lambda s, loc: _restore_default(s, target)
    if callable(map_location):

        def call(s: LoadedStorage, loc: str) -> LoadedStorage:
            out = map_location(s, loc)
            if out is None:
                return _restore_default(s, loc)
            if not isinstance(out, LoadedStorage):
                raise TypeError(
                    f"map_location should return a storage or None, got {type(out).__name__}"
                )
            return out

        return call
    return lambda s, loc: _restore_default(s, str(map_location))  # a device


def _load_zip(
    z: zipfile.ZipFile, f: Any, map_location: Any, weights_only: bool, mmap: bool, enc: str
) -> Any:
    prefix = record_prefix(z)
    names = set(z.namelist())
    if f"{prefix}/constants.pkl" in names:
        if weights_only:
            raise RuntimeError(
                "Cannot use ``weights_only=True`` with TorchScript archives passed to "
                "``torch.load``. " + UNSAFE_MESSAGE
            )
        raise NotImplementedError("adjit.load cannot load TorchScript archives")
    if mmap and not isinstance(f, str | os.PathLike):
        raise ValueError("f must be a file path in order to use the mmap argument")
    byteorder = "little"
    if f"{prefix}/byteorder" in names:
        byteorder = z.read(f"{prefix}/byteorder").decode()
        if byteorder not in ("little", "big"):
            raise ValueError("Unknown endianness type: " + byteorder)
    restore = _restorer(map_location)
    loaded: dict[str, LoadedStorage] = {}
    whole: list[np.memmap] = []  # (mmap=True: the file, mapped once as PyTorch does)

    def read_storage(key: str, nbytes: int, dtype: Any) -> np.ndarray:
        name = f"{prefix}/data/{key}"
        if name not in names:
            raise RuntimeError(f"PytorchStreamReader failed locating file data/{key}: not found")
        if z.getinfo(name).file_size < nbytes:
            raise RuntimeError(f"adjit.load: record data/{key} is shorter than its storage")
        if mmap and nbytes:  # a slice of one copy-on-write map of the whole file
            if not whole:
                whole.append(np.memmap(f, np.uint8, "c"))
            start = data_offset(z, f, name)
            return whole[0][start : start + nbytes]
        buf = np.empty(nbytes, np.uint8)
        with z.open(name) as record:
            view, done = memoryview(buf), 0
            while done < nbytes:
                got = record.readinto(view[done:])
                if not got:
                    raise RuntimeError(f"adjit.load: record data/{key} ended early")
                done += got
        if byteorder != sys.byteorder:
            swap_bytes(buf, dtype)
        return buf

    def persistent_load(pid: Any) -> TypedView:
        if not isinstance(pid, tuple) or len(pid) != 5 or U._ascii(pid[0]) != "storage":
            raise pickle.UnpicklingError(f"adjit.load: unsupported persistent id {pid!r}")
        storage_type, key, location, numel = pid[1:]
        if not isinstance(storage_type, StorageType):
            raise pickle.UnpicklingError(f"adjit.load: {storage_type!r} is not a storage type")
        key, dtype = str(key), storage_type.dtype
        if key not in loaded:
            data = read_storage(key, int(numel) * itemsize(dtype), dtype)
            location = U._ascii(location)
            loaded[key] = restore(LoadedStorage(data, location), location)
        return TypedView(loaded[key], dtype)

    pkl = io.BytesIO(z.read(f"{prefix}/data.pkl"))
    if weights_only:
        unpickle = U.Unpickler(pkl, persistent_load, enc).load
        return _weights_only_errors(True)(unpickle)()
    return trusted_unpickler(pkl, persistent_load, enc).load()


def swap_bytes(buf: np.ndarray, dtype: Any) -> None:
    """Reverse each element's bytes in place (each part's, for a complex dtype)."""
    width = itemsize(dtype) // (2 if dtype.is_complex else 1)
    if width > 1:
        buf.view(f"u{width}").byteswap(inplace=True)


def trusted_unpickler(file: Any, persistent_load: Callable, encoding: str) -> pickle.Unpickler:
    """``weights_only=False``: any global (the file is trusted), PyTorch's names as adjit's."""

    class TrustedUnpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            full = f"{module}.{name}"
            if full in ALLOWED_GLOBALS:
                return ALLOWED_GLOBALS[full]
            if module == "torch" or module.startswith("torch."):
                raise pickle.UnpicklingError(
                    f"adjit.load: the file names the PyTorch object {full}, which adjit does not "
                    "have (adjit reads tensors and the containers, numbers and strings around "
                    "them; save a state_dict instead of a module)"
                )
            return super().find_class(module, name)

    u = TrustedUnpickler(file, encoding=encoding)
    u.persistent_load = persistent_load  # type: ignore[method-assign]
    return u
