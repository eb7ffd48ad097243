"""Errors and warnings of torch.utils.data, matched in type and text: DataLoader's option
checks (mutual exclusions, worker options), samplers' and datasets' argument checks."""

from __future__ import annotations

import os
import warnings
from typing import Any

import pytest
from data_helpers import error_of, libs

pytest.importorskip("torch")


def _iterable(data: Any) -> Any:
    class Stream(data.IterableDataset):
        def __iter__(self) -> Any:
            return iter(range(3))

    return Stream()


def _ds(lib: Any, data: Any) -> Any:
    return data.TensorDataset(lib.arange(6.0))


ERRORS: dict[str, Any] = {
    "shuffle_and_sampler": lambda lib, d: d.DataLoader(
        _ds(lib, d), shuffle=True, sampler=d.SequentialSampler(range(6))
    ),
    "batch_sampler_and_batch_size": lambda lib, d: d.DataLoader(
        _ds(lib, d), batch_size=2, batch_sampler=d.BatchSampler(range(6), 2, False)
    ),
    "batch_sampler_and_drop_last": lambda lib, d: d.DataLoader(
        _ds(lib, d), drop_last=True, batch_sampler=[[0, 1]]
    ),
    "batch_sampler_and_shuffle": lambda lib, d: d.DataLoader(
        _ds(lib, d), shuffle=True, batch_sampler=[[0, 1]]
    ),
    "no_batch_size_and_drop_last": lambda lib, d: d.DataLoader(
        _ds(lib, d), batch_size=None, drop_last=True
    ),
    "iterable_shuffle": lambda lib, d: d.DataLoader(_iterable(d), shuffle=True),
    "iterable_sampler": lambda lib, d: d.DataLoader(_iterable(d), sampler=[0, 1]),
    "iterable_batch_sampler": lambda lib, d: d.DataLoader(_iterable(d), batch_sampler=[[0]]),
    "negative_workers": lambda lib, d: d.DataLoader(_ds(lib, d), num_workers=-1),
    "negative_timeout": lambda lib, d: d.DataLoader(_ds(lib, d), timeout=-1),
    "prefetch_without_workers": lambda lib, d: d.DataLoader(_ds(lib, d), prefetch_factor=2),
    "negative_prefetch": lambda lib, d: d.DataLoader(
        _ds(lib, d), num_workers=1, prefetch_factor=-1
    ),
    "persistent_without_workers": lambda lib, d: d.DataLoader(_ds(lib, d), persistent_workers=True),
    "context_without_workers": lambda lib, d: d.DataLoader(
        _ds(lib, d), multiprocessing_context="fork"
    ),
    "bad_context_name": lambda lib, d: d.DataLoader(
        _ds(lib, d), num_workers=1, multiprocessing_context="thread"
    ),
    "bad_context_type": lambda lib, d: d.DataLoader(
        _ds(lib, d), num_workers=1, multiprocessing_context=3
    ),
    "set_batch_size_after_init": lambda lib, d: setattr(d.DataLoader(_ds(lib, d)), "batch_size", 4),
    "set_dataset_after_init": lambda lib, d: setattr(d.DataLoader(_ds(lib, d)), "dataset", []),
    "timeout_without_workers": lambda lib, d: iter(d.DataLoader(_ds(lib, d), timeout=1)),
    "len_of_unsized_iterable": lambda lib, d: len(d.DataLoader(_iterable(d))),
    "batch_sampler_zero": lambda lib, d: d.BatchSampler(range(3), 0, False),
    "batch_sampler_bool_size": lambda lib, d: d.BatchSampler(range(3), True, False),
    "batch_sampler_drop_last_type": lambda lib, d: d.BatchSampler(range(3), 2, 1),
    "random_sampler_replacement_type": lambda lib, d: d.RandomSampler(range(3), replacement=1),
    "random_sampler_num_samples": lambda lib, d: d.RandomSampler(range(3), num_samples=0),
    "random_sampler_empty": lambda lib, d: d.RandomSampler([]),
    "weighted_num_samples": lambda lib, d: d.WeightedRandomSampler([1.0, 2.0], 0),
    "weighted_replacement_type": lambda lib, d: d.WeightedRandomSampler([1.0], 1, 0),
    "weighted_2d": lambda lib, d: d.WeightedRandomSampler([[1.0, 2.0]], 1),
    "weighted_too_many_without_replacement": lambda lib, d: list(
        d.WeightedRandomSampler([1.0, 2.0], 3, replacement=False)
    ),
    "split_sum": lambda lib, d: d.random_split(range(5), [2, 2]),
    "split_fraction_range": lambda lib, d: d.random_split(range(5), [1.5, -0.5]),
    "tensor_dataset_sizes": lambda lib, d: d.TensorDataset(lib.ones(2), lib.ones(3)),
    "concat_empty": lambda lib, d: d.ConcatDataset([]),
    "concat_iterable": lambda lib, d: d.ConcatDataset([_iterable(d)]),
    "concat_index": lambda lib, d: d.ConcatDataset([range(2)])[-3],
    "chain_map_style": lambda lib, d: list(d.ChainDataset([range(2)])),
    "stack_both_kinds": lambda lib, d: d.StackDataset(range(2), b=range(2)),
    "stack_sizes": lambda lib, d: d.StackDataset(range(2), range(3)),
    "stack_nothing": lambda lib, d: d.StackDataset(),
    "dataset_getitem": lambda lib, d: d.Dataset()[0],
    "iterable_dataset_abstract": lambda lib, d: d.IterableDataset(),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error_equal_torch(name: str) -> None:
    (a, ad), (t, td) = libs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got, want = error_of(lambda: ERRORS[name](a, ad)), error_of(lambda: ERRORS[name](t, td))
    assert want is not None, "torch raised nothing: the case is wrong"
    assert got == want


def _warnings_of(fn: Any) -> list[tuple[type, str]]:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fn()
    return [(w.category, str(w.message)) for w in record]


WARNINGS: dict[str, Any] = {
    "split_empty_part": lambda lib, d: d.random_split(range(1), [0.5, 0.5]),
    "pin_memory_without_accelerator": lambda lib, d: list(
        d.DataLoader(_ds(lib, d), pin_memory=True)
    ),
    "cummulative_sizes": lambda lib, d: d.ConcatDataset([range(2)]).cummulative_sizes,
    "too_many_workers": lambda lib, d: d.DataLoader(
        _ds(lib, d), num_workers=len(os.sched_getaffinity(0)) + 1
    ),
}


@pytest.mark.parametrize("name", sorted(WARNINGS))
def test_warning_equal_torch(name: str) -> None:
    (a, ad), (t, td) = libs()
    got, want = (
        _warnings_of(lambda: WARNINGS[name](a, ad)),
        _warnings_of(lambda: WARNINGS[name](t, td)),
    )
    assert want, "torch warned nothing: the case is wrong"
    assert got == want
