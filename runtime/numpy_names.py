"""NumPy's keyword names that PyTorch accepts for its own: ``axis=``, ``keepdims=``, ``input=``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

# PyTorch's argument parser takes these NumPy names for every op with the PyTorch parameter
KEYWORDS = {"axis": "dim", "keepdims": "keepdim"}

# the ops given NumPy's names: reductions, scans and a few shape ops (functional.py wraps
# them by name)
NAMED = """
sum mean var std amax amin argmax argmin max min logsumexp norm all any cumsum softmax log_softmax
prod nansum nanmean count_nonzero var_mean std_mean aminmax cumprod cummax cummin logcumsumexp
median nanmedian kthvalue mode quantile nanquantile squeeze unsqueeze cat concat concatenate stack
""".split()  # noqa: SIM905 - a word list reads best as words


def numpy_names(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` also called with ``axis=``/``keepdims=`` for ``dim=``/``keepdim=``, and with its
    first argument as ``input=``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if kwargs:
            for numpy_name, name in KEYWORDS.items():
                if numpy_name in kwargs:
                    if name in kwargs:
                        # (PyTorch's text: given both, the NumPy name is the stranger)
                        raise TypeError(
                            f"{fn.__name__}() got an unexpected keyword argument '{numpy_name}'"
                        )
                    kwargs[name] = kwargs.pop(numpy_name)
            if "input" in kwargs and not args:
                args = (kwargs.pop("input"),)
        return fn(*args, **kwargs)

    return wrapper


def install(namespace: dict[str, Any]) -> None:
    """Wrap the ``NAMED`` functions of a module namespace (the public ``functional``)."""
    for name in NAMED:
        namespace[name] = numpy_names(namespace[name])
