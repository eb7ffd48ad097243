"""PyTorch's private ``torch.utils.data._utils`` path, which its documentation uses to extend
``default_collate`` (``from torch.utils.data._utils.collate import collate,
default_collate_fn_map``): the same modules under their PyTorch names."""

from __future__ import annotations

import sys

from adjit.utils.data import collate, fetch, worker

for _module in (collate, fetch, worker):
    sys.modules[f"{__name__}.{_module.__name__.rsplit('.', 1)[1]}"] = _module

__all__ = ["collate", "fetch", "worker"]
