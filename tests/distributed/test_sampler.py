"""DistributedSampler against torch.utils.data.DistributedSampler, without a process group
(explicit num_replicas and rank): indices, lengths, epochs and errors."""

from __future__ import annotations

import itertools

import pytest

import adjit
from adjit.utils.data import DataLoader, DistributedSampler, TensorDataset

torch = pytest.importorskip("torch")

SIZES = [0, 1, 2, 3, 7, 10, 16, 33, 100]
REPLICAS = [1, 2, 3, 4, 5]


@pytest.mark.parametrize("shuffle,drop_last", list(itertools.product([True, False], repeat=2)))
def test_indices_match_torch(shuffle: bool, drop_last: bool) -> None:
    checked = 0
    for n, replicas, seed, epoch in itertools.product(SIZES, REPLICAS, [0, 5], [0, 1, 3]):
        data = list(range(n))
        for rank in range(replicas):
            ours = DistributedSampler(data, replicas, rank, shuffle, seed, drop_last)
            theirs = torch.utils.data.DistributedSampler(
                data, replicas, rank, shuffle, seed, drop_last
            )
            ours.set_epoch(epoch)
            theirs.set_epoch(epoch)
            got = list(ours)
            assert got == list(theirs), (n, replicas, rank, seed, epoch)
            assert len(ours) == len(theirs) == len(got)
            assert (ours.num_samples, ours.total_size) == (theirs.num_samples, theirs.total_size)
            checked += 1
    assert checked == sum(REPLICAS) * len(SIZES) * 6


def test_shares_cover_the_dataset_once_each() -> None:
    """Without drop_last the replicas' shares together are the whole permutation plus the
    repeated head; with it, a permutation's prefix of total_size distinct indices."""
    n, replicas = 10, 4
    shares = [list(DistributedSampler(range(n), replicas, r, seed=3)) for r in range(replicas)]
    flat = sorted(i for s in shares for i in s)
    assert set(flat) == set(range(n)) and len(flat) == 12
    cut = [list(DistributedSampler(range(n), replicas, r, drop_last=True)) for r in range(replicas)]
    flat = [i for s in cut for i in s]
    assert len(flat) == len(set(flat)) == 8


def test_epoch_changes_order_and_is_reproducible() -> None:
    s = DistributedSampler(range(50), 2, 0, seed=1)
    first = list(s)
    assert list(s) == first  # no set_epoch: the same order
    s.set_epoch(1)
    assert list(s) != first
    s.set_epoch(0)
    assert list(s) == first


@pytest.mark.parametrize("rank,replicas", [(2, 2), (-1, 2), (5, 3)])
def test_invalid_rank(rank: int, replicas: int) -> None:
    with pytest.raises(ValueError) as ours:
        DistributedSampler(range(4), replicas, rank)
    with pytest.raises(ValueError) as theirs:
        torch.utils.data.DistributedSampler(range(4), replicas, rank)
    assert str(ours.value) == str(theirs.value)


def test_with_dataloader_batches() -> None:
    x = adjit.arange(22.0).reshape(11, 2)
    ds = TensorDataset(x)
    tds = torch.utils.data.TensorDataset(torch.arange(22.0).reshape(11, 2))
    for rank in range(3):
        ours = DataLoader(ds, batch_size=2, sampler=DistributedSampler(ds, 3, rank, seed=7))
        theirs = torch.utils.data.DataLoader(
            tds, batch_size=2, sampler=torch.utils.data.DistributedSampler(tds, 3, rank, seed=7)
        )
        got = [b[0].tolist() for b in ours]
        assert got == [b[0].tolist() for b in theirs]
        assert len(got) == 2


def test_namespace() -> None:
    assert adjit.utils.data.distributed.DistributedSampler is DistributedSampler
