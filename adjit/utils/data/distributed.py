"""``DistributedSampler`` as ``torch.utils.data.distributed``: each replica's share of the
indices, the same numbers as PyTorch's for the same seed and epoch."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, TypeVar

from adjit.runtime.generator import Generator
from adjit.runtime.ops_random import randperm

from .sampler import Sampler

__all__ = ["DistributedSampler"]

T_co = TypeVar("T_co", covariant=True)


def _default(what: str) -> int:
    """The default group's world size or rank (PyTorch's errors when there is none)."""
    import adjit.distributed as dist

    if not dist.is_available():
        raise RuntimeError("Requires distributed package to be available")
    return int(dist.get_world_size() if what == "world_size" else dist.get_rank())


class DistributedSampler(Sampler[T_co]):
    """The indices of ``dataset`` for replica ``rank`` of ``num_replicas``: a permutation
    seeded ``seed + epoch`` (or ``0..n-1``), padded by repeating its head to a multiple of
    ``num_replicas`` (or with ``drop_last``, cut to one), then every ``num_replicas``-th from
    ``rank``. Call ``set_epoch`` before each epoch to shuffle differently."""

    def __init__(
        self,
        dataset: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None:
            num_replicas = _default("world_size")
        if rank is None:
            rank = _default("rank")
        if rank >= num_replicas or rank < 0:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(self.dataset)
        if self.drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[T_co]:
        n = len(self.dataset)
        if self.shuffle:
            g = Generator()
            g.manual_seed(self.seed + self.epoch)
            indices: list[Any] = randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding_size = self.total_size - len(indices)
            if padding_size <= len(indices):
                indices += indices[:padding_size]
            else:
                indices += (indices * math.ceil(padding_size / len(indices)))[:padding_size]
        else:
            indices = indices[: self.total_size]
        if len(indices) != self.total_size:
            raise AssertionError(
                f"Number of indices ({len(indices)}) does not match total_size ({self.total_size})"
            )
        indices = indices[self.rank : self.total_size : self.num_replicas]
        if len(indices) != self.num_samples:
            raise AssertionError(
                f"Number of subsampled indices ({len(indices)}) does not match num_samples "
                f"({self.num_samples})"
            )
        return iter(indices)

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next iteration shuffles for (seed ``seed + epoch``)."""
        self.epoch = epoch
