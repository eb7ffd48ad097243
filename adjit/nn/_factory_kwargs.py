"""``torch.nn.factory_kwargs``: a module's ``device``/``dtype``/``memory_format`` keywords,
checked and canonicalized for the factory functions."""

from __future__ import annotations

from typing import Any

_SIMPLE = {"device", "dtype", "memory_format"}


def factory_kwargs(kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """The factory keywords of ``kwargs`` (those under ``factory_kwargs`` merged in); any other
    key, or one given twice, is refused as in PyTorch."""
    if kwargs is None:
        return {}
    expected = _SIMPLE | {"factory_kwargs"}
    if not kwargs.keys() <= expected:
        raise TypeError(f"unexpected kwargs {kwargs.keys() - expected}")
    r = dict(kwargs.get("factory_kwargs", {}))
    for k in _SIMPLE:
        if k in kwargs:
            if k in r:
                raise TypeError(f"{k} specified twice, in **kwargs and in factory_kwargs")
            r[k] = kwargs[k]
    return r
