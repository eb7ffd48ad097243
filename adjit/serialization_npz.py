"""Reading the ``.npz`` state_dicts that adjit's ``save`` wrote before it wrote PyTorch's format."""

from __future__ import annotations

import zipfile
from collections import OrderedDict
from typing import IO, Any

import numpy as np

from adjit.ir import dtypes as D
from adjit.runtime.tensor import Tensor

_SINGLE = "__adjit_tensor__"  # the member name when a lone tensor was saved
# NumPy's .npy format has no bfloat16 (ml_dtypes') type: such arrays were saved as their uint16
# bits under the name plus this suffix
_BF16 = ".__bfloat16__"


def is_npz(f: IO[bytes]) -> bool:
    """An open zip archive of .npy members only (the caller rewinds ``f``)."""
    with zipfile.ZipFile(f) as z:
        names = z.namelist()
    f.seek(0)
    return bool(names) and all(n.endswith(".npy") for n in names)


def _read(data: Any, name: str) -> tuple[str, Tensor]:
    a = np.array(data[name])
    if name.endswith(_BF16):
        return name.removesuffix(_BF16), Tensor._make(a.view(D.bfloat16.np))
    return name, Tensor._make(a)


def read_npz(f: IO[bytes]) -> Any:
    """A tensor, or an OrderedDict of name -> tensor in the saved order."""
    with np.load(f, allow_pickle=False) as data:
        if data.files in ([_SINGLE], [_SINGLE + _BF16]):
            return _read(data, data.files[0])[1]
        return OrderedDict(_read(data, k) for k in data.files)
