"""Fetchers (``torch.utils.data._utils.fetch``): turn one index (or list of indices) from the
sampler into a collated batch, the same code in the main process and in workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MAP, ITERABLE = 0, 1  # dataset kinds (PyTorch's _DatasetKind)


class MapFetcher:
    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable[..., Any],
                 drop_last: bool) -> None:  # fmt: skip
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn
        self.drop_last = drop_last

    def fetch(self, possibly_batched_index: Any) -> Any:
        if self.auto_collation:
            if hasattr(self.dataset, "__getitems__") and self.dataset.__getitems__:
                data = self.dataset.__getitems__(possibly_batched_index)
            else:
                data = [self.dataset[idx] for idx in possibly_batched_index]
        else:
            data = self.dataset[possibly_batched_index]
        return self.collate_fn(data)


class IterableFetcher(MapFetcher):
    """Pulls ``len(batch index)`` samples from the dataset's iterator (the indices are
    placeholders); a short last batch is dropped under ``drop_last``."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable[..., Any],
                 drop_last: bool) -> None:  # fmt: skip
        super().__init__(dataset, auto_collation, collate_fn, drop_last)
        self.dataset_iter = iter(dataset)
        self.ended = False

    def fetch(self, possibly_batched_index: Any) -> Any:
        if self.ended:
            raise StopIteration
        if self.auto_collation:
            data = []
            for _ in possibly_batched_index:
                try:
                    data.append(next(self.dataset_iter))
                except StopIteration:
                    self.ended = True
                    break
            if len(data) == 0 or (self.drop_last and len(data) < len(possibly_batched_index)):
                raise StopIteration
        else:
            data = next(self.dataset_iter)
        return self.collate_fn(data)


def create_fetcher(kind: int, dataset: Any, auto_collation: bool,
                   collate_fn: Callable[..., Any], drop_last: bool) -> MapFetcher:  # fmt: skip
    cls = MapFetcher if kind == MAP else IterableFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)


class _DatasetKind:
    """PyTorch's name for the dataset kinds (``torch.utils.data._DatasetKind``)."""

    Map = MAP
    Iterable = ITERABLE
    create_fetcher = staticmethod(create_fetcher)
