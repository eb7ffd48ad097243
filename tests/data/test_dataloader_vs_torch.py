"""DataLoader, samplers and random_split side by side with PyTorch: the same seed gives the
same batches (values, order, dtypes), epoch after epoch, and leaves the global generator in
the same state."""

from __future__ import annotations

from typing import Any

import pytest
from data_helpers import both

pytest.importorskip("torch")

N = 10


def _xy(lib: Any) -> tuple[Any, Any]:
    return lib.arange(2.0 * N).reshape(N, 2), lib.arange(N)


def _gen(lib: Any, seed: int = 7) -> Any:
    g = lib.Generator()
    g.manual_seed(seed)
    return g


def _epochs(lib: Any, it: Any, n: int = 2) -> list[Any]:
    """``n`` passes over ``it`` then one global draw (the global generator's state must match)."""
    out = [list(it) for _ in range(n)]
    out.append(lib.randint(0, 1000, (3,)))
    return out


BUILT = ("sampler", "batch_sampler", "generator")  # given as (lib, data, dataset) -> object


def _loader(**kw: Any) -> Any:
    def program(lib: Any, data: Any) -> Any:
        lib.manual_seed(0)
        ds = data.TensorDataset(*_xy(lib))
        args = {k: v(lib, data, ds) if k in BUILT else v for k, v in kw.items()}
        return _epochs(lib, data.DataLoader(ds, **args))

    return program


def _seq_batches(lib: Any, data: Any, ds: Any) -> Any:
    return data.BatchSampler(data.RandomSampler(ds, generator=_gen(lib)), 4, False)


LOADERS: dict[str, Any] = {
    "sequential": _loader(batch_size=3),
    "shuffle_generator": _loader(
        batch_size=3, shuffle=True, generator=lambda lib, d, ds: _gen(lib)
    ),
    "shuffle_global": _loader(batch_size=4, shuffle=True),
    "shuffle_drop_last": _loader(batch_size=4, shuffle=True, drop_last=True),
    "no_autobatch": _loader(batch_size=None, shuffle=True),
    "batch_sampler": _loader(batch_sampler=_seq_batches),
    "replacement_sampler": _loader(
        batch_size=8,
        sampler=lambda lib, d, ds: d.RandomSampler(ds, replacement=True, num_samples=70),
    ),
    "num_samples_over_n": _loader(
        batch_size=6,
        sampler=lambda lib, d, ds: d.RandomSampler(ds, num_samples=25, generator=_gen(lib, 3)),
    ),
    "subset_random": _loader(
        batch_size=2, sampler=lambda lib, d, ds: d.SubsetRandomSampler([1, 3, 5, 7, 9])
    ),
    "weighted_replacement": _loader(
        batch_size=5,
        sampler=lambda lib, d, ds: d.WeightedRandomSampler([0.1, 0.9, 0.4, 0.7, 3.0, 0.6], 12),
    ),
    "weighted_no_replacement": _loader(
        batch_size=5,
        sampler=lambda lib, d, ds: d.WeightedRandomSampler(
            [0.9, 0.4, 0.05, 0.2, 0.3, 0.1, 1, 2, 3, 4],
            7,
            replacement=False,
            generator=_gen(lib, 11),
        ),
    ),
    "custom_collate": _loader(batch_size=3, shuffle=True, collate_fn=lambda b: b),
}


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_loader_batches_equal_torch(name: str) -> None:
    got, want = both(LOADERS[name])
    assert got == want


def _split(lengths: Any, with_generator: bool) -> Any:
    def program(lib: Any, data: Any) -> Any:
        lib.manual_seed(5)
        kw = {"generator": _gen(lib, 42)} if with_generator else {}
        parts = data.random_split(range(N + 3), lengths, **kw)
        return [list(p) for p in parts] + [[len(p) for p in parts], lib.rand(2)]

    return program


@pytest.mark.parametrize("with_generator", [True, False])
@pytest.mark.parametrize("lengths", [[5, 8], [0.3, 0.3, 0.4], [0.5, 0.5], [1.0]])
def test_random_split_equal_torch(lengths: Any, with_generator: bool) -> None:
    got, want = both(_split(lengths, with_generator))
    assert got == want


def test_split_then_loader_and_combinators() -> None:
    def program(lib: Any, data: Any) -> Any:
        lib.manual_seed(1)
        x, y = _xy(lib)
        train, test = data.random_split(data.TensorDataset(x, y), [0.7, 0.3])
        both_parts = train + test  # ConcatDataset
        stacked = data.StackDataset(a=train, b=data.Subset(train, list(range(len(train)))))
        out = _epochs(lib, data.DataLoader(both_parts, batch_size=4, shuffle=True))
        out += _epochs(lib, data.DataLoader(stacked, batch_size=3, shuffle=True), 1)
        tup = data.StackDataset(train, train)
        return out + [tup[2], both_parts[-1], len(both_parts), len(stacked)]

    got, want = both(program)
    assert got == want


def test_sampler_iteration_equal_torch() -> None:
    def program(lib: Any, data: Any) -> Any:
        lib.manual_seed(2)
        src = range(40)
        return [
            list(data.RandomSampler(src)),
            list(data.RandomSampler(src, replacement=True, num_samples=64, generator=_gen(lib))),
            list(data.RandomSampler(src, replacement=True, num_samples=33)),
            list(data.SequentialSampler(src)),
            list(data.BatchSampler(range(10), 3, True)),
            list(data.BatchSampler(data.SequentialSampler(src), 7, False)),
            len(data.BatchSampler(range(10), 3, True)),
            len(data.BatchSampler(range(10), 3, False)),
            len(data.RandomSampler(src, replacement=True, num_samples=5)),
            lib.rand(2),
        ]

    got, want = both(program)
    assert got == want


class _Count:
    """An IterableDataset of ``0..n-1`` (optionally reporting a length)."""

    @staticmethod
    def make(data: Any, n: int, length: int | None) -> Any:
        class Count(data.IterableDataset):
            def __iter__(self) -> Any:
                return iter(range(n))

            if length is not None:

                def __len__(self) -> int:
                    return length

        return Count()


def test_iterable_dataset_batches_and_len() -> None:
    def program(lib: Any, data: Any) -> Any:
        ds = _Count.make(data, 10, 10)
        chained = data.ChainDataset([ds, _Count.make(data, 4, 4)])
        out = [list(data.DataLoader(ds, batch_size=3)), len(data.DataLoader(ds, batch_size=3))]
        out += [list(data.DataLoader(ds, batch_size=3, drop_last=True))]
        out += [len(data.DataLoader(ds, batch_size=3, drop_last=True))]
        out += [list(data.DataLoader(ds, batch_size=None)), list(data.DataLoader(chained))]
        return out + [len(chained), len(data.DataLoader(chained, batch_size=None))]

    got, want = both(program)
    assert got == want


def test_iterable_dataset_longer_than_reported_warns_as_torch() -> None:
    def program(lib: Any, data: Any) -> Any:
        loader = data.DataLoader(_Count.make(data, 5, 3), batch_size=None)
        assert len(loader) == 3
        with pytest.warns(UserWarning) as record:
            batches = list(loader)
        texts = [str(w.message).split(" was reported")[1] for w in record]
        return batches, texts

    got, want = both(program)
    assert got == want
    assert len(got[1][1][1]) == 2  # two warnings: the 4th and 5th sample


def test_loader_lengths_equal_torch() -> None:
    def program(lib: Any, data: Any) -> Any:
        ds = data.TensorDataset(*_xy(lib))
        sizes = [(3, False), (3, True), (5, True), (None, False), (20, False), (20, True)]
        out = [len(data.DataLoader(ds, batch_size=b, drop_last=d)) for b, d in sizes]
        bs = data.BatchSampler(range(7), 2, False)
        return out + [len(data.DataLoader(ds, batch_sampler=bs))]

    got, want = both(program)
    assert got == want
