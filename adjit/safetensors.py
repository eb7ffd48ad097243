"""safetensors files (Hugging Face's format) for adjit tensors: the API of ``safetensors.torch``
(``save_file``, ``load_file``, ``save``, ``load``, ``save_model``, ``load_model``), through the
optional ``safetensors`` package."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from adjit.ir import dtypes as D
from adjit.runtime.device import check as check_device
from adjit.runtime.tensor import Tensor

NEEDS_PACKAGE = (
    "adjit.safetensors needs the safetensors package: pip install 'adjit[safetensors]' "
    "(or safetensors)"
)
# the file's dtype codes (the safetensors format) and the adjit dtype each one is
_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
           "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
           "BOOL": "bool", "C64": "complex64", "U16": "uint16", "U32": "uint32",
           "U64": "uint64"}  # fmt: skip
SHARED = (
    "\n            Some tensors share memory, this will lead to duplicate memory on disk and "
    "potential differences when loading them again: {}.\n            A potential way to "
    "correctly save your model is to use `save_model`.\n            More information at "
    "https://huggingface.co/docs/safetensors/torch_shared_tensors\n            "
)


def _package() -> Any:
    try:
        import safetensors
    except ImportError:
        raise ImportError(NEEDS_PACKAGE) from None
    return safetensors


def _root(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _shared(tensors: Mapping[str, Tensor]) -> list[set[str]]:
    """Names whose tensors overlap in memory, grouped (safetensors.torch's test)."""
    groups: dict[int, list[tuple[int, int, str]]] = {}
    for k, v in tensors.items():
        a = v._data
        if a.nbytes:
            start = a.ctypes.data
            groups.setdefault(id(_root(a)), []).append((start, start + a.nbytes, k))
    failing = []
    for areas in groups.values():
        areas.sort()
        current, last_stop = {areas[0][2]}, areas[0][1]
        for start, stop, name in areas[1:]:
            if start < last_stop:
                current.add(name)
            else:
                if len(current) > 1:
                    failing.append(current)
                current = {name}
            last_stop = max(last_stop, stop)
        if len(current) > 1:
            failing.append(current)
    return failing


def _little(a: np.ndarray) -> np.ndarray:
    """The file's byte order (little-endian) for ``a``'s elements (a copy on big-endian hosts)."""
    if sys.byteorder == "little":
        return a
    width = a.itemsize // (2 if a.dtype.kind == "c" else 1)
    return a.view(f"u{width}").byteswap().view(a.dtype) if width > 1 else a


def _specs(tensors: Any, keep: list[Any]) -> dict[str, Any]:
    st = _package()
    if not isinstance(tensors, dict):
        raise ValueError(f"Expected a dict of [str, torch.Tensor] but received {type(tensors)}")
    for k, v in tensors.items():
        if not isinstance(v, Tensor):
            raise ValueError(f"Key `{k}` is invalid, expected torch.Tensor but received {type(v)}")
    failing = _shared(tensors)
    if failing:
        raise RuntimeError(SHARED.format(failing))
    specs = {}
    for k, v in tensors.items():
        if not v.is_contiguous():
            raise ValueError(
                f"You are trying to save a non contiguous tensor: `{k}` which is not allowed. It "
                "either means you are trying to save tensors which are reference of each other "
                "in which case it's recommended to save only the full tensors, and reslice at "
                "load time, or simply call `.contiguous()` on your tensor to pack it before saving."
            )
        if v.dtype.name not in _DTYPES.values():
            raise ValueError(f"safetensors files cannot hold {v.dtype} tensors (key `{k}`)")
        a = _little(v._data)
        keep.append(a)  # alive until written
        if hasattr(st, "TensorSpec"):  # safetensors >= 0.7: a pointer, no copy
            specs[k] = st.TensorSpec(
                dtype=v.dtype.name, shape=a.shape, data_ptr=a.ctypes.data, data_len=a.nbytes
            )
        else:
            specs[k] = {"dtype": v.dtype.name, "shape": list(a.shape), "data": a.tobytes()}
    return specs


def save(tensors: dict[str, Tensor], metadata: dict[str, str] | None = None) -> bytes:
    """The bytes of a safetensors file holding ``tensors`` (contiguous, not sharing memory)."""
    keep: list[Any] = []
    specs = _specs(tensors, keep)
    return bytes(_package().serialize(specs, metadata=metadata))


def save_file(
    tensors: dict[str, Tensor],
    filename: str | os.PathLike[str],
    metadata: dict[str, str] | None = None,
) -> None:
    """Write ``tensors`` to ``filename`` in the safetensors format (``metadata``: text only)."""
    keep: list[Any] = []
    specs = _specs(tensors, keep)
    _package().serialize_file(specs, filename, metadata=metadata)


def _tensors(entries: Any) -> dict[str, Tensor]:
    out = {}
    for name, entry in entries:
        dtype = D.by_name(_DTYPES[entry["dtype"]]) if entry["dtype"] in _DTYPES else None
        if dtype is None:
            raise TypeError(f"adjit has no dtype for safetensors' {entry['dtype']} ({name})")
        if isinstance(dtype, D.UnsupportedDType):
            raise dtype._refuse()
        flat = np.frombuffer(entry["data"], dtype=dtype.np)
        out[name] = Tensor._make(_little(flat.copy()).reshape(entry["shape"]))
    return out


def load(data: bytes) -> dict[str, Tensor]:
    """The tensors of a safetensors file's bytes."""
    return _tensors(_package().deserialize(data))


def load_file(filename: str | os.PathLike[str], device: str | int = "cpu") -> dict[str, Tensor]:
    """The tensors of the safetensors file ``filename`` (``device``: the CPU only)."""
    st = _package()
    check_device(device)
    with open(filename, "rb") as fh:
        return _tensors(st.deserialize(fh.read()))


# ---- whole models: tied (shared) weights saved once ------------------------------------------
def _is_complete(a: np.ndarray) -> bool:
    """``a`` is all of the memory it views (safetensors' test for a name worth keeping)."""
    root = _root(a)
    return a.ctypes.data == root.ctypes.data and a.nbytes == root.nbytes


def _duplicates(state: Mapping[str, Tensor], preferred: Any = ()) -> dict[str, list[str]]:
    """For each group of names sharing memory: the name kept (a complete one, by name order,
    ``preferred`` first) and the names dropped."""
    out = {}
    for shared in _shared(state):
        complete = {n for n in shared if _is_complete(state[n]._data)}
        if not complete:
            raise RuntimeError(
                "Error while trying to find names to remove to save state dict, but found no "
                f"suitable name to keep for saving amongst: {shared}. None is covering the entire "
                "storage.Refusing to save/load the model since you could be storing much more "
                "memory than needed. Please refer to "
                "https://huggingface.co/docs/safetensors/torch_shared_tensors for more "
                "information. Or open an issue."
            )
        keep = sorted(complete & set(preferred) or complete)[0]
        out[keep] = [n for n in sorted(shared) if n != keep]
    return out


def save_model(
    model: Any,
    filename: str | os.PathLike[str],
    metadata: dict[str, str] | None = None,
    force_contiguous: bool = True,
) -> None:
    """Save ``model.state_dict()``; a tied weight is saved once, under its first complete name,
    and each dropped name is noted in the metadata (``{dropped: kept}``)."""
    state = dict(model.state_dict())
    for keep, dropped in _duplicates(state).items():
        for name in dropped:
            metadata = {} if metadata is None else metadata
            metadata.setdefault(name, keep)
            del state[name]
    if force_contiguous:
        state = {k: v.contiguous() for k, v in state.items()}
    try:
        save_file(state, filename, metadata=metadata)
    except ValueError as e:
        raise ValueError(
            f"{e} Or use save_model(..., force_contiguous=True), read the docs for potential "
            "caveats."
        ) from None


def load_model(
    model: Any, filename: str | os.PathLike[str], strict: bool = True, device: str | int = "cpu"
) -> tuple[set[str], list[str]]:
    """Load a ``save_model`` file into ``model`` (tied weights filled through their kept name);
    returns ``(missing, unexpected)`` names, or raises for any when ``strict``."""
    state = load_file(filename, device=device)
    dropped = _duplicates(model.state_dict(), preferred=state.keys())
    missing_keys, unexpected = model.load_state_dict(state, strict=False)
    missing = set(missing_keys)
    for names in dropped.values():
        for name in names:
            if name in missing:
                missing.remove(name)
            else:
                unexpected.append(name)
    if strict and (missing or unexpected):
        error = f"Error(s) in loading state_dict for {model.__class__.__name__}:"
        if missing:
            error += "\n    Missing key(s) in state_dict: " + ", ".join(
                f'"{k}"' for k in sorted(missing)
            )
        if unexpected:
            error += "\n    Unexpected key(s) in state_dict: " + ", ".join(
                f'"{k}"' for k in sorted(unexpected)
            )
        raise RuntimeError(error)
    return missing, unexpected
