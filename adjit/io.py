"""``adjit.save``/``adjit.load``: state_dicts as ``.npz`` files; ``torch.save`` files read too."""

from __future__ import annotations

import os
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from typing import IO, Any

import numpy as np

from adjit.ir import dtypes as D
from adjit.runtime.tensor import Tensor

PathLike = str | os.PathLike[str] | IO[bytes]

_SINGLE = "__adjit_tensor__"  # the member name when a lone tensor is saved
# NumPy's .npy format has no bfloat16 (ml_dtypes') type: such arrays are saved as their uint16
# bits under the name plus this suffix, and read back as bfloat16
_BF16 = ".__bfloat16__"


def _as_array(key: str, value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        return np.asarray(value.detach()._data)  # (a bfloat16 one: see _stored)
    if isinstance(value, np.ndarray | np.generic | int | float | bool):
        return np.asarray(value)
    raise TypeError(
        f"adjit.save stores a tensor or a flat mapping of names to tensors (a state_dict); "
        f"entry {key!r} is a {type(value).__name__}"
    )


def save(obj: Any, f: PathLike) -> None:
    """Write a state_dict (or one tensor) as an ``.npz`` archive; names and dtypes are kept."""
    if hasattr(obj, "state_dict") and not isinstance(obj, Mapping):
        raise TypeError("adjit.save stores tensors, not modules: save module.state_dict()")
    if isinstance(obj, Mapping):
        arrays = dict(_stored(str(k), _as_array(str(k), v)) for k, v in obj.items())
    else:
        arrays = dict([_stored(_SINGLE, _as_array("tensor", obj))])
    if isinstance(f, str | os.PathLike):
        with open(f, "wb") as fh:  # a handle, so NumPy does not append ".npz" to the name
            np.savez(fh, **arrays)
    else:
        np.savez(f, **arrays)


def _stored(name: str, a: np.ndarray) -> tuple[str, np.ndarray]:
    if D.bfloat16 in D.ALL and a.dtype == D.bfloat16.np:
        return name + _BF16, a.view(np.uint16)
    return name, a


def _read(data: Any, name: str) -> tuple[str, Tensor]:
    a = np.array(data[name])
    if name.endswith(_BF16):
        return name.removesuffix(_BF16), Tensor._make(a.view(D.bfloat16.np))
    return name, Tensor._make(a)


def _is_npz(f: PathLike) -> bool:
    if not zipfile.is_zipfile(f):
        return False
    with zipfile.ZipFile(f) as z:
        names = z.namelist()
    if not isinstance(f, str | os.PathLike):
        f.seek(0)
    return bool(names) and all(n.endswith(".npy") for n in names)


def load(f: PathLike, map_location: Any = None, weights_only: bool = True) -> Any:
    """Read a file written by ``adjit.save``, or by ``torch.save`` when torch is installed.

    A state_dict comes back as an ``OrderedDict`` of adjit tensors in the saved order, ready
    for ``model.load_state_dict(adjit.load(path))``.
    """
    if _is_npz(f):
        with np.load(f, allow_pickle=False) as data:
            if data.files in ([_SINGLE], [_SINGLE + _BF16]):
                return _read(data, data.files[0])[1]
            return OrderedDict(_read(data, k) for k in data.files)
    return _load_torch(f, weights_only)


def _load_torch(f: PathLike, weights_only: bool) -> Any:
    try:
        import torch  # lazy: torch is an optional reader for checkpoints it wrote
    except ImportError:
        raise RuntimeError(
            f"{f!r} is not an adjit (.npz) file; it looks like a torch.save checkpoint, and "
            "reading one needs PyTorch installed (pip install torch). Alternatively, convert "
            "it once where torch is available: adjit.save(adjit.load(path), 'weights.npz')."
        ) from None
    obj = torch.load(f, map_location="cpu", weights_only=weights_only)
    return _from_torch(obj, torch)


def _from_torch(obj: Any, torch: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu()
        if t.dtype == torch.bfloat16:  # (no NumPy view of it in torch: read its bits)
            return Tensor._make(np.array(t.view(torch.int16).numpy()).view(D.bfloat16.np))
        return Tensor._make(np.array(t.numpy()))
    if isinstance(obj, Mapping):
        return OrderedDict((k, _from_torch(v, torch)) for k, v in obj.items())
    if isinstance(obj, list | tuple):
        return type(obj)(_from_torch(v, torch) for v in obj)
    return obj
